// One-time verification codes (DESIGN §5): six decimal digits drawn from
// libsodium's CSPRNG, kept only as a digest keyed with a random salt, and
// compared in constant time.
#ifndef ROSTER_SERVER_DOMAIN_VERIFICATION_CODES_H_
#define ROSTER_SERVER_DOMAIN_VERIFICATION_CODES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace roster::domain {

inline constexpr size_t kVerificationCodeDigits = 6;

// A fresh code, uniformly distributed over 000000–999999.
std::string NewVerificationCode();
// Whether `code` is kVerificationCodeDigits ASCII digits.
bool IsWellFormedVerificationCode(absl::string_view code);
// "<salt hex>:<BLAKE2b-256(code, key=salt) hex>".
std::string DigestVerificationCode(absl::string_view code);
// Whether `code` produces `digest`; constant time in the code.
bool VerificationCodeMatches(absl::string_view code, absl::string_view digest);

// The errors every code check gives, so each flow words them alike (DESIGN §7).
// INVALID_ARGUMENT (VERIFICATION_FAILED) with a `code` field violation.
absl::Status VerificationCodeIncorrect();
// The same, telling how many attempts the code has left (0: prepare a new one).
absl::Status VerificationCodeIncorrect(int32_t attempts_left);
// FAILED_PRECONDITION (VERIFICATION_EXPIRED).
absl::Status VerificationCodeExpired();

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_VERIFICATION_CODES_H_

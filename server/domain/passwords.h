// Passwords (DESIGN §3): the rules for a new password, and argon2id hashing
// through libsodium.
//
// Hashes are PHC strings from crypto_pwhash_str with opslimit 3 and memlimit 19
// MiB: above OWASP's argon2id recommendation (19 MiB with 2 iterations,
// parallelism 1). On the 2-core development machine one hash takes about 32 ms.
// Hashing and verifying are slow on purpose: callers run them on the hash pool,
// never on a gRPC thread or the write thread.
#ifndef ROSTER_SERVER_DOMAIN_PASSWORDS_H_
#define ROSTER_SERVER_DOMAIN_PASSWORDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace roster::domain {

inline constexpr size_t kMinPasswordBytes = 8;
inline constexpr size_t kMaxPasswordBytes = 256;
inline constexpr uint64_t kArgon2OpsLimit =
    3;  // crypto_pwhash takes unsigned long long.
inline constexpr size_t kArgon2MemLimit = size_t{19} << 20;

namespace reason {
inline constexpr char kPasswordTooShort[] = "PASSWORD_TOO_SHORT";
inline constexpr char kPasswordTooLong[] = "PASSWORD_TOO_LONG";
inline constexpr char kPasswordMatchesIdentifier[] =
    "PASSWORD_MATCHES_IDENTIFIER";
}  // namespace reason

// OK when `password` may be set for a user with `identifiers` (normalised
// emails, phones, username): 8–256 bytes and not equal, ignoring ASCII case, to
// any identifier. With `skip_checks` (imports of plaintext passwords) only the
// 256-byte bound applies. Errors are INVALID_ARGUMENT on field `password` with
// the reason; the message never contains it.
absl::Status CheckNewPassword(absl::string_view password, bool skip_checks,
                              const std::vector<std::string>& identifiers);

// An argon2id PHC string for `password`. Internal only if memory cannot be
// allocated.
absl::StatusOr<std::string> HashPassword(absl::string_view password);

// Whether `password` matches the argon2id `hash`. Takes as long as hashing.
bool VerifyPassword(absl::string_view hash, absl::string_view password);

// Spends about as long as VerifyPassword against a real hash, so a sign-in for
// an unknown identifier takes as long as one with a wrong password.
void VerifyNothing(absl::string_view password);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_PASSWORDS_H_

// Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits,
// 30-second steps, as every authenticator app reads an otpauth:// URI; the
// secret's base32 form (RFC 4648, no padding); the QR code of the URI as SVG
// (libqrencode); and single-use backup codes. Stateless and thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_TOTP_H_
#define ROSTER_SERVER_DOMAIN_TOTP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace roster::domain {

inline constexpr size_t kTotpSecretBytes = 20;  // 160 bits (DESIGN §10).
inline constexpr int64_t kTotpStepSeconds = 30;
inline constexpr size_t kTotpDigits = 6;
inline constexpr int kBackupCodeCount = 10;

// 20 fresh random bytes.
std::string NewTotpSecret();
std::string Base32Encode(absl::string_view bytes);
// The bytes of an RFC 4648 base32 text (upper or lower case, `=` padding and
// spaces allowed, as apps show secrets); nullopt for anything else.
std::optional<std::string> Base32Decode(absl::string_view text);

// The step `time` falls in.
int64_t TotpStepAt(absl::Time time);
// The code of `step` for `secret` (raw bytes).
std::string TotpCode(absl::string_view secret, int64_t step);
// Whether `code` is kTotpDigits ASCII digits.
bool IsWellFormedTotpCode(absl::string_view code);
// The step of `now`-1, `now` or `now`+1 whose code is `code`, skipping steps
// at or before `last_used_step` (each step's code is accepted once); nullopt
// when none. Compares in constant time.
std::optional<int64_t> MatchTotp(absl::string_view secret,
                                 absl::string_view code, absl::Time now,
                                 int64_t last_used_step);

// otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30
std::string TotpUri(absl::string_view secret, absl::string_view issuer,
                    absl::string_view account);
// `text` as a QR code (error correction M) in a standalone SVG document.
absl::StatusOr<std::string> QrCodeSvg(absl::string_view text);

// kBackupCodeCount fresh codes of 10 lower-case letters and digits.
std::vector<std::string> NewBackupCodes();
// Whether `code` could be a backup code (so bad input is refused before any
// digest work).
bool IsWellFormedBackupCode(absl::string_view code);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_TOTP_H_

// Normalisation and validation of user fields (DESIGN §3). Each function
// returns the normalised value, or InvalidArgument whose message describes the
// problem without repeating the value; callers attach it to the request field
// it came from.
#ifndef ROSTER_SERVER_DOMAIN_VALIDATION_H_
#define ROSTER_SERVER_DOMAIN_VALIDATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace roster::domain {

inline constexpr size_t kMaxEmailAddressBytes = 254;
inline constexpr size_t kMaxNameBytes = 256;
inline constexpr size_t kMaxExternalIdBytes = 256;
inline constexpr size_t kMaxRequestIdBytes = 128;

// Trimmed and lower-cased `local@domain`: ASCII, a dot-atom local part of at
// most 64 characters, a domain of at least two labels of [a-z0-9-], at most 254
// bytes in all.
absl::StatusOr<std::string> NormalizeEmailAddress(absl::string_view input);

// E.164: `+` then 8–15 digits, the first not 0. Spaces, dashes, dots and
// parentheses are removed.
absl::StatusOr<std::string> NormalizePhoneNumber(absl::string_view input);

// 4–64 characters of [a-z0-9_-] after lower-casing, not all digits.
absl::StatusOr<std::string> NormalizeUsername(absl::string_view input);

// A well-formed BCP 47 language tag (RFC 5646 `langtag`, e.g. `en`, `pt-BR`,
// `zh-Hant-TW`, `de-CH-1996`), at most 64 characters, in its canonical case:
// `sr-Latn-RS`. Grandfathered and private-use-only tags are refused.
absl::StatusOr<std::string> NormalizeLocale(absl::string_view input);

// Valid UTF-8 without control characters, at most `max_bytes`. Returned
// unchanged.
absl::StatusOr<std::string> ValidateText(absl::string_view input,
                                         size_t max_bytes);

// An idempotency key: 1–128 characters of [A-Za-z0-9._:-].
absl::StatusOr<std::string> ValidateRequestId(absl::string_view input);

// Whether `input` is well-formed UTF-8 (no overlong forms, surrogates or code
// points > U+10FFFF).
bool IsValidUtf8(absl::string_view input);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_VALIDATION_H_

// Password digests imported from other systems (DESIGN §3, ImportUsers):
// parsing, cost bounds, verification, and whether a stored hash should be
// replaced by a fresh argon2id one.
//
// A stored hash is self-describing: argon2 PHC strings (`$argon2id$…`,
// `$argon2i$…`), bcrypt
// (`$2a$`, `$2b$`, `$2y$`), Django's `pbkdf2_sha256$iterations$salt$base64`,
// and for bare hex digests a prefix: `md5$<hex>`, `sha256$<hex>`,
// `sha256_salted$<hex>$<salt>` (the hex is sha256(password + salt)).
#ifndef ROSTER_SERVER_DOMAIN_PASSWORD_DIGESTS_H_
#define ROSTER_SERVER_DOMAIN_PASSWORD_DIGESTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace roster::domain {

namespace reason {
inline constexpr char kPasswordDigestInvalid[] = "PASSWORD_DIGEST_INVALID";
}  // namespace reason

// Cost bounds: an imported hash must verify in about a second at most.
inline constexpr int kMaxBcryptCost = 14;
inline constexpr int64_t kMaxArgon2MemoryKiB = int64_t{128} * 1024;
inline constexpr int64_t kMaxArgon2Iterations = 16;
inline constexpr int64_t kMaxPbkdf2Iterations = 2'000'000;

// The hash to store for `digest` made by `hasher` (`bcrypt`, `argon2i`,
// `argon2id`, `pbkdf2_sha256`, `pbkdf2_sha512`, `md5`, `sha256`,
// `sha256_salted`). INVALID_ARGUMENT (PASSWORD_DIGEST_INVALID, field
// `password_digest` or `password_hasher`) when the hasher is unknown, the
// digest does not parse, or its cost is above the bounds.
absl::StatusOr<std::string> ImportDigest(absl::string_view hasher,
                                         absl::string_view digest);

// Whether `password` matches a stored hash of any supported kind (false for
// unknown kinds). Comparisons of derived values are constant-time.
bool VerifyStoredPassword(absl::string_view stored, absl::string_view password);

// Whether a stored hash should be replaced by a fresh argon2id hash after a
// successful check: anything but argon2id with at least Roster's parameters.
bool NeedsRehash(absl::string_view stored);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_PASSWORD_DIGESTS_H_

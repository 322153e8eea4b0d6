// Resource ids: a prefix plus 27 base62 characters encoding 4 bytes of seconds
// since the KSUID epoch (big-endian, so ids sort by creation time) followed by
// 16 random bytes (128 bits from the RandomSource), like KSUID. Also a short
// keyed-free fingerprint for request hashing.
#ifndef ROSTER_SERVER_DOMAIN_IDS_H_
#define ROSTER_SERVER_DOMAIN_IDS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "server/domain/clock.h"

namespace roster::domain {

inline constexpr char kUserIdPrefix[] = "user_";
inline constexpr char kIdentifierIdPrefix[] = "idn_";
inline constexpr char kImageIdPrefix[] = "img_";
inline constexpr char kExternalAccountIdPrefix[] = "eac_";
inline constexpr int kIdBodyLength = 27;

// Thread-safe when its sources are.
class IdGenerator {
 public:
  // Neither is owned; both must outlive the generator.
  IdGenerator(const Clock* clock, RandomSource* random)
      : clock_(clock), random_(random) {}

  // A new id such as `user_2Nq…`.
  std::string New(absl::string_view prefix) const;

 private:
  const Clock* clock_;    // Not owned.
  RandomSource* random_;  // Not owned.
};

// Whether `id` is `prefix` followed by exactly 27 base62 characters.
bool IsWellFormedId(absl::string_view id, absl::string_view prefix);

// `prefix` plus `length` uniformly random base62 characters: for secrets such
// as API keys.
std::string NewSecret(RandomSource& random, absl::string_view prefix,
                      int length);

// A 32-hex-character BLAKE2b digest of `data`: a stable fingerprint (not a
// secret).
std::string Fingerprint(absl::string_view data);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_IDS_H_

// TokenCache: the claims of session tokens already verified, so a client that
// sends the same token call after call pays for its Ed25519 signature and its
// JSON once. A hit still checks the token's lifetime against the clock, and
// the session behind it is still checked on every call
// (SessionService::CheckActive); only what cannot change for a given token
// and key set is remembered. At most `max_entries` tokens; a failed
// verification is never kept, so made-up tokens cannot fill it. Keyed by a
// BLAKE2b-256 of the token under a per-process random key: the table holds no
// token, and nobody can aim collisions at it. Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_TOKEN_CACHE_H_
#define ROSTER_SERVER_DOMAIN_TOKEN_CACHE_H_

#include <array>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/domain/tokens.h"

namespace roster::domain {

class TokenCache {
 public:
  explicit TokenCache(size_t max_entries = 10000);

  // The claims `token` was verified with, if it is here and WithinLifetime
  // at `now`.
  std::optional<TokenClaims> Find(absl::string_view token,
                                  absl::Time now) const;
  // Remembers a token that TokenVerifier::Verify accepted. When full, the
  // expired go first, then everything (refilled by the next calls).
  void Add(absl::string_view token, const TokenClaims& claims, absl::Time now);

  // Tokens held now: at most `max_entries`.
  size_t size() const;
  size_t max_entries() const { return max_entries_; }

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest DigestOf(absl::string_view token) const;

  const size_t max_entries_;
  std::array<unsigned char, 32> digest_key_{};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Digest, TokenClaims> claims_ ABSL_GUARDED_BY(mu_);
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_TOKEN_CACHE_H_

#include "server/domain/token_cache.h"

#include <sodium.h>

namespace roster::domain {

TokenCache::TokenCache(size_t max_entries) : max_entries_(max_entries) {
  randombytes_buf(digest_key_.data(), digest_key_.size());
}

TokenCache::Digest TokenCache::DigestOf(absl::string_view token) const {
  Digest digest;
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), digest_key_.data(), digest_key_.size());
  return digest;
}

std::optional<TokenClaims> TokenCache::Find(absl::string_view token,
                                            absl::Time now) const {
  const Digest digest = DigestOf(token);
  absl::MutexLock lock(&mu_);
  auto it = claims_.find(digest);
  if (it == claims_.end() || !WithinLifetime(it->second, now)) {
    return std::nullopt;
  }
  return it->second;
}

void TokenCache::Add(absl::string_view token, const TokenClaims& claims,
                     absl::Time now) {
  const Digest digest = DigestOf(token);
  absl::MutexLock lock(&mu_);
  if (claims_.size() >= max_entries_) {
    absl::erase_if(claims_, [&](const auto& entry) {
      return now - kTokenLeeway >= entry.second.expires_at;
    });
    if (claims_.size() >= max_entries_) {
      claims_.clear();
    }
  }
  claims_.insert_or_assign(digest, claims);
}

size_t TokenCache::size() const {
  absl::MutexLock lock(&mu_);
  return claims_.size();
}

}  // namespace roster::domain

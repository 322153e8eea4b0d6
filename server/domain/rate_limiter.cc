#include "server/domain/rate_limiter.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"

namespace roster::domain {

RateLimiter::RateLimiter(absl::string_view counted, int limit,
                         absl::Duration window, size_t max_keys)
    : refusal_message_(absl::StrCat("too many ", counted, "; try again later")),
      limit_(limit),
      window_(window),
      max_keys_(max_keys) {
  randombytes_buf(hash_key_.data(), hash_key_.size());
}

uint64_t RateLimiter::Hash(absl::string_view key) const {
  static_assert(crypto_shorthash_BYTES == sizeof(uint64_t));
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(key.data()),
                   key.size(), hash_key_.data());
  uint64_t hash = 0;
  for (unsigned char byte : out) {
    hash = (hash << 8) | byte;
  }
  return hash;
}

absl::Status RateLimiter::Refusal(const Window& window, absl::Time now) const {
  return TooManyAttempts(refusal_message_, window.start + window_ - now);
}

absl::Status RateLimiter::Check(absl::string_view key, absl::Time now) const {
  const uint64_t hash = Hash(key);
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(hash);
  if (it == windows_.end() || now >= it->second.start + window_ ||
      it->second.count < limit_) {
    return absl::OkStatus();
  }
  return Refusal(it->second, now);
}

RateLimiter::Window& RateLimiter::WindowFor(uint64_t hash, absl::Time now) {
  auto it = windows_.find(hash);
  if (it == windows_.end()) {
    if (windows_.size() >= max_keys_) {
      MakeRoom(now);
    }
    return windows_.emplace(hash, Window{now, 0}).first->second;
  }
  if (now >= it->second.start + window_) {
    it->second = Window{now, 0};
  }
  return it->second;
}

void RateLimiter::Record(absl::string_view key, absl::Time now) {
  const uint64_t hash = Hash(key);
  absl::MutexLock lock(&mu_);
  ++WindowFor(hash, now).count;
}

absl::Status RateLimiter::Acquire(absl::string_view key, absl::Time now) {
  const uint64_t hash = Hash(key);
  absl::MutexLock lock(&mu_);
  Window& window = WindowFor(hash, now);
  if (window.count >= limit_) {
    return Refusal(window, now);
  }
  ++window.count;
  return absl::OkStatus();
}

void RateLimiter::Release(absl::string_view key) {
  const uint64_t hash = Hash(key);
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(hash);
  if (it != windows_.end() && it->second.count > 0) {
    --it->second.count;
  }
}

void RateLimiter::MakeRoom(absl::Time now) {
  // Amortised: a full sweep frees every ended window at once.
  absl::erase_if(windows_, [&](const auto& entry) {
    return now >= entry.second.start + window_;
  });
  if (windows_.size() < max_keys_) {
    return;
  }
  auto oldest = windows_.begin();
  for (auto it = windows_.begin(); it != windows_.end(); ++it) {
    if (it->second.start < oldest->second.start) {
      oldest = it;
    }
  }
  windows_.erase(oldest);
}

size_t RateLimiter::keys() const {
  absl::MutexLock lock(&mu_);
  return windows_.size();
}

}  // namespace roster::domain

// RateLimiter: counts events per key in fixed windows, in memory, with a
// bounded number of keys, so whatever keys an attacker makes up cost at most
// `max_keys` entries (DESIGN §14). Keys are hashed with a per-process random
// SipHash key: the table stores no identifier or address, and nobody can aim
// collisions at it. Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_RATE_LIMITER_H_
#define ROSTER_SERVER_DOMAIN_RATE_LIMITER_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace roster::domain {

class RateLimiter {
 public:
  // At most `limit` events per key in each `window`; at most `max_keys` keys
  // (when full, windows that ended are dropped, then the oldest). `counted`
  // names the events for the refusal, e.g. "sign-ups from this address".
  RateLimiter(absl::string_view counted, int limit, absl::Duration window,
              size_t max_keys = 100000);

  // OK while `key` has had fewer than `limit` events in its window;
  // TooManyAttempts ("too many <counted>", with the time left in the window)
  // otherwise.
  absl::Status Check(absl::string_view key, absl::Time now) const;
  // Counts one event for `key`.
  void Record(absl::string_view key, absl::Time now);
  // Check, and when OK Record, at once.
  absl::Status Acquire(absl::string_view key, absl::Time now);
  // Takes back one event Acquired for `key` that turned out not to count.
  void Release(absl::string_view key);

  // Keys held now (at most `max_keys`): how full the table is, for metrics.
  size_t keys() const;
  size_t max_keys() const { return max_keys_; }

 private:
  struct Window {
    absl::Time start;
    int count = 0;
  };
  uint64_t Hash(absl::string_view key) const;
  // The current window of `hash`, made (or restarted) empty when needed.
  Window& WindowFor(uint64_t hash, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MakeRoom(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The refusal, with the time left in the window that refuses.
  absl::Status Refusal(const Window& window, absl::Time now) const;

  const std::string refusal_message_;
  const int limit_;
  const absl::Duration window_;
  const size_t max_keys_;
  std::array<unsigned char, 16> hash_key_{};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_RATE_LIMITER_H_

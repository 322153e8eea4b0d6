// Hermetic time and randomness for tests: a clock that moves only when told,
// one that runs but can be moved ahead, and a deterministic random source.
#ifndef ROSTER_TESTS_TESTING_FAKES_H_
#define ROSTER_TESTS_TESTING_FAKES_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/domain/clock.h"

namespace roster::testing {

// Thread-safe.
class FakeClock final : public domain::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'750'000'000))
      : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// The system clock plus an offset a test moves forward: time passes as usual
// (so ids and timestamps keep their order) and a test jumps ahead instead of
// sleeping. Thread-safe.
class OffsetClock final : public domain::Clock {
 public:
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return absl::Now() + offset_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    offset_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_);
};

// A splitmix64 sequence from a seed. Thread-safe.
class SeededRandom final : public domain::RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  void Fill(absl::Span<uint8_t> out) override {
    absl::MutexLock lock(&mu_);
    for (auto& byte : out) {
      state_ += 0x9E3779B97F4A7C15ULL;
      uint64_t z = state_;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      byte = static_cast<uint8_t>(z ^ (z >> 31));
    }
  }

 private:
  absl::Mutex mu_;
  uint64_t state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_FAKES_H_

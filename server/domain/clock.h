// Time and randomness sources, injected so domain tests are hermetic (a fake
// clock, a seeded random source) while production uses the system clock and
// libsodium's CSPRNG.
#ifndef ROSTER_SERVER_DOMAIN_CLOCK_H_
#define ROSTER_SERVER_DOMAIN_CLOCK_H_

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace roster::domain {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The real wall clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// Thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills `out` with random bytes.
  virtual void Fill(absl::Span<uint8_t> out) = 0;
};

// libsodium's randombytes_buf: a CSPRNG seeded by the kernel. Thread-safe.
class SystemRandom final : public RandomSource {
 public:
  // Initialises libsodium (idempotent); aborts if the system has no entropy
  // source.
  SystemRandom();
  void Fill(absl::Span<uint8_t> out) override;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_CLOCK_H_

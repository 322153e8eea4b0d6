#include "server/domain/rate_limiter.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"

namespace roster::domain {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(RateLimiterTest, RefusesPastTheLimitUntilTheWindowEnds) {
  RateLimiter limiter("failed attempts", 3, absl::Minutes(15));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Check("ada", kStart).ok());
    limiter.Record("ada", kStart + absl::Seconds(i));
  }
  const absl::Status refused = limiter.Check("ada", kStart + absl::Minutes(5));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ReasonOf(refused), reason::kTooManyAttempts);
  EXPECT_EQ(RetryAfterOf(refused), absl::Minutes(10));
  EXPECT_EQ(refused.message(), "too many failed attempts; try again later");
  EXPECT_TRUE(limiter.Check("eve", kStart + absl::Minutes(5)).ok());
  EXPECT_TRUE(limiter.Check("ada", kStart + absl::Minutes(15)).ok());
  limiter.Record("ada", kStart + absl::Minutes(15));  // A new window.
  EXPECT_TRUE(limiter.Check("ada", kStart + absl::Minutes(16)).ok());
}

TEST(RateLimiterTest, AReleasedEventNoLongerCounts) {
  RateLimiter limiter("sign-ups from this address", 2, absl::Hours(1));
  ASSERT_TRUE(limiter.Acquire("office", kStart).ok());
  ASSERT_TRUE(limiter.Acquire("office", kStart).ok());
  const absl::Status refused = limiter.Acquire("office", kStart);
  EXPECT_EQ(refused.message(),
            "too many sign-ups from this address; try again later");
  limiter.Release("office");
  EXPECT_TRUE(limiter.Acquire("office", kStart + absl::Minutes(1)).ok());
  EXPECT_FALSE(limiter.Acquire("office", kStart + absl::Minutes(1)).ok());
  // Nothing is taken back past zero, or for a key never counted.
  for (int i = 0; i < 3; ++i) {
    limiter.Release("office");
  }
  limiter.Release("elsewhere");
  EXPECT_EQ(limiter.keys(), 1u);
  EXPECT_TRUE(limiter.Acquire("office", kStart + absl::Minutes(2)).ok());
  EXPECT_TRUE(limiter.Acquire("office", kStart + absl::Minutes(2)).ok());
  EXPECT_FALSE(limiter.Acquire("office", kStart + absl::Minutes(2)).ok());
}

// Made-up keys cost at most max_keys entries, whatever their number.
TEST(RateLimiterTest, HoldsAtMostMaxKeys) {
  RateLimiter limiter("attempts", 5, absl::Minutes(15), /*max_keys=*/100);
  for (int i = 0; i < 10000; ++i) {
    limiter.Record(absl::StrCat("attacker-", i),
                   kStart + absl::Milliseconds(i));
  }
  EXPECT_LE(limiter.keys(), 100u);
  // Ended windows are dropped first.
  limiter.Record("later", kStart + absl::Hours(1));
  EXPECT_EQ(limiter.keys(), 1u);
}

}  // namespace
}  // namespace roster::domain

#include "server/domain/lockout.h"

#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace roster::domain {
namespace {

constexpr storage::Micros kOneMinute = 60'000'000;
constexpr storage::Micros kFirstFailure = 1'800'000'000'000'000;

UserServiceOptions Options() {
  UserServiceOptions options;
  options.lockout_attempts = 3;
  options.lockout_duration = absl::Hours(1);
  return options;
}

TEST(LockoutTest, TheFailureThatReachesTheLimitLocksForTheDuration) {
  FailureCount count;
  EXPECT_EQ(ReserveCheck(count, kFirstFailure, Options()),
            Reservation::kCounted);
  EXPECT_EQ(ReserveCheck(count, kFirstFailure + 1, Options()),
            Reservation::kCounted);
  EXPECT_EQ(ReserveCheck(count, kFirstFailure + 2, Options()),
            Reservation::kLastOne);
  EXPECT_EQ(count.failures, 3);
  EXPECT_EQ(count.locked_until, kFirstFailure + 2 + 60 * kOneMinute);
  const FailureCount locked = count;
  EXPECT_EQ(ReserveCheck(count, kFirstFailure + 59 * kOneMinute, Options()),
            Reservation::kRefused);
  EXPECT_EQ(count.failures, locked.failures);  // Refusals change nothing.
  EXPECT_EQ(count.last_failed_at, locked.last_failed_at);
  EXPECT_EQ(FailuresAt(count, kFirstFailure + 59 * kOneMinute, Options()), 3);
  // Once it runs out, a fresh count.
  EXPECT_EQ(FailuresAt(count, kFirstFailure + 2 + 60 * kOneMinute, Options()),
            0);
  EXPECT_EQ(ReserveCheck(count, kFirstFailure + 2 + 60 * kOneMinute, Options()),
            Reservation::kCounted);
  EXPECT_EQ(count.failures, 1);
  EXPECT_EQ(count.locked_until, 0);
}

TEST(LockoutTest, AQuietLockoutDurationForgetsTheFailures) {
  FailureCount count;
  ASSERT_EQ(ReserveCheck(count, kFirstFailure, Options()),
            Reservation::kCounted);
  ASSERT_EQ(ReserveCheck(count, kFirstFailure + 30 * kOneMinute, Options()),
            Reservation::kCounted);
  // An hour after the first failure, but not after the last: they count.
  EXPECT_EQ(FailuresAt(count, kFirstFailure + 89 * kOneMinute, Options()), 2);
  EXPECT_EQ(FailuresAt(count, kFirstFailure + 90 * kOneMinute, Options()), 2);
  EXPECT_EQ(FailuresAt(count, kFirstFailure + 90 * kOneMinute + 1, Options()),
            0);
  EXPECT_EQ(ReserveCheck(count, kFirstFailure + 90 * kOneMinute + 1, Options()),
            Reservation::kCounted);
  EXPECT_EQ(count.failures, 1);
}

TEST(LockoutTest, AttemptsUsedUpWithoutALockoutLockAtOnce) {
  // Left by a lowered --lockout_attempts.
  FailureCount count{5, 0, kFirstFailure};
  EXPECT_EQ(ReserveCheck(count, kFirstFailure + kOneMinute, Options()),
            Reservation::kLockedNow);
  EXPECT_EQ(count.failures, 5);
  EXPECT_EQ(count.locked_until, kFirstFailure + 61 * kOneMinute);
  EXPECT_EQ(ReserveCheck(count, kFirstFailure + 2 * kOneMinute, Options()),
            Reservation::kRefused);
}

TEST(LockoutTest, UnknownIdentifierKeysAreDigestsOfKindAndValue) {
  using storage::IdentifierKind;
  const std::string key =
      UnknownIdentifierKey(IdentifierKind::kEmailAddress, "ada@example.com");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find("ada"), std::string::npos);
  EXPECT_EQ(key, UnknownIdentifierKey(IdentifierKind::kEmailAddress,
                                      "ada@example.com"));
  EXPECT_NE(key,
            UnknownIdentifierKey(IdentifierKind::kUsername, "ada@example.com"));
  EXPECT_NE(key, UnknownIdentifierKey(IdentifierKind::kEmailAddress,
                                      "bob@example.com"));
}

}  // namespace
}  // namespace roster::domain

// KeptAnswer: when a provider's answer is fetched and when callers get what
// is kept, a failure, or a wait; a fake clock moves its intervals.
#include "server/oauth/kept_answer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "tests/testing/fakes.h"

namespace roster::oauth {
namespace {

constexpr absl::Duration kLifetime = absl::Hours(24);
constexpr absl::Duration kRefreshInterval = absl::Minutes(1);
constexpr absl::Duration kRetry = absl::Seconds(30);

class KeptAnswerTest : public ::testing::Test {
 protected:
  // A fetch that answers `answer_` (or `failure_`, when not OK) and counts.
  absl::StatusOr<std::string> Fetch() {
    ++fetches_;
    if (!failure_.ok()) {
      return failure_;
    }
    return answer_;
  }
  absl::StatusOr<std::string> Get(bool refresh = false) {
    return kept_.Get([this] { return Fetch(); }, absl::InfiniteFuture(),
                     refresh);
  }

  testing::FakeClock clock_;
  KeptAnswer<std::string> kept_{
      "the answer", {kLifetime, kRefreshInterval, kRetry}, &clock_};
  std::string answer_ = "first";
  absl::Status failure_;
  std::atomic<int> fetches_ = 0;
};

TEST_F(KeptAnswerTest, AnAnswerIsKeptForItsLifetime) {
  EXPECT_EQ(*Get(), "first");
  answer_ = "second";
  clock_.Advance(kLifetime - absl::Seconds(1));
  EXPECT_EQ(*Get(), "first");
  EXPECT_EQ(fetches_, 1);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*Get(), "second");
  EXPECT_EQ(fetches_, 2);
}

// A caller that finds the answer wanting (a JWK Set without the token's key)
// has it fetched again, but no more often than the refresh interval.
TEST_F(KeptAnswerTest, ARefreshIsFetchedAtMostOnceAnInterval) {
  EXPECT_EQ(*Get(), "first");
  answer_ = "second";
  EXPECT_EQ(*Get(/*refresh=*/true), "first");
  EXPECT_EQ(fetches_, 1);
  clock_.Advance(kRefreshInterval);
  EXPECT_EQ(*Get(/*refresh=*/true), "second");
  EXPECT_EQ(*Get(/*refresh=*/true), "second");
  EXPECT_EQ(fetches_, 2);
}

// In an outage, callers are told of the last failure at once, and the
// provider is asked again only once the retry interval has passed.
TEST_F(KeptAnswerTest, AFailureIsTheAnswerForTheRetryInterval) {
  failure_ = absl::UnavailableError("down");
  EXPECT_EQ(Get().status(), failure_);
  clock_.Advance(kRetry - absl::Seconds(1));
  EXPECT_EQ(Get().status(), failure_);
  EXPECT_EQ(Get(/*refresh=*/true).status(), failure_);
  EXPECT_EQ(fetches_, 1);
  failure_ = absl::OkStatus();
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*Get(), "first");
  EXPECT_EQ(fetches_, 2);
}

// A provider briefly down does not take away what was kept: callers get it,
// and the retry interval still spares the provider.
TEST_F(KeptAnswerTest, AFailedFetchLeavesWhatIsKept) {
  EXPECT_EQ(*Get(), "first");
  clock_.Advance(kLifetime);
  failure_ = absl::UnavailableError("down");
  EXPECT_EQ(*Get(), "first");
  EXPECT_EQ(*Get(/*refresh=*/true), "first");
  EXPECT_EQ(fetches_, 2);
  clock_.Advance(kRetry);
  failure_ = absl::OkStatus();
  answer_ = "second";
  EXPECT_EQ(*Get(), "second");
  EXPECT_EQ(fetches_, 3);
}

// With nothing kept, callers that come while the first fetch is under way
// wait for it and share its answer: the provider is asked once.
TEST_F(KeptAnswerTest, CallersWithNothingKeptShareTheFirstFetch) {
  absl::Notification fetching;
  absl::Notification answer;
  std::thread first([&] {
    EXPECT_EQ(*kept_.Get([&]() -> absl::StatusOr<std::string> {
      fetching.Notify();
      answer.WaitForNotification();
      ++fetches_;
      return std::string("shared");
    }),
              "shared");
  });
  fetching.WaitForNotification();
  std::vector<std::thread> others;
  for (int i = 0; i < 4; ++i) {
    others.emplace_back([&] { EXPECT_EQ(*Get(), "shared"); });
  }
  answer.Notify();
  first.join();
  for (std::thread& other : others) {
    other.join();
  }
  EXPECT_EQ(fetches_, 1);
}

// A caller waiting for another's first fetch leaves when its deadline passes.
TEST_F(KeptAnswerTest, AWaitingCallerLeavesAtItsDeadline) {
  absl::Notification fetching;
  absl::Notification answer;
  std::thread first([&] {
    EXPECT_TRUE(kept_
                    .Get([&]() -> absl::StatusOr<std::string> {
                      fetching.Notify();
                      answer.WaitForNotification();
                      return std::string("late");
                    })
                    .ok());
  });
  fetching.WaitForNotification();
  const absl::StatusOr<std::string> waited = kept_.Get(
      [this] { return Fetch(); }, absl::Now() + absl::Milliseconds(20));
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(fetches_, 0);
  answer.Notify();
  first.join();
}

// While what is kept is fetched again, the others are not held up by it.
TEST_F(KeptAnswerTest, WhileOneFetchesAgainOthersGetWhatIsKept) {
  EXPECT_EQ(*Get(), "first");
  clock_.Advance(kLifetime);
  absl::Notification fetching;
  absl::Notification answer;
  std::thread rereading([&] {
    EXPECT_EQ(*kept_.Get([&]() -> absl::StatusOr<std::string> {
      fetching.Notify();
      answer.WaitForNotification();
      return std::string("second");
    }),
              "second");
  });
  fetching.WaitForNotification();
  EXPECT_EQ(*Get(), "first");
  EXPECT_EQ(fetches_, 1);
  answer.Notify();
  rereading.join();
  EXPECT_EQ(*Get(), "second");
}

}  // namespace
}  // namespace roster::oauth

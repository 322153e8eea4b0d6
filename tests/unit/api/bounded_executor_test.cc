#include "server/api/bounded_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "server/api/call_context.h"

namespace roster::api {
namespace {

using Lane = BoundedExecutor::Lane;

// A flood of unauthenticated work fills its own queue only: authenticated
// callers still get places, and run first (DESIGN §14).
TEST(BoundedExecutorTest, UnauthenticatedWorkHasAQueueOfItsOwn) {
  absl::Notification started;
  absl::Notification release;
  std::vector<int> order;
  std::atomic<int> ran{0};
  {
    BoundedExecutor executor(/*threads=*/1, /*max_queued=*/4);
    ASSERT_TRUE(executor.Submit([&] {
      started.Notify();
      release.WaitForNotification();
    }));
    started.WaitForNotification();  // The worker is busy; the queues are empty.
    int refused = 0;
    for (int i = 0; i < 10; ++i) {
      refused += executor.Submit(
                     [&] {
                       order.push_back(0);
                       ++ran;
                     },
                     Lane::kUnauthenticated)
                     ? 0
                     : 1;
    }
    EXPECT_EQ(refused, 6);
    for (int i = 0; i < 4; ++i) {
      EXPECT_TRUE(executor.Submit([&] {
        order.push_back(1);
        ++ran;
      })) << i;
    }
    EXPECT_FALSE(executor.Submit([] {}));  // Its own bound holds too.
    release.Notify();
  }  // Runs what is queued, then joins.
  EXPECT_EQ(ran.load(), 8);
  EXPECT_EQ(order, (std::vector<int>{1, 1, 1, 1, 0, 0, 0, 0}));
}

// Callers racing for the last places of a bound get exactly that many, and a
// place given back can be taken again.
TEST(WaitingCallsTest, RacingCallersGetExactlyTheBound) {
  constexpr int kMax = 100, kThreads = 8, kTriesPerThread = 50;
  WaitingCalls waiting(kMax);
  std::atomic<int> admitted{0};
  std::vector<std::thread> callers;
  callers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < kTriesPerThread; ++i) {
        if (waiting.TryAdd()) {
          ++admitted;
        }
      }
    });
  }
  for (auto& c : callers) {
    c.join();
  }
  EXPECT_EQ(admitted.load(), kMax);
  EXPECT_EQ(waiting.count(), kMax);
  EXPECT_FALSE(waiting.TryAdd());
  waiting.Remove();
  EXPECT_TRUE(waiting.TryAdd());
  EXPECT_FALSE(waiting.TryAdd());
}

}  // namespace
}  // namespace roster::api

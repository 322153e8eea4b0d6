// A value handed over through absl::Notification is the waiter's to read, also
// when the waiter finds the notification already given. PgReadBatch hands a
// batch's lead to a waiting call this way. Under ThreadSanitizer
// (`make test-tsan`) this is the check that tests/testing/tsan_absl_mutex.cc
// shows TSan the hand-off: Debian's Abseil decides "already notified" by an
// atomic load TSan cannot see, and would otherwise report the read as a race.
#include <gtest/gtest.h>

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace roster::storage {
namespace {

// Returns once `ready` is given, by a load TSan does not see (the header's
// inline code is not instrumented), so the wait that follows takes the
// already-notified path.
void SpinUntilNotified(const absl::Notification& ready) {
  while (!ready.HasBeenNotified()) {
    std::this_thread::yield();
  }
}

TEST(NotificationHandoffTest, AWaiterThatFindsItGivenSeesTheNotifiersWrites) {
  int handed = 0;
  absl::Notification ready;
  std::thread notifier([&] {
    handed = 42;
    ready.Notify();
  });
  SpinUntilNotified(ready);
  ready.WaitForNotification();
  EXPECT_EQ(handed, 42);
  notifier.join();
}

TEST(NotificationHandoffTest, ATimedWaitThatFindsItGivenSeesTheWritesToo) {
  int handed = 0;
  absl::Notification ready;
  std::thread notifier([&] {
    handed = 7;
    ready.Notify();
  });
  SpinUntilNotified(ready);
  ASSERT_TRUE(ready.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_EQ(handed, 7);
  notifier.join();
}

}  // namespace
}  // namespace roster::storage

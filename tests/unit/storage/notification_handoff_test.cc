// A value handed over through absl::Notification is the waiter's to read, also
// when the waiter finds the notification already given. PgReadBatch hands a
// batch's lead to a waiting call this way. Under ThreadSanitizer
// (`make test-tsan`) this is the check that tests/testing/tsan_absl_mutex.cc
// shows TSan the hand-off: Debian's Abseil decides "already notified" by an
// atomic load TSan cannot see, and would otherwise report the read as a race.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace roster::storage {
namespace {

// What a thread wrote before notifying, read after `wait` returned. The
// reader first spins until the notification is given, by a load TSan does not
// see (the header's inline code is not instrumented), so `wait` takes the
// already-notified path.
int ReadAfter(const std::function<void(const absl::Notification&)>& wait) {
  int handed = 0;
  absl::Notification ready;
  std::thread notifier([&] {
    handed = 42;
    ready.Notify();
  });
  while (!ready.HasBeenNotified()) {
    std::this_thread::yield();
  }
  wait(ready);
  const int read = handed;
  notifier.join();
  return read;
}

TEST(NotificationHandoffTest, AWaiterThatFindsItGivenSeesTheNotifiersWrites) {
  EXPECT_EQ(ReadAfter([](const absl::Notification& ready) {
              ready.WaitForNotification();
            }),
            42);
}

TEST(NotificationHandoffTest, ATimedWaitThatFindsItGivenSeesTheWritesToo) {
  EXPECT_EQ(
      ReadAfter([](const absl::Notification& ready) {
        EXPECT_TRUE(ready.WaitForNotificationWithTimeout(absl::Seconds(1)));
      }),
      42);
}

}  // namespace
}  // namespace roster::storage

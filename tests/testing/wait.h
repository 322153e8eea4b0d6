// Waiting on a condition a test cannot be told about (another process's file,
// a server's in-flight gauge, a certificate reloaded from disk): poll it,
// never sleep a fixed time and hope.
#ifndef ROSTER_TESTS_TESTING_WAIT_H_
#define ROSTER_TESTS_TESTING_WAIT_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace roster::testing {

// Calls `done` until it returns true or `timeout` has passed, every 10 ms;
// returns its last answer.
template <typename Condition>
bool WaitUntil(Condition done, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) {
      return false;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_WAIT_H_

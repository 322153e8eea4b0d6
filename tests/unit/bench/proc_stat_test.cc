#include "tests/testing/proc_stat.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace roster::testing {
namespace {

// Burns `seconds` of this process's CPU.
void Spin(double seconds) {
  const clock_t until =
      clock() + static_cast<clock_t>(seconds * CLOCKS_PER_SEC);
  volatile uint64_t sink = 0;
  while (clock() < until) {
    sink = sink + 1;
  }
}

// A child that spins, then waits to be killed: its CPU counts in its
// parent's tree while it lives, and after it ended and was waited for.
TEST(TreeCpuSecondsTest, CountsAChildAliveAndEnded) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Spin(0.3);
    const char byte = 1;
    (void)!write(ready[1], &byte, 1);
    pause();
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  close(ready[1]);

  const double alive = TreeCpuSeconds(getpid()) - CpuSeconds(getpid());
  EXPECT_GE(alive, 0.25);

  ASSERT_EQ(kill(child, SIGKILL), 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  const double ended = TreeCpuSeconds(getpid()) - CpuSeconds(getpid());
  EXPECT_GE(ended, alive - 0.02);
}

TEST(TreeCpuSecondsTest, UnknownProcessIsMinusOne) {
  EXPECT_EQ(TreeCpuSeconds(0), -1);
  EXPECT_EQ(CpuSeconds(0), -1);
}

}  // namespace
}  // namespace roster::testing

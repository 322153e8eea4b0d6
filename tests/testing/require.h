// What a test needs from the machine (a PostgreSQL cluster, a tmpfs mount,
// /proc): without it the test skips with the reason, except under CI
// (CI=true), where it fails, so CI can never pass by skipping.
#ifndef ROSTER_TESTS_TESTING_REQUIRE_H_
#define ROSTER_TESTS_TESTING_REQUIRE_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace roster::testing {

inline bool UnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace roster::testing

// Skips the test, or fails it under CI, when `reason` is not empty.
#define ROSTER_REQUIRE(reason)                                        \
  do {                                                                \
    const std::string roster_require_reason = (reason);               \
    if (!roster_require_reason.empty()) {                             \
      if (::roster::testing::UnderCi()) {                             \
        FAIL() << "CI must run this test: " << roster_require_reason; \
      }                                                               \
      GTEST_SKIP() << roster_require_reason;                          \
    }                                                                 \
  } while (false)

#endif  // ROSTER_TESTS_TESTING_REQUIRE_H_

// GoogleTest matchers for absl::Status and absl::StatusOr: IsOk() and
// StatusIs(code).
#ifndef ROSTER_TESTS_TESTING_STATUS_MATCHERS_H_
#define ROSTER_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace roster::testing {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << status;
  return status.ok();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << status;
  return status.code() == code;
}

MATCHER_P(IsOkAndHolds, value,
          "is OK and holds " + ::testing::PrintToString(value)) {
  if (!arg.ok()) {
    *result_listener << arg.status();
    return false;
  }
  *result_listener << "holds " << ::testing::PrintToString(*arg);
  return *arg == value;
}

// Unwraps a StatusOr that the test requires to be OK.
// `lhs` names a new variable, so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ASSERT_OK_AND_ASSIGN(lhs, expr)            \
  auto lhs##_or = (expr);                          \
  ASSERT_TRUE(lhs##_or.ok()) << lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_STATUS_MATCHERS_H_

// RunTool: a command-line tool's answer, for tests that check Roster with a
// program independent of it (oathtool, ss).
#ifndef ROSTER_TESTS_TESTING_RUN_TOOL_H_
#define ROSTER_TESTS_TESTING_RUN_TOOL_H_

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"

namespace roster::testing {

// The stdout of `command`, trimmed; fails the test when it fails.
inline std::string RunTool(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe == nullptr) {
    return "";
  }
  std::string out;
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    out += buffer;
  }
  EXPECT_EQ(pclose(pipe), 0)
      << command << " (the tools tests run come from scripts/bootstrap.sh)";
  return std::string(absl::StripAsciiWhitespace(out));
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_RUN_TOOL_H_

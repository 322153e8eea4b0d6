// A process's resident memory and CPU time, read from /proc. Header-only and
// free of test fixtures, so the load tools (roster-bench, roster-abuse) use
// it as the tests do.
#ifndef ROSTER_TESTS_TESTING_PROC_STAT_H_
#define ROSTER_TESTS_TESTING_PROC_STAT_H_

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace roster::testing {

// A KiB figure of /proc/<pid>/status (`field` like "VmRSS:"), or -1.
inline int64_t StatusKib(pid_t pid, absl::string_view field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, field)) {
      return std::atol(line.c_str() + field.size());
    }
  }
  return -1;
}

// Resident set of `pid` in KiB, from /proc.
inline int64_t RssKib(pid_t pid) { return StatusKib(pid, "VmRSS:"); }
// The most `pid` has ever had resident, in KiB.
inline int64_t PeakRssKib(pid_t pid) { return StatusKib(pid, "VmHWM:"); }

// CPU time (user and system) `pid` has used so far, in seconds; -1 if
// unknown.
inline double CpuSeconds(pid_t pid) {
  if (pid <= 0) {
    return -1;
  }
  std::ifstream stat_file(absl::StrCat("/proc/", pid, "/stat"));
  const std::string stat((std::istreambuf_iterator<char>(stat_file)),
                         std::istreambuf_iterator<char>());
  // Fields after the command name, which may hold spaces, end in ')'.
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 2 > stat.size()) {
    return -1;
  }
  const std::vector<std::string> fields =
      absl::StrSplit(stat.substr(name_end + 2), ' ', absl::SkipEmpty());
  int64_t user_ticks = 0;
  int64_t system_ticks = 0;
  // utime and stime are fields 14 and 15 of proc(5); fields[0] is field 3.
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &user_ticks) ||
      !absl::SimpleAtoi(fields[12], &system_ticks)) {
    return -1;
  }
  return static_cast<double>(user_ticks + system_ticks) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_PROC_STAT_H_

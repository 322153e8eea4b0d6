// A process's resident memory and CPU time, and a process tree's CPU time,
// read from /proc. Header-only and
// free of test fixtures, so the load tools (roster-bench, roster-abuse) use
// it as the tests do.
#ifndef ROSTER_TESTS_TESTING_PROC_STAT_H_
#define ROSTER_TESTS_TESTING_PROC_STAT_H_

#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
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

// proc(5)'s fields of /proc/<pid>/stat from the state (field 3) on: the
// command name before them may hold spaces and ends in ')'. Empty if `pid`
// cannot be read.
inline std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream stat_file(absl::StrCat("/proc/", pid, "/stat"));
  const std::string stat((std::istreambuf_iterator<char>(stat_file)),
                         std::istreambuf_iterator<char>());
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 2 > stat.size()) {
    return {};
  }
  return absl::StrSplit(stat.substr(name_end + 2), ' ', absl::SkipEmpty());
}

// The sum of StatFields' fields [first, last] as clock ticks, or -1.
inline int64_t SumTicks(const std::vector<std::string>& fields, size_t first,
                        size_t last) {
  int64_t sum = 0;
  for (size_t i = first; i <= last; ++i) {
    int64_t ticks = 0;
    if (i >= fields.size() || !absl::SimpleAtoi(fields[i], &ticks)) {
      return -1;
    }
    sum += ticks;
  }
  return sum;
}

inline double TicksToSeconds(int64_t ticks) {
  return ticks < 0 ? -1
                   : static_cast<double>(ticks) /
                         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU time (user and system) `pid` has used so far, in seconds; -1 if
// unknown.
inline double CpuSeconds(pid_t pid) {
  if (pid <= 0) {
    return -1;
  }
  // utime and stime are fields 14 and 15 of proc(5); fields[0] is field 3.
  return TicksToSeconds(SumTicks(StatFields(pid), 11, 12));
}

// CPU time (user and system) of `root` and every process under it so far, in
// seconds, ended ones that were waited for included; -1 if `root` is unknown.
// PostgreSQL's cost is its postmaster's tree: a backend per connection.
inline double TreeCpuSeconds(pid_t root) {
  if (root <= 0) {
    return -1;
  }
  std::vector<pid_t> tree = {root};
  int64_t ticks = 0;
  // Parents come before their children in a walk of /proc only by accident,
  // so walk it until a pass finds no new member.
  for (size_t known = 0; known != tree.size();) {
    known = tree.size();
    DIR* proc = opendir("/proc");
    if (proc == nullptr) {
      return -1;
    }
    while (const dirent* entry = readdir(proc)) {
      pid_t pid = 0;
      pid_t parent = 0;
      if (!absl::SimpleAtoi(entry->d_name, &pid) ||
          std::find(tree.begin(), tree.end(), pid) != tree.end()) {
        continue;
      }
      const std::vector<std::string> fields = StatFields(pid);
      if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &parent) &&
          std::find(tree.begin(), tree.end(), parent) != tree.end()) {
        tree.push_back(pid);
      }
    }
    closedir(proc);
  }
  for (pid_t pid : tree) {
    // utime, stime, cutime and cstime: fields 14 to 17 of proc(5). A process
    // that ended in between counts in its parent's cutime and cstime.
    const int64_t own = SumTicks(StatFields(pid), 11, 14);
    if (own < 0 && pid == root) {
      return -1;
    }
    ticks += std::max<int64_t>(own, 0);
  }
  return TicksToSeconds(ticks);
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_PROC_STAT_H_

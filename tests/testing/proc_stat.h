// A process's resident memory and CPU time, and a process tree's CPU time,
// read from /proc. Header-only and free of test fixtures, so the load tools
// (roster-bench, roster-abuse) use it as the tests do.
#ifndef ROSTER_TESTS_TESTING_PROC_STAT_H_
#define ROSTER_TESTS_TESTING_PROC_STAT_H_

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>
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
// The anonymous part of it (heap, stacks, caches): what a leak grows. The
// rest is mostly file pages of the binary and its libraries, which stay once
// a code path has touched them.
inline int64_t RssAnonKib(pid_t pid) { return StatusKib(pid, "RssAnon:"); }
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
  // Every process's parent and ticks, /proc read once. The ticks are utime,
  // stime, cutime and cstime (fields 14 to 17 of proc(5)): a process that
  // ended in between counts in its parent's cutime and cstime.
  std::map<pid_t, std::pair<pid_t, int64_t>> processes;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc", error)) {
    pid_t pid = 0;
    pid_t parent = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) {
      continue;
    }
    const std::vector<std::string> fields = StatFields(pid);
    const int64_t ticks = SumTicks(fields, 11, 14);
    if (ticks >= 0 && absl::SimpleAtoi(fields[1], &parent)) {
      processes[pid] = {parent, ticks};
    }
  }
  if (root <= 0 || processes.count(root) == 0) {
    return -1;
  }
  // A child's pid may be lower than its parent's: gather until none joins.
  std::set<pid_t> tree = {root};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, process] : processes) {
      grew = (tree.count(process.first) > 0 && tree.insert(pid).second) || grew;
    }
  }
  int64_t ticks = 0;
  for (pid_t pid : tree) {
    ticks += processes[pid].second;
  }
  return TicksToSeconds(ticks);
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_PROC_STAT_H_

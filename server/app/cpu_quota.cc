#include "server/app/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace roster::app {
namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> Ratio(absl::string_view quota, absl::string_view period) {
  int64_t q = 0;
  int64_t p = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(quota), &q) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(period), &p) || q <= 0 ||
      p <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(q) / static_cast<double>(p);
}

}  // namespace

std::optional<double> CpusFromCgroupV2(absl::string_view cpu_max) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(cpu_max), ' ');
  if (fields.size() != 2 || fields[0] == "max") {
    return std::nullopt;
  }
  return Ratio(fields[0], fields[1]);
}

std::optional<double> CpusFromCgroupV1(absl::string_view quota_us,
                                       absl::string_view period_us) {
  return Ratio(quota_us, period_us);
}

int UsableCpus() {
  int cpus =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    cpus = std::min(cpus, std::max(1, CPU_COUNT(&set)));
  }
  std::optional<double> quota =
      CpusFromCgroupV2(ReadSmallFile("/sys/fs/cgroup/cpu.max"));
  if (!quota.has_value()) {
    quota =
        CpusFromCgroupV1(ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                         ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  }
  if (quota.has_value()) {
    cpus = std::min(cpus, std::max(1, static_cast<int>(std::ceil(*quota))));
  }
  return cpus;
}

int HashWorkers(int usable_cpus, int hashes_in_budget) {
  return std::max(1, std::min(usable_cpus - 1, hashes_in_budget));
}

}  // namespace roster::app

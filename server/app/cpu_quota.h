// How many CPUs this process may really use, for sizing CPU-bound pools: the
// scheduler affinity mask, capped by a cgroup CPU quota (Kubernetes' CPU
// limit), rounded up. hardware_concurrency() reports the node's CPUs, so on a
// 64-CPU node a pod limited to 2 CPUs would start 64 argon2id workers, each
// with its own 19 MiB (DESIGN §14).
#ifndef ROSTER_SERVER_APP_CPU_QUOTA_H_
#define ROSTER_SERVER_APP_CPU_QUOTA_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace roster::app {

// At least 1.
int UsableCpus();

// argon2id workers for `usable_cpus` and a budget that holds `hashes_in_budget`
// hashes at once: every CPU but one, which stays free to serve (with a hash on
// every core a legitimate read's p99 rose several-fold under a sign-in flood;
// docs/reliability.md), never more than the budget holds, at least 1.
int HashWorkers(int usable_cpus, int hashes_in_budget);

// The CPUs a cgroup v2 `cpu.max` ("150000 100000", or "max 100000": none)
// allows.
std::optional<double> CpusFromCgroupV2(absl::string_view cpu_max);
// The same from cgroup v1's cpu.cfs_quota_us ("-1": none) and
// cpu.cfs_period_us.
std::optional<double> CpusFromCgroupV1(absl::string_view quota_us,
                                       absl::string_view period_us);

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_CPU_QUOTA_H_

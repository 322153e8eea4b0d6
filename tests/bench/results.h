// One scenario's measured figures, and how several rounds of them are
// summarised. This VM's speed drifts by up to twice within minutes, so a ratio
// between two scenarios is taken inside each round, where both were measured
// seconds apart, and the median of those per-round ratios is what is reported;
// every raw figure is likewise the median of its rounds.
#ifndef ROSTER_TESTS_BENCH_RESULTS_H_
#define ROSTER_TESTS_BENCH_RESULTS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace roster::bench {

struct Result {
  std::string name;
  int inflight = 0;
  double qps = 0;
  // Server CPU (user + system) per measured call, when --server_pid is set.
  double cpu_us_per_call = 0;
  // The database server's CPU per measured call, when --db_pid is set.
  double db_cpu_us_per_call = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0;
  int64_t calls = 0, errors = 0;
  std::string first_error;
};

// A scenario over all rounds. `median` holds the median of each figure (calls
// and errors summed, the first error of the earliest round that had one); the
// ratios are medians of the per-round ratios to that round's `health`, and
// `qps_ratios` lists the per-round throughput ratios in round order.
struct Summary {
  Result median;
  double ratio_to_health = 0;
  double p99_ratio_to_health = 0;
  double cpu_ratio_to_health = 0;
  std::vector<double> qps_ratios;
};

// The median of `values` (the mean of the middle two for an even count; 0 for
// none).
double Median(std::vector<double> values);

// `rounds[i]` is round i's results, `health` first, every round running the
// same scenarios in the same order. Returns one summary per scenario, in that
// order. A ratio whose denominator is 0 in a round counts as 0 for that round.
std::vector<Summary> Summarize(const std::vector<std::vector<Result>>& rounds);

}  // namespace roster::bench

#endif  // ROSTER_TESTS_BENCH_RESULTS_H_

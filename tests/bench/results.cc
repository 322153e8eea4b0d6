#include "tests/bench/results.h"

#include <algorithm>
#include <cstddef>
#include <functional>

namespace roster::bench {

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  const std::vector<double>::iterator middle =
      values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  const double upper = *middle;
  if (values.size() % 2 == 1) {
    return upper;
  }
  // nth_element leaves the lower half before `middle`: its largest is the
  // other middle value.
  const double lower = *std::max_element(values.begin(), middle);
  return (lower + upper) / 2;
}

namespace {

double Ratio(double numerator, double denominator) {
  return denominator > 0 ? numerator / denominator : 0;
}

}  // namespace

std::vector<Summary> Summarize(const std::vector<std::vector<Result>>& rounds) {
  std::vector<Summary> summaries;
  if (rounds.empty()) {
    return summaries;
  }
  for (size_t s = 0; s < rounds.front().size(); ++s) {
    // The median over rounds of `figure` of this scenario.
    auto median_of = [&](const std::function<double(size_t round)>& figure) {
      std::vector<double> values;
      for (size_t r = 0; r < rounds.size(); ++r) {
        values.push_back(figure(r));
      }
      return Median(std::move(values));
    };
    auto at = [&](size_t r) -> const Result& { return rounds[r][s]; };
    auto health = [&](size_t r) -> const Result& { return rounds[r].front(); };

    Summary summary;
    Result& m = summary.median;
    m.name = at(0).name;
    m.inflight = at(0).inflight;
    m.qps = median_of([&](size_t r) { return at(r).qps; });
    m.cpu_us_per_call =
        median_of([&](size_t r) { return at(r).cpu_us_per_call; });
    m.db_cpu_us_per_call =
        median_of([&](size_t r) { return at(r).db_cpu_us_per_call; });
    m.p50_us = median_of([&](size_t r) { return at(r).p50_us; });
    m.p90_us = median_of([&](size_t r) { return at(r).p90_us; });
    m.p99_us = median_of([&](size_t r) { return at(r).p99_us; });
    m.p999_us = median_of([&](size_t r) { return at(r).p999_us; });
    for (size_t r = 0; r < rounds.size(); ++r) {
      m.calls += at(r).calls;
      m.errors += at(r).errors;
      if (m.first_error.empty()) {
        m.first_error = at(r).first_error;
      }
      summary.qps_ratios.push_back(Ratio(at(r).qps, health(r).qps));
    }
    summary.ratio_to_health = Median(summary.qps_ratios);
    summary.p99_ratio_to_health = median_of(
        [&](size_t r) { return Ratio(at(r).p99_us, health(r).p99_us); });
    summary.cpu_ratio_to_health = median_of([&](size_t r) {
      return Ratio(at(r).cpu_us_per_call, health(r).cpu_us_per_call);
    });
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

}  // namespace roster::bench

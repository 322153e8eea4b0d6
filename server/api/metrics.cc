#include "server/api/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace roster::api {
namespace {

void AppendHistogram(std::string& out, const std::string& name,
                     const std::string& labels,
                     const std::array<double, 15>& bounds,
                     const std::array<uint64_t, 15>& buckets, uint64_t count,
                     double sum) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets[i];
    absl::StrAppend(&out, name, "_bucket{", labels, ",le=\"", bounds[i], "\"} ",
                    cumulative, "\n");
  }
  absl::StrAppend(&out, name, "_bucket{", labels, ",le=\"+Inf\"} ", count, "\n",
                  name, "_sum{", labels, "} ", sum, "\n", name, "_count{",
                  labels, "} ", count, "\n");
}

}  // namespace

void Metrics::Histogram::Observe(absl::Duration latency) {
  const double seconds = absl::ToDoubleSeconds(latency);
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++buckets[i];
      break;
    }
  }
  ++count;
  sum_seconds += seconds;
}

void Metrics::RpcStarted(absl::string_view method) {
  absl::MutexLock lock(&mu_);
  ++in_flight_[method];
}

void Metrics::RpcFinished(absl::string_view method, absl::string_view code,
                          absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  --in_flight_[method];
  ++rpcs_[absl::StrCat(method, "\t", code)];
  rpc_latency_[method].Observe(latency);
}

void Metrics::DatabaseOperation(absl::string_view operation,
                                absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  db_latency_[operation].Observe(latency);
}

std::string Metrics::Render(absl::string_view extra) const {
  std::string out;
  absl::MutexLock lock(&mu_);
  out +=
      "# HELP roster_rpcs_total RPCs finished, by method and status code.\n"
      "# TYPE roster_rpcs_total counter\n";
  for (const auto& [key, count] : rpcs_) {
    const std::pair<std::string, std::string> parts = absl::StrSplit(key, '\t');
    absl::StrAppend(&out, "roster_rpcs_total{method=\"", parts.first,
                    "\",code=\"", parts.second, "\"} ", count, "\n");
  }
  out +=
      "# HELP roster_rpcs_in_flight RPCs started and not finished (open "
      "streams included).\n"
      "# TYPE roster_rpcs_in_flight gauge\n";
  for (const auto& [method, count] : in_flight_) {
    absl::StrAppend(&out, "roster_rpcs_in_flight{method=\"", method, "\"} ",
                    count, "\n");
  }
  const auto histograms = [&](const char* name, const char* help,
                              const char* label, const auto& by_label) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " histogram\n");
    for (const auto& [value, h] : by_label) {
      AppendHistogram(out, name, absl::StrCat(label, "=\"", value, "\""),
                      kBuckets, h.buckets, h.count, h.sum_seconds);
    }
  };
  histograms("roster_rpc_duration_seconds",
             "Server time per RPC, from its first interception to its status.",
             "method", rpc_latency_);
  histograms("roster_db_operation_duration_seconds",
             "Time per storage operation (a write includes its commit and "
             "fsync).",
             "operation", db_latency_);
  absl::StrAppend(&out, extra);
  return out;
}

}  // namespace roster::api

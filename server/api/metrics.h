// Metrics: the counters and histograms roster-server exports in the Prometheus
// text format (version 0.0.4) at /metrics: RPCs by method and code, RPC and
// database-operation latency histograms, RPCs in flight (open streams among
// them), and whatever gauges the owner adds at render time. Debian 12 packages
// no Prometheus client for C++, so this is the small subset we need.
//
// Thread-safe. Recording takes one short mutex hold.
#ifndef ROSTER_SERVER_API_METRICS_H_
#define ROSTER_SERVER_API_METRICS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace roster::api {

class Metrics {
 public:
  // `method` is the full gRPC method name; `code` its status code name.
  void RpcStarted(absl::string_view method);
  void RpcFinished(absl::string_view method, absl::string_view code,
                   absl::Duration latency);
  // One UserStore call (`operation`: get_user, list_users, write, …).
  void DatabaseOperation(absl::string_view operation, absl::Duration latency);

  // Everything recorded, followed by `extra` (already in text format).
  std::string Render(absl::string_view extra = "") const;

 private:
  // Upper bounds in seconds, from 100 µs to 10 s.
  static constexpr std::array<double, 15> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // Not cumulative.
    uint64_t count = 0;
    double sum_seconds = 0;
    void Observe(absl::Duration latency);
  };

  mutable absl::Mutex mu_;
  // Keyed by "method\tcode".
  absl::btree_map<std::string, uint64_t> rpcs_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, int64_t> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, Histogram> rpc_latency_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, Histogram> db_latency_ ABSL_GUARDED_BY(mu_);
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_METRICS_H_

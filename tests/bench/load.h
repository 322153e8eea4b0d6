// How roster-bench drives load and reads the server's cost: a closed loop (a
// fixed number of calls in flight) and an open loop (a fixed arrival rate)
// over any asynchronous call, the server's CPU time from /proc, and the
// argon2id hash time that sign_in's capacity rests on.
#ifndef ROSTER_TESTS_BENCH_LOAD_H_
#define ROSTER_TESTS_BENCH_LOAD_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/bench/results.h"

namespace roster::bench {

using Done = std::function<void(const grpc::Status&)>;
// Starts one call for slot `slot`; calls `done` when it completes, on any
// thread, possibly before returning.
using Issue = std::function<void(int slot, Done done)>;

// Runs `issue` closed-loop: every slot starts its next call as soon as the
// previous one completes, for warm-up plus duration; records every call that
// completes inside the measured window (including those begun in the
// warm-up). With `server_pid` > 0, also the server's CPU per measured call;
// with `db_pid` > 0, the CPU of that process and its children (a database
// server: PostgreSQL's postmaster and its backends) per measured call.
Result Drive(const std::string& name, const Issue& issue, int inflight,
             absl::Duration warmup, absl::Duration duration, int server_pid,
             int db_pid = 0);

// One scenario on two servers, measured in alternating short slices.
struct Interleaved {
  // Each side over all its slices: calls, errors, throughput and CPU per call
  // from the totals; latency percentiles the median of the slices'.
  Result a, b;
  // b's throughput over a's, per pair of slices, in order.
  std::vector<double> slice_ratios;
};

// Drives `a` and `b` (the same scenario on two servers) in turn: a warm-up on
// each, then `pairs` pairs of `slice`-long measured slices, each slice after
// `slice_warmup` of its own, in A B, B A, A B… order (at least one pair). Both
// sides then sample the same moments of a machine whose speed drifts, which two
// separate runs minutes apart do not.
Interleaved DriveInterleaved(const std::string& name, const Issue& a, int pid_a,
                             const Issue& b, int pid_b, int inflight, int pairs,
                             absl::Duration warmup, absl::Duration slice_warmup,
                             absl::Duration slice);

// How an open-loop offer ended.
struct OpenLoopOutcome {
  int64_t offered = 0, ok = 0, refused = 0, other = 0;
  double refused_p99_us = 0;  // How fast refusals come back.
  std::string first_other;
};

// Offers `issue` at `rate` calls per second for `duration`, whatever the
// server answers, and waits for every call to end. RESOURCE_EXHAUSTED and
// UNAVAILABLE count as refusals; any other failure as `other`.
OpenLoopOutcome OfferOpenLoop(const Issue& issue, double rate,
                              absl::Duration duration);

// Seconds per argon2id hash of `password` with the server's parameters while
// `workers` threads hash at once; 0 if hashing fails.
double SecondsPerHash(int workers, const std::string& password);

// The server's CPU time so far (user + system, µs) from /proc/PID/stat, or -1.
double ServerCpuMicros(int pid);

}  // namespace roster::bench

#endif  // ROSTER_TESTS_BENCH_LOAD_H_

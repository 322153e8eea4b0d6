#include "tests/bench/load.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/domain/passwords.h"
#include "sodium.h"
#include "tests/testing/proc_stat.h"

namespace roster::bench {

Result Drive(const std::string& name, const Issue& issue, int inflight,
             absl::Duration warmup, absl::Duration duration, int server_pid,
             int db_pid) {
  std::mutex mu;
  std::condition_variable idle;
  std::vector<int64_t> latencies_ns;
  latencies_ns.reserve(1 << 20);
  int64_t errors = 0;
  std::string first_error;
  int active = inflight;
  const absl::Time measure_from = absl::Now() + warmup;
  const absl::Time stop_at = measure_from + duration;

  // A call's `done` may run before `issue` returns (an issue that fails at
  // once). Starting the slot's next call from there would recurse, once per
  // call, until the stack overflowed; the frame that called `issue` loops
  // instead. Whichever of the two comes second starts the next call. The
  // state they meet on is the call's own, not Drive's: when a call ends the
  // run before its `issue` has returned, Drive may have returned too.
  enum CallState { kIssuing, kIssued, kRestartInline };
  std::function<void(int)> start = [&](int slot) {
    for (bool next = true; next;) {
      auto state = std::make_shared<std::atomic<CallState>>(kIssuing);
      const absl::Time begun = absl::Now();
      issue(slot, [&, slot, begun, state](const grpc::Status& status) {
        const absl::Time now = absl::Now();
        {
          std::lock_guard<std::mutex> lock(mu);
          // Every call that completes inside the window counts, whenever it
          // began. Counting only calls that also began inside it undercounts a
          // slow scenario by its latency over the window: sign_in, ~0.9 s at 32
          // in flight, measured 0.7 of its rate in a 3 s window.
          if (now >= measure_from && now <= stop_at) {
            if (status.ok()) {
              latencies_ns.push_back(absl::ToInt64Nanoseconds(now - begun));
            } else {
              ++errors;
              if (first_error.empty()) {
                first_error = absl::StrCat(status.error_code(), " ",
                                           status.error_message());
              }
            }
          }
          if (now >= stop_at) {
            if (--active == 0) {
              idle.notify_all();
            }
            return;
          }
        }
        CallState issuing = kIssuing;
        if (!state->compare_exchange_strong(issuing, kRestartInline)) {
          start(slot);  // `issue` has returned, so this is not inside it.
        }
      });
      CallState issuing = kIssuing;
      // Only locals from here on: if the call ended the run, Drive may have
      // returned.
      next = !state->compare_exchange_strong(issuing, kIssued);
    }
  };
  for (int slot = 0; slot < inflight; ++slot) {
    start(slot);
  }
  absl::SleepFor(measure_from - absl::Now());
  const double cpu_from = ServerCpuMicros(server_pid);
  const double db_cpu_from = db_pid > 0 ? testing::TreeCpuSeconds(db_pid) : -1;
  absl::SleepFor(stop_at - absl::Now());
  const double cpu_to = ServerCpuMicros(server_pid);
  const double db_cpu_to = db_pid > 0 ? testing::TreeCpuSeconds(db_pid) : -1;
  {
    std::unique_lock<std::mutex> lock(mu);
    idle.wait(lock, [&] { return active == 0; });
  }
  Result result;
  result.name = name;
  result.inflight = inflight;
  if (cpu_from >= 0 && cpu_to >= 0 && !latencies_ns.empty()) {
    result.cpu_us_per_call =
        (cpu_to - cpu_from) / static_cast<double>(latencies_ns.size());
  }
  if (db_cpu_from >= 0 && db_cpu_to >= 0 && !latencies_ns.empty()) {
    result.db_cpu_us_per_call = (db_cpu_to - db_cpu_from) * 1e6 /
                                static_cast<double>(latencies_ns.size());
  }
  result.calls = static_cast<int64_t>(latencies_ns.size());
  result.errors = errors;
  result.first_error = first_error;
  result.qps =
      static_cast<double>(result.calls) / absl::ToDoubleSeconds(duration);
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto percentile = [&](double p) {
    if (latencies_ns.empty()) {
      return 0.0;
    }
    const size_t index = std::min(
        latencies_ns.size() - 1,
        static_cast<size_t>(p * static_cast<double>(latencies_ns.size())));
    return static_cast<double>(latencies_ns[index]) / 1000.0;
  };
  result.p50_us = percentile(0.50);
  result.p90_us = percentile(0.90);
  result.p99_us = percentile(0.99);
  result.p999_us = percentile(0.999);
  return result;
}

Interleaved DriveInterleaved(const std::string& name, const Issue& a, int pid_a,
                             const Issue& b, int pid_b, int inflight, int pairs,
                             absl::Duration warmup, absl::Duration slice_warmup,
                             absl::Duration slice) {
  pairs = std::max(pairs, 1);
  Drive(name, a, inflight, warmup, slice, pid_a);
  Drive(name, b, inflight, warmup, slice, pid_b);
  std::vector<Result> slices_a, slices_b;
  Interleaved out;
  for (int pair = 0; pair < pairs; ++pair) {
    auto run = [&](bool side_a) {
      (side_a ? slices_a : slices_b)
          .push_back(Drive(name, side_a ? a : b, inflight, slice_warmup, slice,
                           side_a ? pid_a : pid_b));
    };
    run(pair % 2 == 0);
    run(pair % 2 != 0);
    out.slice_ratios.push_back(slices_a.back().qps > 0
                                   ? slices_b.back().qps / slices_a.back().qps
                                   : 0);
  }
  // Each figure the median of the slices' (Summarize, each slice a round of
  // its own), then throughput and CPU per call from the totals instead.
  auto total = [&](const std::vector<Result>& slices) {
    std::vector<std::vector<Result>> rounds;
    double cpu_us = 0;
    for (const Result& r : slices) {
      rounds.push_back({r});
      cpu_us += r.cpu_us_per_call * static_cast<double>(r.calls);
    }
    Result sum = Summarize(rounds).front().median;
    const double seconds = absl::ToDoubleSeconds(slice) * pairs;
    sum.qps = seconds > 0 ? static_cast<double>(sum.calls) / seconds : 0;
    sum.cpu_us_per_call =
        sum.calls > 0 ? cpu_us / static_cast<double>(sum.calls) : 0;
    return sum;
  };
  out.a = total(slices_a);
  out.b = total(slices_b);
  return out;
}

OpenLoopOutcome OfferOpenLoop(const Issue& issue, double rate,
                              absl::Duration duration) {
  std::mutex mu;
  std::condition_variable drained;
  OpenLoopOutcome outcome;
  std::vector<int64_t> refused_ns;
  int64_t outstanding = 0;
  const absl::Time start = absl::Now();
  for (int64_t i = 0;; ++i) {
    const absl::Time at = start + absl::Seconds(static_cast<double>(i) / rate);
    if (at >= start + duration) {
      break;
    }
    absl::SleepFor(at - absl::Now());
    {
      std::lock_guard<std::mutex> lock(mu);
      ++outstanding;
      ++outcome.offered;
    }
    const absl::Time begun = absl::Now();
    issue(static_cast<int>(i), [&, begun](const grpc::Status& status) {
      std::lock_guard<std::mutex> lock(mu);
      if (status.ok()) {
        ++outcome.ok;
      } else if (status.error_code() == grpc::RESOURCE_EXHAUSTED ||
                 status.error_code() == grpc::UNAVAILABLE) {
        ++outcome.refused;
        refused_ns.push_back(absl::ToInt64Nanoseconds(absl::Now() - begun));
      } else {
        ++outcome.other;
        if (outcome.first_other.empty()) {
          outcome.first_other =
              absl::StrCat(status.error_code(), " ", status.error_message());
        }
      }
      if (--outstanding == 0) {
        drained.notify_all();
      }
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  drained.wait(lock, [&] { return outstanding == 0; });
  if (!refused_ns.empty()) {
    std::sort(refused_ns.begin(), refused_ns.end());
    outcome.refused_p99_us =
        static_cast<double>(refused_ns[std::min(
            refused_ns.size() - 1,
            static_cast<size_t>(0.99 *
                                static_cast<double>(refused_ns.size())))]) /
        1000.0;
  }
  return outcome;
}

// Seconds per argon2id hash with the server's parameters while `workers`
// threads hash at once, as the server's pool does when it is saturated: two
// 19 MiB hashes side by side share caches and memory bandwidth, so each is
// slower than one hash alone, and capacity must be measured that way.
double SecondsPerHash(int workers, const std::string& password) {
  if (sodium_init() < 0) {
    return 0;
  }
  constexpr int kHashes = 4;
  std::atomic<bool> failed{false};
  const absl::Time start = absl::Now();
  std::vector<std::thread> hashers;
  hashers.reserve(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w) {
    hashers.emplace_back([&failed, &password] {
      char hash[crypto_pwhash_STRBYTES];
      for (int i = 0; i < kHashes; ++i) {
        if (crypto_pwhash_str(hash, password.data(), password.size(),
                              roster::domain::kArgon2OpsLimit,
                              roster::domain::kArgon2MemLimit) != 0) {
          failed = true;
        }
      }
    });
  }
  for (auto& hasher : hashers) {
    hasher.join();
  }
  if (failed.load()) {
    return 0;
  }
  return absl::ToDoubleSeconds(absl::Now() - start) / kHashes;
}

double ServerCpuMicros(int pid) {
  const double seconds = testing::CpuSeconds(pid);
  return seconds < 0 ? -1 : seconds * 1e6;
}

}  // namespace roster::bench

#include "tests/bench/load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace roster::bench {
namespace {

// Calls that each take `latency` on a thread of their own and end with
// `status`: a closed loop of `inflight` of them completes inflight / latency
// calls per second, a figure that does not depend on this machine's speed.
// A run's first call on each slot takes latency * (slot + 1) / inflight, so
// the slots' completions are spread evenly instead of landing together: in
// step, a whole batch fell in or out of a window whose edge met it, and a
// count moved by `inflight` calls on a few microseconds of scheduling.
class FixedLatencyCalls {
 public:
  FixedLatencyCalls(absl::Duration latency, int inflight,
                    grpc::Status status = grpc::Status::OK)
      : latency_(latency), inflight_(inflight), status_(std::move(status)) {}
  ~FixedLatencyCalls() {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::thread& call : calls_) {
      call.join();
    }
  }

  Issue issue() {
    return [this](int slot, Done done) {
      // Drive starts a slot's next call from inside the completion of its
      // last one; a call issued from anywhere else begins a run.
      const absl::Duration latency =
          completing_ ? latency_ : latency_ * (slot + 1) / inflight_;
      std::lock_guard<std::mutex> lock(mu_);
      calls_.emplace_back([this, latency, done = std::move(done)] {
        absl::SleepFor(latency);
        completing_ = true;
        done(status_);
        completing_ = false;
      });
    };
  }

 private:
  static thread_local bool completing_;
  const absl::Duration latency_;
  const int inflight_;
  const grpc::Status status_;
  std::mutex mu_;
  std::vector<std::thread> calls_;
};

thread_local bool FixedLatencyCalls::completing_ = false;

// A scenario whose latency is a large part of the window is measured at its
// full rate: the calls begun in the warm-up that complete inside the window
// count. (Counting only calls begun inside it gave 0.7 of sign_in's rate.)
TEST(DriveTest, CountsEveryCallThatCompletesInsideTheWindow) {
  FixedLatencyCalls calls(absl::Milliseconds(400), /*inflight=*/8);
  const Result result = Drive("slow", calls.issue(), /*inflight=*/8,
                              /*warmup=*/absl::Milliseconds(500),
                              /*duration=*/absl::Seconds(2), /*server_pid=*/0);
  // 8 / 0.4 s = 20 calls per second; the old count gave (2 - 0.4) / 2 of it.
  EXPECT_GE(result.qps, 18.0);
  EXPECT_LE(result.qps, 21.0);
  EXPECT_EQ(result.errors, 0);
  EXPECT_GE(result.p50_us, 400'000);
  EXPECT_LT(result.p50_us, 600'000);
}

// Two servers, one twice as slow per call: the interleaved comparison
// reports half the throughput, per pair of slices and over all of them.
TEST(DriveInterleavedTest, ComparesTwoSidesSliceBySlice) {
  FixedLatencyCalls fast(absl::Milliseconds(50), /*inflight=*/4);
  FixedLatencyCalls slow(absl::Milliseconds(100), /*inflight=*/4);
  const Interleaved run = DriveInterleaved(
      "get_user", fast.issue(), /*pid_a=*/0, slow.issue(), /*pid_b=*/0,
      /*inflight=*/4, /*pairs=*/3, /*warmup=*/absl::Milliseconds(100),
      /*slice_warmup=*/absl::Milliseconds(100),
      /*slice=*/absl::Milliseconds(400));
  // 4 / 50 ms = 80 calls per second, 4 / 100 ms = 40.
  EXPECT_GE(run.a.qps, 70.0);
  EXPECT_LE(run.a.qps, 81.0);
  EXPECT_GE(run.b.qps, 35.0);
  EXPECT_LE(run.b.qps, 41.0);
  // Each pair's ratio is b over a (a over b would be 2). A stall of this host
  // inside one 400 ms slice moves that slice's ratio (one read 0.64 under
  // `make test`: a 90 ms stall costs the fast side 7 of its 32 calls), so the
  // tight bound is on their median.
  ASSERT_EQ(run.slice_ratios.size(), 3u);
  for (double ratio : run.slice_ratios) {
    EXPECT_GT(ratio, 0.3);
    EXPECT_LT(ratio, 0.8);
  }
  std::vector<double> ratios = run.slice_ratios;
  std::sort(ratios.begin(), ratios.end());
  EXPECT_GT(ratios[1], 0.4);
  EXPECT_LT(ratios[1], 0.6);
  EXPECT_GE(run.b.p50_us, 100'000);
  EXPECT_LT(run.a.p50_us, 100'000);
}

TEST(DriveTest, CountsFailuresInsideTheWindowAsErrors) {
  FixedLatencyCalls calls(absl::Milliseconds(50), /*inflight=*/2,
                          grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  const Result result = Drive("failing", calls.issue(), /*inflight=*/2,
                              absl::ZeroDuration(), absl::Milliseconds(500), 0);
  EXPECT_EQ(result.calls, 0);
  EXPECT_GE(result.errors, 10);
  EXPECT_EQ(result.first_error, "14 down");
}

// An issue that fails before it returns (sign_in_totp with no TOTP user left)
// calls `done` on the caller's stack. Starting the next call from there
// recursed once per call: the stack overflowed after 5,000-10,000 calls.
TEST(DriveTest, AnIssueThatFailsAtOnceDoesNotRecurse) {
  const Issue fails_at_once = [](int /*slot*/, const Done& done) {
    done(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no user"));
  };
  const Result result =
      Drive("failing at once", fails_at_once, /*inflight=*/2,
            absl::ZeroDuration(), absl::Seconds(1), /*server_pid=*/0);
  EXPECT_EQ(result.calls, 0);
  // About 400,000 in Debug under AddressSanitizer, millions in a release
  // build.
  EXPECT_GE(result.errors, 50'000);
  EXPECT_EQ(result.first_error, "9 no user");
}

// gRPC may complete a call on another thread before the call that started it
// has returned. When that completion ends the run, Drive returns while the
// issuing thread is still inside `issue`, which must then touch nothing of
// Drive's. Here every second call completes on a thread of its own before its
// issue returns, and the issue returns only once the run is over (or 1 ms
// later, if the run goes on). AddressSanitizer, in `make test-sanitize`,
// reports a use after free where Drive's state is touched; without it the
// next run could lose count of its calls and wait forever.
TEST(DriveTest, AnIssueStillReturningWhenItsCallEndsTheRunTouchesNothing) {
  std::mutex mu;
  std::condition_variable changed;
  int runs_over = 0;                 // Guarded by mu.
  int issued = 0;                    // Guarded by mu.
  int issues_returning = 0;          // Guarded by mu.
  std::vector<std::thread> threads;  // Guarded by mu.
  const Issue issue = [&](int /*slot*/, Done done) {
    std::unique_lock<std::mutex> lock(mu);
    ++issues_returning;
    const bool returns_late = issued++ % 2 == 1;
    const int run = runs_over;
    lock.unlock();
    std::thread completes([done = std::move(done)] { done(grpc::Status::OK); });
    if (returns_late) {
      completes.join();
    }
    lock.lock();
    if (returns_late) {
      changed.wait_for(lock, std::chrono::milliseconds(1),
                       [&] { return runs_over > run; });
    } else {
      threads.push_back(std::move(completes));
    }
    --issues_returning;
    changed.notify_all();
  };
  for (int run = 0; run < 20; ++run) {
    const Result result = Drive("returns late", issue, /*inflight=*/1,
                                absl::ZeroDuration(), absl::Milliseconds(20),
                                /*server_pid=*/0);
    EXPECT_GT(result.calls, 0);
    {
      std::lock_guard<std::mutex> lock(mu);
      ++runs_over;
    }
    changed.notify_all();
  }
  // Every call the runs made has begun its issue by now (a run ends only when
  // its last call's done has run), so once none is still returning, nothing
  // adds to `threads`. They are joined without `mu`: a thread that started a
  // call from its done may still be on its way out of that call's issue.
  std::vector<std::thread> to_join;
  {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return issues_returning == 0; });
    to_join.swap(threads);
  }
  for (std::thread& thread : to_join) {
    thread.join();
  }
}

}  // namespace
}  // namespace roster::bench

// BoundedExecutor: runs tasks on a fixed set of threads from a bounded queue.
// gRPC's callback API runs handlers on a couple of shared threads that must
// never block. Two kinds of work do: durable writes run on the write
// executor, whose threads wait for the group commit that covers them (the
// store batches whatever is queued into one transaction and one fsync) and
// then finish each caller's reactor; argon2id hashing runs on a small pool. A
// full queue refuses new work at once (the caller answers RESOURCE_EXHAUSTED)
// rather than letting a flood of sign-ins or writes pile up.
#ifndef ROSTER_SERVER_API_BOUNDED_EXECUTOR_H_
#define ROSTER_SERVER_API_BOUNDED_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace roster::api {

// Thread-safe.
class BoundedExecutor {
 public:
  // Who a task is for. Unauthenticated work (sign-in, token refresh) waits in
  // a queue of its own, so a flood of it is refused there and never takes the
  // places of authenticated callers' tasks, which run first (DESIGN §14).
  enum class Lane { kAuthenticated, kUnauthenticated };

  // `threads` workers; at most `max_queued` tasks wait in each lane, more are
  // refused. `nice` (0-19) lowers the workers' CPU priority: hashing yields
  // the CPU to reads and writes the moment they wake.
  BoundedExecutor(int threads, size_t max_queued, int nice = 0);
  // Runs every task already queued, then stops the threads.
  ~BoundedExecutor();

  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`. False when the queue is full or the executor is stopping.
  bool Submit(absl::AnyInvocable<void() &&> task,
              Lane lane = Lane::kAuthenticated);

  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Run();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::AnyInvocable<void() &&>> unauthenticated_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_BOUNDED_EXECUTOR_H_

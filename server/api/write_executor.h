// WriteExecutor: runs write tasks one at a time on a dedicated thread, in
// submission order. gRPC's callback API runs handlers on a couple of shared
// threads that must never block; a durable SQLite commit waits for fsync, so
// mutations are handed to this thread, which finishes each caller's reactor
// when its commit is done. Group commit (issue 7) will batch here.
#ifndef ROSTER_SERVER_API_WRITE_EXECUTOR_H_
#define ROSTER_SERVER_API_WRITE_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace roster::api {

// Thread-safe.
class WriteExecutor {
 public:
  // At most `max_queued` tasks wait; more are refused (the caller answers
  // RESOURCE_EXHAUSTED).
  explicit WriteExecutor(size_t max_queued = 10000);
  // Runs every task already queued, then stops the thread.
  ~WriteExecutor();

  WriteExecutor(const WriteExecutor&) = delete;
  WriteExecutor& operator=(const WriteExecutor&) = delete;

  // Queues `task`. False when the queue is full or the executor is stopping.
  bool Submit(absl::AnyInvocable<void() &&> task);

 private:
  void Run();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_WRITE_EXECUTOR_H_

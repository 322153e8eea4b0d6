#include "server/api/bounded_executor.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>

namespace roster::api {

BoundedExecutor::BoundedExecutor(int threads, size_t max_queued, int nice)
    : max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, nice] {
      if (nice != 0) {
        // Linux: a thread's nice value is its own (setpriority on its tid).
        // Raising it needs no privilege; failing leaves the default.
        (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)),
                          nice);
      }
      Run();
    });
  }
}

BoundedExecutor::~BoundedExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& thread : threads_) {
    thread.join();
  }
}

bool BoundedExecutor::Submit(absl::AnyInvocable<void() &&> task, Lane lane) {
  absl::MutexLock lock(&mu_);
  auto& queue = lane == Lane::kAuthenticated ? queue_ : unauthenticated_;
  if (stopping_ || queue.size() >= max_queued_) {
    return false;
  }
  queue.push_back(std::move(task));
  return true;
}

void BoundedExecutor::Run() {
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BoundedExecutor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty() ||
                   !self->unauthenticated_.empty();
          },
          this));
      auto& queue = !queue_.empty() ? queue_ : unauthenticated_;
      if (queue.empty()) {
        return;  // Stopping, and everything queued has run.
      }
      task = std::move(queue.front());
      queue.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace roster::api

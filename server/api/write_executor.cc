#include "server/api/write_executor.h"

#include <utility>

namespace roster::api {

WriteExecutor::WriteExecutor(size_t max_queued)
    : max_queued_(max_queued), thread_([this] { Run(); }) {}

WriteExecutor::~WriteExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool WriteExecutor::Submit(absl::AnyInvocable<void() &&> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= max_queued_) {
    return false;
  }
  queue_.push_back(std::move(task));
  return true;
}

void WriteExecutor::Run() {
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WriteExecutor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) {
        return;  // Stopping, and everything queued has run.
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace roster::api

#include "server/api/event_hub.h"

#include <vector>

#include "absl/time/clock.h"

namespace roster::api {

EventHub::EventHub(int max_streams)
    : max_streams_(max_streams), thread_([this] { Run(); }) {}

bool EventHub::AdmitStream() {
  int open = open_streams_.load();
  while (open < max_streams_) {
    if (open_streams_.compare_exchange_weak(open, open + 1)) {
      return true;
    }
  }
  return false;
}

void EventHub::ReleaseStream() { open_streams_.fetch_sub(1); }

bool EventHub::AwaitStreamsReleased(absl::Duration timeout) {
  // Polled: a stream releases once, at its end, and shutdown is rare.
  const absl::Time deadline = absl::Now() + timeout;
  while (open_streams_.load() > 0) {
    if (absl::Now() >= deadline) {
      return false;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

EventHub::~EventHub() {
  Shutdown();
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  thread_.join();
}

void EventHub::Publish(int64_t latest_sequence) {
  absl::MutexLock lock(&mu_);
  if (latest_sequence > latest_) {
    latest_ = latest_sequence;
  }
}

bool EventHub::Wait(Listener* listener, int64_t position) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) {
    return false;
  }
  positions_[listener] = waiting_.emplace(position, listener);
  return true;
}

void EventHub::Cancel(Listener* listener) {
  absl::MutexLock dispatch(&dispatch_mu_);
  absl::MutexLock lock(&mu_);
  auto it = positions_.find(listener);
  if (it != positions_.end()) {
    waiting_.erase(it->second);
    positions_.erase(it);
  }
}

void EventHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
}

bool EventHub::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

bool EventHub::HasWork() const {
  if (stopped_) {
    return true;
  }
  if (waiting_.empty()) {
    return false;
  }
  return shutting_down_ || waiting_.begin()->first < latest_;
}

void EventHub::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_, absl::Condition(this, &EventHub::HasWork));
      if (stopped_ && waiting_.empty()) {
        return;
      }
    }
    absl::MutexLock dispatch(&dispatch_mu_);
    std::vector<Listener*> ready;
    bool shutting_down = false;
    {
      absl::MutexLock lock(&mu_);
      shutting_down = shutting_down_;
      while (!waiting_.empty() &&
             (shutting_down || waiting_.begin()->first < latest_)) {
        ready.push_back(waiting_.begin()->second);
        positions_.erase(waiting_.begin()->second);
        waiting_.erase(waiting_.begin());
      }
    }
    for (Listener* listener : ready) {
      if (shutting_down) {
        listener->OnShutdown();
      } else {
        listener->OnNewEvents();
      }
    }
  }
}

}  // namespace roster::api

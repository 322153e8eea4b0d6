#include "storage/write_queue.h"

#include <algorithm>
#include <utility>

namespace roster::storage {

std::vector<absl::Status> WriteQueue::WriteEach(absl::Span<const Body> bodies,
                                                RunBatch run) {
  absl::CondVar wake;
  std::vector<Pending> mine;
  mine.reserve(bodies.size());  // The queue holds pointers into it.
  for (const Body& body : bodies) {
    mine.push_back(Pending{Write{body, absl::OkStatus()}, &wake});
  }
  mu_.Lock();
  for (Pending& write : mine) {
    queue_.push_back(&write);
  }
  auto all_done = [&mine] {
    return std::all_of(mine.begin(), mine.end(),
                       [](const Pending& w) { return w.done; });
  };
  auto take_lead = [&mine] {
    for (Pending& write : mine) {
      if (write.lead) {
        write.lead = false;
        return true;
      }
    }
    return false;
  };
  while (!all_done()) {
    if (leader_active_ && !take_lead()) {
      wake.Wait(&mu_);
      continue;
    }
    leader_active_ = true;
    std::vector<Pending*> batch;
    std::vector<Write*> writes;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(queue_.front());
      writes.push_back(&queue_.front()->write);
      queue_.pop_front();
    }
    mu_.Unlock();
    run(writes);
    mu_.Lock();
    for (Pending* write : batch) {
      write->done = true;
      write->owner->Signal();
    }
    if (queue_.empty()) {
      leader_active_ = false;
    } else {
      queue_.front()->lead = true;
      queue_.front()->owner->Signal();
    }
  }
  mu_.Unlock();
  std::vector<absl::Status> results;
  results.reserve(mine.size());
  for (Pending& write : mine) {
    results.push_back(std::move(write.write.result));
  }
  return results;
}

}  // namespace roster::storage

#include "storage/postgres/pg_read_batch.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace roster::storage {

template <typename Record>
struct PgReadBatch<Record>::Waiter {
  Waiter(absl::string_view key, Done callback)
      : id(key), done(std::move(callback)) {}

  const std::string id;
  // GetAsync's callback; empty for a blocking Get, which waits on `answered`.
  Done done;
  absl::StatusOr<Record> result;
  // Set before `answered` is notified: this call now leads a batch instead of
  // having been answered.
  bool lead = false;
  absl::Notification answered;
};

template <typename Record>
PgReadBatch<Record>::PgReadBatch(const char* what, int max_in_flight,
                                 int max_batch, Fetch fetch, KeyOf key_of)
    : what_(what),
      max_in_flight_(max_in_flight),
      max_batch_(max_batch),
      fetch_(std::move(fetch)),
      key_of_(key_of) {
  worker_ = std::thread([this] { Work(); });
}

template <typename Record>
PgReadBatch<Record>::~PgReadBatch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  worker_.join();
}

template <typename Record>
absl::StatusOr<Record> PgReadBatch<Record>::Get(absl::string_view id) {
  auto self = std::make_shared<Waiter>(id, nullptr);
  bool lead = false;
  {
    absl::MutexLock lock(&mu_);
    lead = in_flight_ < max_in_flight_;
    if (lead) {
      ++in_flight_;
    } else {
      queue_.push_back(self);
    }
  }
  if (!lead) {
    // `lead` is written by another thread only before it notifies.
    self->answered.WaitForNotification();
    lead = self->lead;
  }
  if (lead) {
    Lead(self);
  }
  return std::move(self->result);
}

template <typename Record>
void PgReadBatch<Record>::GetAsync(absl::string_view id, Done done) {
  auto waiter = std::make_shared<Waiter>(id, std::move(done));
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(waiter));  // The worker wakes if a slot is free.
}

template <typename Record>
bool PgReadBatch<Record>::WorkerMayLead() const {
  return queue_.empty() ? stopping_ : in_flight_ < max_in_flight_;
}

template <typename Record>
void PgReadBatch<Record>::Work() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &PgReadBatch<Record>::WorkerMayLead));
      if (queue_.empty()) {
        return;  // Stopping, and every call is answered or being answered.
      }
      ++in_flight_;
    }
    Lead(nullptr);
  }
}

template <typename Record>
void PgReadBatch<Record>::Lead(std::shared_ptr<Waiter> self) {
  const Waiter* const leader = self.get();
  std::vector<std::shared_ptr<Waiter>> batch;
  if (self != nullptr) {
    batch.push_back(std::move(self));
  }
  {
    absl::MutexLock lock(&mu_);
    while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (!batch.empty()) {
      ++stats_.batches;
      stats_.reads += static_cast<int64_t>(batch.size());
    }
  }
  // Distinct ids, and how many waiters want each: the last one takes the
  // record instead of a copy. The keys point into the waiters, which `batch`
  // keeps alive.
  struct Wanted {
    int waiters = 0;
    Record* record = nullptr;
  };
  absl::flat_hash_map<absl::string_view, Wanted> wanted;
  std::vector<std::string> ids;
  for (const auto& w : batch) {
    if (wanted[w->id].waiters++ == 0) {
      ids.push_back(w->id);
    }
  }
  absl::StatusOr<std::vector<Record>> records = std::vector<Record>();
  if (!ids.empty()) {
    records = fetch_(ids);
  }

  // Hand the slot on before answering, so the next batch's round trip
  // overlaps this one's answers. A call that must not block cannot lead: the
  // worker takes the slot for it.
  std::shared_ptr<Waiter> next;
  {
    absl::MutexLock lock(&mu_);
    if (!queue_.empty() && queue_.front()->done == nullptr) {
      next = std::move(queue_.front());
      queue_.pop_front();
      next->lead = true;
    } else {
      --in_flight_;
    }
  }
  if (next != nullptr) {
    next->answered.Notify();
  }

  if (records.ok()) {
    for (Record& record : *records) {
      if (auto it = wanted.find(key_of_(record)); it != wanted.end()) {
        it->second.record = &record;
      }
    }
  }
  for (const auto& w : batch) {
    Wanted& want = wanted.find(w->id)->second;
    absl::StatusOr<Record> result;
    if (!records.ok()) {
      result = records.status();
    } else if (want.record == nullptr) {
      result =
          absl::NotFoundError(absl::StrCat(what_, " ", w->id, " not found"));
    } else if (--want.waiters == 0) {
      result = std::move(*want.record);
    } else {
      result = *want.record;
    }
    if (w->done != nullptr) {
      std::move(w->done)(std::move(result));
    } else {
      w->result = std::move(result);
      if (w.get() != leader) {
        w->answered.Notify();
      }
    }
  }
}

template <typename Record>
PgReadBatchStats PgReadBatch<Record>::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

template class PgReadBatch<UserRecord>;
template class PgReadBatch<SessionAndUser>;

}  // namespace roster::storage

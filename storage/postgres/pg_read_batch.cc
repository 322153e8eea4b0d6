#include "storage/postgres/pg_read_batch.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace roster::storage {

struct PgReadBatch::Waiter {
  explicit Waiter(absl::string_view id) : user_id(id) {}

  const absl::string_view user_id;  // The caller's, alive until Get returns.
  absl::StatusOr<UserRecord> result;
  // Set before `done` is notified: this call now leads a batch instead of
  // having been answered.
  bool lead = false;
  absl::Notification done;
};

PgReadBatch::PgReadBatch(int max_in_flight, int max_batch, Fetch fetch)
    : max_in_flight_(max_in_flight),
      max_batch_(max_batch),
      fetch_(std::move(fetch)) {}

absl::StatusOr<UserRecord> PgReadBatch::Get(absl::string_view user_id) {
  Waiter self(user_id);
  {
    absl::MutexLock lock(&mu_);
    if (in_flight_ < max_in_flight_) {
      ++in_flight_;
      self.lead = true;
    } else {
      queue_.push_back(&self);
    }
  }
  if (!self.lead) {
    self.done.WaitForNotification();
  }
  if (self.lead) {
    Lead(self);
  }
  return std::move(self.result);
}

void PgReadBatch::Lead(Waiter& self) {
  std::vector<Waiter*> batch = {&self};
  {
    absl::MutexLock lock(&mu_);
    while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    ++stats_.batches;
    stats_.reads += static_cast<int64_t>(batch.size());
  }
  // Distinct ids, and how many waiters want each: the last one takes the
  // record instead of a copy. The keys are copies, because a waiter's id dies
  // with it once it is answered.
  struct Wanted {
    int waiters = 0;
    UserRecord* user = nullptr;
  };
  absl::flat_hash_map<std::string, Wanted> wanted;
  std::vector<std::string> ids;
  for (const Waiter* w : batch) {
    if (wanted[w->user_id].waiters++ == 0) {
      ids.emplace_back(w->user_id);
    }
  }
  absl::StatusOr<std::vector<UserRecord>> users = fetch_(ids);

  // Hand the slot on before answering, so the next batch's round trip
  // overlaps this one's answers.
  Waiter* next = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) {
      --in_flight_;
    } else {
      next = queue_.front();
      queue_.pop_front();
      next->lead = true;
    }
  }
  if (next != nullptr) {
    next->done.Notify();
  }

  if (users.ok()) {
    for (UserRecord& user : *users) {
      if (auto it = wanted.find(user.id); it != wanted.end()) {
        it->second.user = &user;
      }
    }
  }
  for (Waiter* w : batch) {
    Wanted& want = wanted.find(w->user_id)->second;
    if (!users.ok()) {
      w->result = users.status();
    } else if (want.user == nullptr) {
      w->result =
          absl::NotFoundError(absl::StrCat("user ", w->user_id, " not found"));
    } else if (--want.waiters == 0) {
      w->result = std::move(*want.user);
    } else {
      w->result = *want.user;
    }
    if (w != &self) {
      w->done.Notify();  // `w` may be gone once notified.
    }
  }
}

PgReadBatch::Stats PgReadBatch::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace roster::storage

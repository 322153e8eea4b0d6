// PgReadBatch: concurrent GetUser calls share statements.
//
// A lookup by id costs PostgreSQL a statement and the server a round trip
// (a send, a poll and a thread wake-up), whatever the number of ids in it.
// At most `max_in_flight` batches run at once. A call that finds a free slot
// runs at once, so a lone call pays nothing extra; a call that finds every
// slot busy queues, and when a batch ends, the first queued call leads the
// next batch with every call queued by then (at most `max_batch`). A batch
// starts after each of its calls arrived, so it reads what each caller had
// already committed. Thread-safe. Internal to the PostgreSQL adapter.
#ifndef ROSTER_STORAGE_POSTGRES_PG_READ_BATCH_H_
#define ROSTER_STORAGE_POSTGRES_PG_READ_BATCH_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "storage/records.h"

namespace roster::storage {

class PgReadBatch {
 public:
  // Reads the users with these ids (distinct); an id with no user is left out
  // of the result. An error fails every call in the batch.
  using Fetch = std::function<absl::StatusOr<std::vector<UserRecord>>(
      absl::Span<const std::string> ids)>;

  PgReadBatch(int max_in_flight, int max_batch, Fetch fetch);

  PgReadBatch(const PgReadBatch&) = delete;
  PgReadBatch& operator=(const PgReadBatch&) = delete;

  // The user, NotFound, or the batch's error.
  absl::StatusOr<UserRecord> Get(absl::string_view user_id);

  struct Stats {
    int64_t batches = 0;  // Fetch calls.
    int64_t reads = 0;    // Get calls they answered.
  };
  Stats stats() const;

 private:
  struct Waiter;

  // Runs one batch, `self` and the calls queued before it, and hands the
  // slot on to the next queued call.
  void Lead(Waiter& self);

  const int max_in_flight_;
  const int max_batch_;
  const Fetch fetch_;

  mutable absl::Mutex mu_;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_READ_BATCH_H_

// PgReadBatch: concurrent lookups by id share statements (GetUser's users,
// GetSessionAndUser's sessions with their users).
//
// A lookup by id costs PostgreSQL a statement and the server a round trip
// (a send, a poll and a thread wake-up), whatever the number of ids in it.
// At most `max_in_flight` batches run at once. A blocking call that finds a
// free slot runs at once, so a lone call pays nothing extra; any other call
// queues, and when a batch ends, the next batch takes every call queued by
// then (at most `max_batch`): led by the first queued call if it blocks, else
// by the batch's own worker thread, which answers calls that must not block
// (GetAsync). A batch starts after each of its calls arrived, so it reads what
// each caller had already committed. Thread-safe. Internal to the PostgreSQL
// adapter.
#ifndef ROSTER_STORAGE_POSTGRES_PG_READ_BATCH_H_
#define ROSTER_STORAGE_POSTGRES_PG_READ_BATCH_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "storage/records.h"

namespace roster::storage {

// How a PgReadBatch's calls were batched so far.
struct PgReadBatchStats {
  int64_t batches = 0;  // Fetch calls.
  int64_t reads = 0;    // Get and GetAsync calls they answered.
};

// Record: what one id reads (UserRecord, SessionAndUser); instantiated for
// those two in pg_read_batch.cc.
template <typename Record>
class PgReadBatch {
 public:
  // Reads the records with these ids (distinct); an id with no record is left
  // out of the result. An error fails every call in the batch.
  using Fetch = std::function<absl::StatusOr<std::vector<Record>>(
      absl::Span<const std::string> ids)>;
  // The id a fetched record answers.
  using KeyOf = absl::string_view (*)(const Record&);
  using Done = absl::AnyInvocable<void(absl::StatusOr<Record>) &&>;

  // `what` names a record in NotFound messages ("user", "session").
  PgReadBatch(const char* what, int max_in_flight, int max_batch, Fetch fetch,
              KeyOf key_of);
  // Answers every call still queued, then stops the worker thread.
  ~PgReadBatch();

  PgReadBatch(const PgReadBatch&) = delete;
  PgReadBatch& operator=(const PgReadBatch&) = delete;

  // The record, NotFound, or the batch's error.
  absl::StatusOr<Record> Get(absl::string_view id);
  // Get without blocking: `done` runs once with Get's result, on the thread
  // that runs its batch. The caller bounds how many it has waiting.
  void GetAsync(absl::string_view id, Done done);

  PgReadBatchStats stats() const;

 private:
  struct Waiter;

  // Runs one batch of the calls queued before it (and `self`, a blocking call
  // leading it, if any), then hands its slot on: to the next queued call if
  // that one blocks, else back, for the worker to take.
  void Lead(std::shared_ptr<Waiter> self);
  // The worker thread: leads a batch whenever a slot is free for queued calls.
  void Work();
  bool WorkerMayLead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const char* const what_;
  const int max_in_flight_;
  const int max_batch_;
  const Fetch fetch_;
  const KeyOf key_of_;

  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<Waiter>> queue_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  PgReadBatchStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;  // Last: it starts once the rest is ready.
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_READ_BATCH_H_

// PgReadPipeline: concurrent one-statement reads (ListUsers' pages) share a
// round trip.
//
// On the read pool, each such read costs the server a thread hand-off, a send,
// a poll and a wake-up. Here one worker thread takes every statement queued
// by then (at most `max_batch`), sends them in one pipeline
// (PgConnection::RunEach) and answers each. Each statement is a transaction of
// its own and is sent after its call arrived, so it reads what its caller had
// already committed. Thread-safe. Internal to the PostgreSQL adapter.
#ifndef ROSTER_STORAGE_POSTGRES_PG_READ_PIPELINE_H_
#define ROSTER_STORAGE_POSTGRES_PG_READ_PIPELINE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "storage/postgres/pg_connection.h"
#include "storage/postgres/pg_read_batch.h"

namespace roster::storage {

class PgReadPipeline {
 public:
  // Runs the statements on one connection (PgConnection::RunEach): a result
  // per statement, or an error that fails them all.
  using RunBatch =
      std::function<absl::StatusOr<std::vector<absl::StatusOr<PgResult>>>(
          absl::Span<const PgStatement* const>)>;
  using Done = absl::AnyInvocable<void(absl::StatusOr<PgResult>) &&>;

  // `workers` threads each run a batch at a time, so one batch's round trip
  // overlaps another's answers.
  PgReadPipeline(int workers, int max_batch, RunBatch run);
  // Answers every statement still queued (and any its answer queues), then
  // stops the worker threads.
  ~PgReadPipeline();

  PgReadPipeline(const PgReadPipeline&) = delete;
  PgReadPipeline& operator=(const PgReadPipeline&) = delete;

  // Queues `statement`; `done` runs once with its result on the worker thread
  // and may queue another. The caller bounds how many it has waiting.
  void Run(PgStatement statement, Done done);

  PgReadBatchStats stats() const;

 private:
  struct Queued {
    PgStatement statement;
    Done done;
  };

  void Work();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }

  const int max_batch_;
  const RunBatch run_;

  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  PgReadBatchStats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread>
      workers_;  // Last: they start once the rest is ready.
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_READ_PIPELINE_H_

// PgUserStore's writes: group commit over savepoints, and a lone retry per
// body when the database aborts a batch (see pg_user_store.h).
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/postgres/pg_connection.h"
#include "storage/postgres/pg_user_store.h"
#include "storage/postgres/pg_write_transaction.h"

namespace roster::storage {
namespace {

// Write() retries a body that lost a deadlock or serialization race this many
// times before giving up with Unavailable.
constexpr int kWriteAttempts = 5;

}  // namespace

absl::Status PgUserStore::Write(
    absl::FunctionRef<absl::Status(WriteTransaction&)> body) {
  return WriteEach({&body, 1}).front();
}

std::vector<absl::Status> PgUserStore::WriteEach(
    absl::Span<const absl::FunctionRef<absl::Status(WriteTransaction&)>>
        bodies) {
  return write_queue_.WriteEach(
      bodies,
      [this](absl::Span<WriteQueue::Write* const> batch) { RunBatch(batch); });
}

void PgUserStore::RunBatch(absl::Span<WriteQueue::Write* const> batch) {
  if (batch.size() > 1 && WriteBatchOnce(batch)) {
    return;
  }
  for (WriteQueue::Write* write : batch) {
    write->result = WriteAlone(write->body);
  }
}

bool PgUserStore::WriteBatchOnce(absl::Span<WriteQueue::Write* const> batch) {
  auto lease = pool_.Acquire();
  if (!lease.ok()) {
    for (WriteQueue::Write* write : batch) {
      write->result = lease.status();
    }
    return true;
  }
  PgConnection& c = **lease;
  static constexpr char kSavepoint[] = "SAVEPOINT write";
  bool aborted = false;
  int64_t latest = 0;
  absl::Status status = PgGuarded("writing", [&]() -> absl::Status {
    c.SendWithNextStatement("BEGIN ISOLATION LEVEL READ COMMITTED");
    PgWriteTransaction batch_txn(c);
    for (WriteQueue::Write* write : batch) {
      // Savepoints cost no round trip of their own: each goes with the
      // body's first statement, each release with the next body's.
      c.SendWithNextStatement(kSavepoint);
      PgWriteTransaction txn(c);
      write->result = write->body(txn);
      if (write->result.ok()) {
        c.SendWithNextStatement("RELEASE SAVEPOINT write");
        batch_txn.TakeEventsFrom(txn);
        continue;
      }
      if (write->result.code() == absl::StatusCode::kAborted &&
          PQtransactionStatus(c.raw()) == PQTRANS_INERROR) {
        // A deadlock or serialization failure, which may recur as long as
        // the batch holds its locks: each body goes alone instead.
        aborted = true;
        c.Exec("ROLLBACK");
        return absl::OkStatus();
      }
      // A body that sent nothing has nothing to undo.
      if (!c.TakeBackUnsent(kSavepoint)) {
        c.Exec("ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write");
      }
    }
    latest = batch_txn.Commit();
    return absl::OkStatus();
  });
  if (!status.ok() && c.ok() && c.InTransaction()) {
    PgGuarded("rolling back", [&] {
      c.Exec("ROLLBACK");
      return absl::OkStatus();
    }).IgnoreError();
  }
  if (aborted || status.code() == absl::StatusCode::kAborted) {
    return false;  // Raised by a body or by the commit: nothing applied.
  }
  if (!status.ok()) {
    // A failed commit fails every body it covered.
    for (WriteQueue::Write* write : batch) {
      if (write->result.ok()) {
        write->result = status;
      }
    }
  } else if (latest > 0) {
    Publish(latest);
  }
  return true;
}

absl::Status PgUserStore::WriteAlone(
    absl::FunctionRef<absl::Status(WriteTransaction&)> body) {
  absl::Status result;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    bool retry = false;
    result = WriteOnce(body, retry);
    if (!retry) {
      return result;
    }
    // Back off a little, more each time, so racing replicas interleave.
    absl::SleepFor(absl::Milliseconds(2 << attempt));
  }
  return absl::UnavailableError(absl::StrCat(
      "the write kept conflicting with concurrent writes: ", result.message()));
}

absl::Status PgUserStore::WriteOnce(
    absl::FunctionRef<absl::Status(WriteTransaction&)> body, bool& retry) {
  auto lease = pool_.Acquire();
  if (!lease.ok()) {
    return lease.status();
  }
  PgConnection& c = **lease;
  int64_t latest = 0;
  bool body_failed = false;
  absl::Status status = PgGuarded("writing", [&]() -> absl::Status {
    c.SendWithNextStatement("BEGIN ISOLATION LEVEL READ COMMITTED");
    PgWriteTransaction txn(c);
    absl::Status body_status = body(txn);
    if (!body_status.ok()) {
      body_failed = true;
      // Only a database abort is retried; a body's own Aborted (an etag
      // mismatch, say) is its answer.
      retry = body_status.code() == absl::StatusCode::kAborted &&
              PQtransactionStatus(c.raw()) == PQTRANS_INERROR;
      c.Exec("ROLLBACK");
      return body_status;
    }
    latest = txn.Commit();
    return absl::OkStatus();
  });
  if (!body_failed && status.code() == absl::StatusCode::kAborted) {
    retry = true;  // Raised by Commit itself.
  }
  if (!status.ok() && c.ok() && c.InTransaction()) {
    PgGuarded("rolling back", [&] {
      c.Exec("ROLLBACK");
      return absl::OkStatus();
    }).IgnoreError();
  }
  if (status.ok() && latest > 0) {
    Publish(latest);
  }
  return status;
}

}  // namespace roster::storage

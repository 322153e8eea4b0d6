// SqliteUserStore's write path: group commit (see the comment below), one
// SQLite writer connection, and the user cache bracketing every commit.
#include <utility>
#include <vector>

#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "storage/sqlite/sqlite_write_transaction.h"

namespace roster::storage {

// Group commit (WriteQueue): each batch runs every body in its own SAVEPOINT
// inside one BEGIN IMMEDIATE … COMMIT, so one fsync covers many writes.
absl::Status SqliteUserStore::Write(
    absl::FunctionRef<absl::Status(WriteTransaction&)> body) {
  return WriteEach({&body, 1}).front();
}

std::vector<absl::Status> SqliteUserStore::WriteEach(
    absl::Span<const absl::FunctionRef<absl::Status(WriteTransaction&)>>
        bodies) {
  return write_queue_.WriteEach(
      bodies,
      [this](absl::Span<WriteQueue::Write* const> batch) { RunBatch(batch); });
}

void SqliteUserStore::RunBatch(absl::Span<WriteQueue::Write* const> batch) {
  absl::MutexLock lock(&writer_mu_);
  SqliteConnection& c = *writer_;
  c.EndOpenReads();
  // One stat() per batch, beside an fsync: cheap insurance against
  // acknowledging writes into an unlinked file.
  absl::Status begun = c.CheckFileInPlace();
  if (begun.ok()) {
    begun = Guarded("starting a write", [&] {
      c.ExecCached("BEGIN IMMEDIATE");
      return absl::OkStatus();
    });
  }
  if (!begun.ok()) {
    for (WriteQueue::Write* write : batch) {
      write->result = begun;
    }
    return;
  }
  SqliteWriteTransaction txn(c);
  bool any_ok = false;
  for (WriteQueue::Write* write : batch) {
    absl::Status saved = Guarded("starting a write", [&] {
      c.ExecCached("SAVEPOINT write");
      return absl::OkStatus();
    });
    write->result = saved.ok() ? write->body(txn) : saved;
    if (!saved.ok()) {
      continue;
    }
    absl::Status ended = Guarded("ending a write", [&] {
      if (!write->result.ok()) {
        c.ExecCached("ROLLBACK TO write");
      }
      c.ExecCached("RELEASE write");
      return absl::OkStatus();
    });
    if (!ended.ok() && write->result.ok()) {
      write->result = ended;
    }
    any_ok = any_ok || write->result.ok();
  }
  // The cache forgets the users this commit changes before it can become
  // visible, and keeps none of them again until it is, so no reader that
  // sees the commit finds an older record. Rolled-back changes count too,
  // which only costs a re-read.
  const ChangedUsers::Changes changed = changed_users_.Take();
  const bool changed_users =
      !changed.user_ids.empty() || !changed.lookup_keys.empty();
  if (changed_users) {
    user_cache_.BeginCommit(changed.user_ids, changed.lookup_keys);
  }
  absl::Status committed = Guarded("committing", [&] {
    c.ExecCached("COMMIT");
    return absl::OkStatus();
  });
  if (changed_users) {
    if (options_.after_commit_for_testing) {
      options_.after_commit_for_testing();
    }
    // Whether or not the commit held, before any writer of the batch is
    // answered.
    user_cache_.EndCommit();
  }
  if (committed.ok()) {
    if (any_ok && txn.last_sequence() > 0 && commit_listener_) {
      commit_listener_(txn.last_sequence());
    }
    return;
  }
  try {
    c.Exec("ROLLBACK");
  } catch (const std::exception&) {
    // SQLite already rolled the transaction back (e.g. after an I/O error):
    // nothing to undo.
  }
  for (WriteQueue::Write* write : batch) {
    if (write->result.ok()) {
      write->result = committed;
    }
  }
}

}  // namespace roster::storage

#include "storage/sqlite/sqlite_connection.h"

#include <sqlite3.h>

#include <utility>

#include "SQLiteCpp/Exception.h"
#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "storage/sqlite/sqlite_vfs.h"

namespace roster::storage {

absl::Status StatusFromException(const std::exception& e,
                                 absl::string_view what) {
  const auto* sqlite_error = dynamic_cast<const SQLite::Exception*>(&e);
  std::string message = absl::StrCat(what, ": ", e.what());
  if (sqlite_error == nullptr) {
    return absl::InternalError(message);
  }
  const int extended = sqlite_error->getExtendedErrorCode();
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::AlreadyExistsError(message);
    default:
      break;
  }
  switch (sqlite_error->getErrorCode()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      return absl::UnavailableError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

namespace {

// Process-wide settings, which take effect only before SQLite initialises,
// i.e. at the process's first connection; a later call fails harmlessly
// (SQLITE_MISUSE).
bool ConfigureSqlite() {
  // Each write of a group commit runs in its own savepoint, whose statement
  // journal keeps the original of every page the write changes: ~20 pages
  // (~80 KiB) for a created user, more when indexes split. Past the spill
  // bound (64 KiB by default) the journal goes to a file in /var/tmp, and
  // stays there for the rest of the batch (perf: most of the 35 % of
  // create_user's server CPU in pwrite; A/B at 64 creates in flight, a
  // 124 KiB bound took 413-507 us of CPU per create, this one 282-329).
  // Below the bound it is one heap chunk of the bound's size;
  // temp_store=MEMORY instead never spills but chains 1 KiB chunks
  // (callgrind: 602,000 instructions and 351 frees per create, against
  // 514,000 and 233 with one chunk). 2 MiB covers any one write of ours; a
  // chunk that size comes from the heap once glibc has raised its mmap
  // threshold, which it does by itself after the first free, and
  // roster-server sets outright (main.cc). A journal that does spill is
  // written a chunk per call, more than SQLite's unix VFS writes in one, so
  // Roster's VFS splits journal writes (sqlite_vfs.h); without it every
  // statement whose journal passed 2 MiB failed with SQLITE_FULL
  // (MigrationSixRewritesALargeTable).
  sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 2 << 20);
  // With memory statistics on, every sqlite3_malloc and sqlite3_free takes one
  // process-wide mutex, which every connection's thread then contends for
  // (callgrind: ~3,000 of a user read's ~47,000 instructions). Roster reads
  // no SQLite memory statistics.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  // Last: finding the default VFS initialises SQLite, after which
  // sqlite3_config fails.
  return RegisterRosterVfs();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const std::string& path, Mode mode, absl::Duration busy_timeout) {
  static const bool kConfigured = ConfigureSqlite();
  if (!kConfigured) {
    return absl::InternalError(
        "SQLite has no default VFS for Roster's to wrap");
  }
  const int flags = mode == Mode::kWriter
                        ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE
                        : SQLite::OPEN_READWRITE;
  try {
    SQLite::Database db(
        path, flags | SQLITE_OPEN_NOMUTEX,
        static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
    if (mode == Mode::kWriter) {
      db.exec("PRAGMA journal_mode=WAL");
    }
    // FULL: an acknowledged commit survives power loss, not just a process
    // crash.
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA foreign_keys=ON");
    if (mode == Mode::kReader) {
      db.exec("PRAGMA query_only=ON");
    }
    // Private constructor: make_unique cannot reach it.
    return absl::WrapUnique(new SqliteConnection(std::move(db)));
  } catch (const std::exception& e) {
    return StatusFromException(e, absl::StrCat("opening ", path));
  }
}

absl::Status SqliteConnection::CheckFileInPlace() {
  int moved = 0;
  const int rc = sqlite3_file_control(db_.getHandle(), "main",
                                      SQLITE_FCNTL_HAS_MOVED, &moved);
  if (rc != SQLITE_OK || moved != 0) {
    return absl::UnavailableError(
        "the database file was removed or replaced while the server ran; "
        "writes are refused until it is restarted on an intact file");
  }
  return absl::OkStatus();
}

SQLite::Statement& SqliteConnection::Prepare(absl::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    // tryReset, not reset: sqlite3_reset returns the error of the statement's
    // last step, and reset() would throw that stale error here, poisoning the
    // cached statement after a single failure (e.g. a UNIQUE clash).
    it->second->tryReset();
    it->second->clearBindings();
    return *it->second;
  }
  if (statements_.size() >= kMaxCachedStatements) {
    statements_.clear();
  }
  std::string key(sql);
  auto statement = std::make_unique<SQLite::Statement>(db_, key);
  return *statements_.emplace(std::move(key), std::move(statement))
              .first->second;
}

void SqliteConnection::EndOpenReads() {
  sqlite3* const handle = db_.getHandle();
  if (sqlite3_txn_state(handle, nullptr) == SQLITE_TXN_NONE) {
    return;
  }
  for (sqlite3_stmt* s = sqlite3_next_stmt(handle, nullptr); s != nullptr;
       s = sqlite3_next_stmt(handle, s)) {
    if (sqlite3_stmt_busy(s) != 0) {
      // Its SQLiteCpp wrapper resets again at its next use (Prepare).
      sqlite3_reset(s);
    }
  }
}

SQLite::Statement& SqliteConnection::PrepareStatic(const std::string& sql) {
  std::unique_ptr<SQLite::Statement>& statement = static_statements_[&sql];
  if (statement == nullptr) {
    statement = std::make_unique<SQLite::Statement>(db_, sql);
  } else {
    statement->tryReset();  // Not reset(): see Prepare.
    statement->clearBindings();
  }
  return *statement;
}

}  // namespace roster::storage

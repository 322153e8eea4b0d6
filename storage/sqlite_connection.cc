#include "storage/sqlite_connection.h"

#include <sqlite3.h>

#include <utility>

#include "SQLiteCpp/Exception.h"
#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"

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

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const std::string& path, Mode mode, absl::Duration busy_timeout) {
  const int flags = mode == Mode::kWriter
                        ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE
                        : SQLite::OPEN_READWRITE;
  try {
    SQLite::Database db(
        path, flags | SQLITE_OPEN_NOMUTEX,
        static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
    if (mode == Mode::kWriter) {
      db.exec("PRAGMA journal_mode=WAL");
      // Each write of a group commit runs in its own savepoint, whose
      // statement journal keeps the original of every page it changes. A
      // created user changes ~20 pages, past SQLite's 64 KiB spill bound, so
      // by default each write copied ~80 KiB into a file in /var/tmp (most
      // of the 35 % of create_user's server CPU that perf put in pwrite). In
      // memory it is a memcpy, bounded by one write's pages (writes are
      // small; pruning is batched).
      db.exec("PRAGMA temp_store=MEMORY");
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

}  // namespace roster::storage

// One SQLite connection with Roster's pragmas and a cache of prepared
// statements, and the single place that turns SQLiteCpp exceptions into
// absl::Status. Internal to storage/.
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_CONNECTION_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_CONNECTION_H_

#include <exception>
#include <memory>
#include <string>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Statement.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace roster::storage {

// Maps an exception thrown by SQLiteCpp (or the standard library) to a status
// by SQLite's extended result code: UNIQUE/PRIMARY KEY -> AlreadyExists,
// BUSY/LOCKED/READONLY/CANTOPEN/IOERR
// -> Unavailable, FULL -> ResourceExhausted, anything else -> Internal. `what`
// names the operation.
absl::Status StatusFromException(const std::exception& e,
                                 absl::string_view what);

// A connection used by one thread at a time. Thread-compatible.
class SqliteConnection {
 public:
  enum class Mode { kWriter, kReader };

  // Opens (creating it when `mode` is kWriter) the database at `path` with WAL
  // journaling, synchronous=FULL, foreign keys and the busy timeout. Readers
  // are query-only.
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(
      const std::string& path, Mode mode, absl::Duration busy_timeout);

  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // A prepared statement for `sql`, reused across calls: reset, with bindings
  // cleared. Throws SQLite::Exception on a syntax error (callers run under a
  // try block).
  SQLite::Statement& Prepare(absl::string_view sql);

  // Prepare for SQL that lives as long as the connection (a function-local
  // static built once), looked up by its address: a long statement on the
  // hot path is found without hashing and comparing its text (callgrind:
  // ~1,800 instructions for a user read's 1.5 KB of SQL).
  SQLite::Statement& PrepareStatic(const std::string& sql);

  // Runs SQL without results. Throws SQLite::Exception.
  void Exec(const char* sql) { db_.exec(sql); }

  // Exec for a statement run on every call (BEGIN, ROLLBACK): prepared once,
  // so the hot path never parses SQL.
  void ExecCached(absl::string_view sql) { Prepare(sql).exec(); }

  SQLite::Database& db() { return db_; }

  // Resets every statement still stepping, so that the connection holds no
  // read transaction. A statement left on a row keeps its read open past
  // COMMIT and ROLLBACK, with two effects: the connection's next read sees
  // that old snapshot, and SQLite gives its next BEGIN IMMEDIATE (an upgrade
  // from a read) no busy wait, so a lock held for a moment by anyone fails the
  // write at once. Call it where a connection goes back to its pool or starts
  // a write; it costs one call when nothing is open.
  void EndOpenReads();

  // Unavailable when the database file was unlinked or replaced since it was
  // opened (its directory removed, say): writes through this connection would
  // go to a file no later start can see, so they must be refused.
  absl::Status CheckFileInPlace();

 private:
  explicit SqliteConnection(SQLite::Database db) : db_(std::move(db)) {}

  // Dynamic list queries can produce many shapes; the cache is cleared past
  // this size.
  static constexpr size_t kMaxCachedStatements = 256;

  SQLite::Database db_;
  absl::flat_hash_map<std::string, std::unique_ptr<SQLite::Statement>>
      statements_;
  // PrepareStatic's: never evicted, as static SQL is a fixed set.
  absl::flat_hash_map<const std::string*, std::unique_ptr<SQLite::Statement>>
      static_statements_;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_CONNECTION_H_

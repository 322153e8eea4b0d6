// One libpq connection with a cache of prepared statements, the result and
// parameter types used with it, and the single place that turns PostgreSQL
// errors (SQLSTATE) into absl::Status. Internal to storage/postgres/.
//
// Errors are thrown as PgError inside the adapter and turned into a status at
// its boundary (PgGuarded), as SQLiteCpp's exceptions are on the SQLite side:
// a transaction body then reads as straight-line SQL.
#ifndef ROSTER_STORAGE_POSTGRES_PG_CONNECTION_H_
#define ROSTER_STORAGE_POSTGRES_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace roster::storage {

// A database error, already mapped to its status: 23505 (unique) ->
// AlreadyExists; 40001/40P01 (serialization, deadlock) -> Aborted, which
// PgUserStore::Write retries; 53100 (disk full) -> ResourceExhausted;
// connection failures (class 08), shutdown (57P0x), too many connections
// (53300), read-only (25006) and lock or statement timeouts -> Unavailable;
// anything else -> Internal. The message is the server's primary message only:
// never the DETAIL, which can quote row values.
class PgError : public std::runtime_error {
 public:
  explicit PgError(absl::Status status)
      : std::runtime_error(std::string(status.message())),
        status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

// Runs `fn`; a PgError (or any other exception) becomes a status naming `what`.
template <typename Fn>
auto PgGuarded(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const PgError& e) {
    return absl::Status(e.status().code(), std::string(what) + ": " + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string(what) + ": " + e.what());
  }
}

// A parameter's type as the caller bound it. PostgreSQL infers each one's
// type from the statement; FanInStatement (pg_fan_in.h) needs it to send a
// column of them as one array.
enum class PgParamType : char { kText, kInt8, kFloat8, kBytes };

// Query parameters, sent in text format except byte strings (binary).
class PgParams {
 public:
  PgParams() = default;
  // Moves keep each value where it is (a deque's blocks move whole); a copy
  // would point into the original.
  PgParams(PgParams&&) = default;
  PgParams& operator=(PgParams&&) = default;
  PgParams(const PgParams&) = delete;
  PgParams& operator=(const PgParams&) = delete;

  PgParams& Add(absl::string_view text);
  PgParams& Add(const char* text) { return Add(absl::string_view(text)); }
  PgParams& Add(const std::string& text) {
    return Add(absl::string_view(text));
  }
  PgParams& Add(int64_t value);
  PgParams& Add(int32_t value) { return Add(int64_t{value}); }
  PgParams& Add(bool value) { return Add(int64_t{value ? 1 : 0}); }
  PgParams& Add(double value);
  PgParams& AddBytes(absl::string_view bytes);

  int size() const { return static_cast<int>(values_.size()); }
  absl::string_view value(int i) const {
    return values_[static_cast<size_t>(i)];
  }
  PgParamType type(int i) const { return types_[static_cast<size_t>(i)]; }
  const char* const* values() const { return pointers_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  PgParams& Push(std::string value, PgParamType type);

  // A deque never moves its elements on push_back, so each value's data()
  // stays valid and is recorded once.
  std::deque<std::string> values_;
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<PgParamType> types_;
};

// A query's rows, in text format, or a slice of them (Slice). Owns its
// PGresult, shared with its slices.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, PQclear) {}

  ExecStatusType status() const {
    return result_ == nullptr ? PGRES_FATAL_ERROR
                              : PQresultStatus(result_.get());
  }
  const PGresult* raw() const { return result_.get(); }
  int rows() const { return rows_ < 0 ? PQntuples(result_.get()) : rows_; }
  // Rows changed by an INSERT / UPDATE / DELETE.
  int64_t affected() const;
  bool IsNull(int row, int column) const {
    return PQgetisnull(result_.get(), first_row_ + row,
                       first_column_ + column) != 0;
  }
  std::string Text(int row, int column) const {
    return std::string(Value(row, column), Length(row, column));
  }
  int64_t Int(int row, int column) const;
  bool Bool(int row, int column) const { return Int(row, column) != 0; }
  // A bytea column (text format, hex-escaped on the wire).
  std::string Bytes(int row, int column) const;

  // Rows [first_row, first_row + rows) from column `first_column` on, read
  // as a result of their own (row 0 is `first_row`).
  PgResult Slice(int first_row, int rows, int first_column) const {
    PgResult slice = *this;
    slice.first_row_ += first_row;
    slice.rows_ = rows;
    slice.first_column_ += first_column;
    return slice;
  }

 private:
  const char* Value(int row, int column) const {
    return PQgetvalue(result_.get(), first_row_ + row, first_column_ + column);
  }
  size_t Length(int row, int column) const {
    return static_cast<size_t>(
        PQgetlength(result_.get(), first_row_ + row, first_column_ + column));
  }

  std::shared_ptr<PGresult> result_;
  int first_row_ = 0;
  int rows_ = -1;  // Every row.
  int first_column_ = 0;
};

// A statement with its parameters ($1, $2, …), for RunEach.
struct PgStatement {
  std::string sql;
  PgParams params;
};

// A connection used by one thread at a time. Thread-compatible.
class PgConnection {
 public:
  // Connects to `dsn` (a postgres:// URI or key=value string). Unavailable when
  // the server cannot be reached; the message never repeats the DSN, which may
  // hold a password.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Open(
      const std::string& dsn);

  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs `sql` ($1, $2, … bound from `params`) as a statement prepared once per
  // connection and reused. Throws PgError.
  PgResult Run(const std::string& sql, const PgParams& params = PgParams());
  // Runs each statement as Run would, each in a transaction of its own, all
  // in one pipeline: one round trip for the lot. A failed statement fails
  // only its own entry; PgError is thrown only when the connection fails.
  std::vector<absl::StatusOr<PgResult>> RunEach(
      absl::Span<const PgStatement* const> statements);
  // Run, then COMMIT, in the same round trip. A COMMIT after a failed `sql`
  // is not run: the transaction is then left failed, for the caller's
  // ROLLBACK. Throws PgError.
  PgResult RunAndCommit(const std::string& sql, const PgParams& params);
  // Runs SQL text without parameters or preparation (BEGIN, COMMIT, DDL, …).
  // Throws PgError.
  PgResult Exec(const std::string& sql);
  // Sends `sql` (BEGIN, SAVEPOINT, RELEASE …: a statement without parameters
  // whose result only needs to succeed) with the next statement instead of in
  // a round trip of its own: a transaction's first statement then costs one
  // round trip, not two. Queued statements go in the order queued; nothing is
  // sent until that next statement.
  void SendWithNextStatement(std::string sql) {
    pending_.push_back(std::move(sql));
  }
  // Takes `sql` back if it is the last statement queued and still unsent
  // (true); false when it was sent, or never queued.
  bool TakeBackUnsent(absl::string_view sql) {
    if (pending_.empty() || pending_.back() != sql) {
      return false;
    }
    pending_.pop_back();
    return true;
  }

  // Whether this connection's statements run on generic plans (PostgreSQL's
  // plan_cache_mode): right for a lookup by key, whose best plan does not
  // depend on the key; a filter on a rare value needs a plan of its own, so
  // connections start on PostgreSQL's own choice. A switch costs a round
  // trip; a server without the setting is left to plan its own way. Throws
  // PgError when the connection fails.
  void UseGenericPlans(bool generic);
  bool generic_plans() const { return generic_plans_; }

  // False once the connection failed: the pool then drops it.
  bool ok() const { return !broken_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  // True while a transaction is open or failed (not idle).
  bool InTransaction() const {
    return PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
  }
  PGconn* raw() { return conn_.get(); }

 private:
  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  // Throws PgError unless `result` succeeded.
  PgResult Check(PgResult result);
  PgResult Check(PGresult* result) { return Check(PgResult(result)); }
  // Check's result or error, without throwing.
  absl::StatusOr<PgResult> Checked(PGresult* result);
  // The name of `sql`'s prepared statement, and whether it still needs its
  // PREPARE (then recorded by Remember once that succeeded).
  std::pair<std::string, bool> StatementName(const std::string& sql);
  void Remember(const std::string& sql, const std::string& name) {
    statements_.emplace(sql, name);
  }
  // Sends the pending BEGIN (if any), `sql`'s PREPARE (if needed), `sql` and
  // COMMIT (if `commit`) in one pipeline and reads every result; returns
  // `sql`'s and throws the first failure. libpq's pipeline mode skips the
  // statements after a failed one.
  PgResult Pipelined(const std::string& sql, const PgParams& params,
                     bool commit);

  // Dynamic list queries can produce many shapes; past this many the cache
  // is emptied (DEALLOCATE ALL).
  static constexpr size_t kMaxCachedStatements = 256;

  std::unique_ptr<PGconn, Finish> conn_;
  bool generic_plans_ = false;
  bool plan_cache_mode_ = true;  // False once the server refused it.
  absl::flat_hash_map<std::string, std::string> statements_;  // SQL -> name.
  // The next statement's name: never reused, so a PREPARE that failed
  // leaves no gap for another to collide with.
  int64_t next_name_ = 0;
  std::vector<std::string> pending_;  // SendWithNextStatement's, in order.
  // A pipeline whose results could not all be read: the connection's state
  // is unknown, so the pool must close it.
  bool broken_ = false;
};

// Rewrites SQLite-style positional `?` markers into PostgreSQL's $1, $2, …
// (outside quoted literals), so the shared query builders serve both.
std::string NumberPlaceholders(absl::string_view sql);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_CONNECTION_H_

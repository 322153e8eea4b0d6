#include "storage/sqlite_user_store.h"

#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "storage/migrations.h"
#include "storage/sqlite_connection.h"
#include "storage/sqlite_identifier_rows.h"
#include "storage/sqlite_user_rows.h"
#include "storage/user_query_sql.h"

namespace roster::storage {
namespace {

// Runs `fn` and turns any exception into a status naming `what`.
template <typename Fn>
auto Guarded(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return StatusFromException(e, what);
  }
}

// A read snapshot: BEGIN now, ROLLBACK (cheap for a reader) when it goes out of
// scope.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(SqliteConnection& c) : c_(c) { c_.Exec("BEGIN"); }
  ~ReadSnapshot() {
    try {
      c_.Exec("ROLLBACK");
    } catch (const std::exception&) {
      // The transaction is already gone (e.g. the connection failed): nothing
      // to undo.
    }
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  SqliteConnection& c_;
};

class SqliteWriteTransaction final : public WriteTransaction {
 public:
  explicit SqliteWriteTransaction(SqliteConnection& c) : c_(c) {}

  absl::StatusOr<UserRecord> GetUser(absl::string_view user_id) override {
    return Guarded("reading a user", [&] { return LoadUser(c_, user_id); });
  }

  absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      IdentifierKind kind, absl::string_view value) override {
    return Guarded("looking up an identifier",
                   [&]() -> absl::StatusOr<std::optional<std::string>> {
                     return FindIdentifierHolder(c_, kind, value);
                   });
  }

  absl::StatusOr<std::vector<std::string>> FindUnverifiedClaimants(
      IdentifierKind kind, absl::string_view value) override {
    return Guarded("looking up identifier claims",
                   [&]() -> absl::StatusOr<std::vector<std::string>> {
                     return storage::FindUnverifiedClaimants(c_, kind, value);
                   });
  }

  absl::StatusOr<int32_t> CountVerificationSend(absl::string_view address,
                                                Micros now,
                                                Micros window_start) override {
    return Guarded(
        "counting verification codes", [&]() -> absl::StatusOr<int32_t> {
          return storage::CountVerificationSend(c_, address, now, window_start);
        });
  }

  absl::Status AppendEvent(const EventRecord& event) override {
    return Guarded("appending an event", [&] {
      AppendEventRow(event);
      return absl::OkStatus();
    });
  }

  absl::Status PutImage(const ImageRecord& image) override {
    return Guarded("storing an image", [&] {
      InsertImage(c_, image);
      return absl::OkStatus();
    });
  }

  absl::Status DeleteImage(absl::string_view image_id) override {
    return Guarded("deleting an image", [&] {
      storage::DeleteImage(c_, image_id);
      return absl::OkStatus();
    });
  }

  absl::Status InsertUser(const UserRecord& user,
                          const EventRecord& event) override {
    return Guarded("inserting a user", [&] {
      auto& s = c_.Prepare(kInsertUser);
      BindUser(s, user);
      s.exec();
      InsertIdentifiers(c_, user);
      AppendEventRow(event);
      return absl::OkStatus();
    });
  }

  absl::Status UpdateUser(const UserRecord& user,
                          const EventRecord& event) override {
    return Guarded("updating a user", [&] {
      auto& s = c_.Prepare(kUpdateUser);
      BindUser(s, user);
      if (s.exec() == 0) {
        return absl::NotFoundError(
            absl::StrCat("user ", user.id, " not found"));
      }
      // The record's identifier lists are the truth: rewrite them (ids and
      // times are kept in the records, nothing references these rows).
      for (const char* table :
           {"email_addresses", "phone_numbers", "external_accounts"}) {
        auto& clear = c_.Prepare(
            absl::StrCat("DELETE FROM ", table, " WHERE user_id = ?"));
        clear.bind(1, user.id);
        clear.exec();
      }
      InsertIdentifiers(c_, user);
      AppendEventRow(event);
      return absl::OkStatus();
    });
  }

  absl::Status DeleteUser(absl::string_view user_id,
                          const EventRecord& event) override {
    return Guarded("deleting a user", [&] {
      auto& s = c_.Prepare("DELETE FROM users WHERE id = ?");
      s.bind(1, std::string(user_id));
      if (s.exec() == 0) {
        return absl::NotFoundError(
            absl::StrCat("user ", user_id, " not found"));
      }
      AppendEventRow(event);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<SessionRecord> GetSession(
      absl::string_view session_id) override {
    return Guarded("reading a session",
                   [&] { return LoadSession(c_, session_id); });
  }

  absl::StatusOr<std::vector<SessionRecord>> ListSessions(
      absl::string_view user_id) override {
    return Guarded("listing sessions",
                   [&]() -> absl::StatusOr<std::vector<SessionRecord>> {
                     return LoadSessions(c_, user_id);
                   });
  }

  absl::Status InsertSession(const SessionRecord& session,
                             const EventRecord& event) override {
    return Guarded("inserting a session", [&] {
      WriteSession(c_, session);
      AppendEventRow(event);
      return absl::OkStatus();
    });
  }

  absl::Status UpdateSession(const SessionRecord& session,
                             const EventRecord& event) override {
    return Guarded("updating a session", [&] {
      WriteSession(c_, session);
      AppendEventRow(event);
      return absl::OkStatus();
    });
  }

  absl::Status TouchSession(absl::string_view session_id,
                            Micros last_active_at) override {
    return Guarded("touching a session", [&] {
      auto& s = c_.Prepare(
          "UPDATE sessions SET last_active_at = MAX(last_active_at, ?) "
          "WHERE id = ?");
      s.bind(1, last_active_at);
      s.bind(2, std::string(session_id));
      s.exec();
      auto& user = c_.Prepare(
          "UPDATE users SET last_active_at = MAX(last_active_at, ?) "
          "WHERE id = (SELECT user_id FROM sessions WHERE id = ?)");
      user.bind(1, last_active_at);
      user.bind(2, std::string(session_id));
      user.exec();
      return absl::OkStatus();
    });
  }

  absl::Status ReplacePasswordHash(absl::string_view user_id,
                                   absl::string_view old_hash,
                                   absl::string_view new_hash) override {
    return Guarded("upgrading a password hash", [&] {
      auto& s = c_.Prepare(
          "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = "
          "?");
      s.bind(1, std::string(new_hash));
      s.bind(2, std::string(user_id));
      s.bind(3, std::string(old_hash));
      s.exec();
      return absl::OkStatus();
    });
  }

  absl::Status UpdateSignInState(absl::string_view user_id,
                                 int32_t failed_password_attempts,
                                 Micros locked_until, Micros last_sign_in_at,
                                 Micros last_active_at) override {
    return Guarded("recording a sign-in attempt", [&] {
      auto& s = c_.Prepare(
          "UPDATE users SET failed_password_attempts = ?, locked_until = ?, "
          "last_sign_in_at = ?, last_active_at = ? WHERE id = ?");
      s.bind(1, failed_password_attempts);
      s.bind(2, locked_until);
      s.bind(3, last_sign_in_at);
      s.bind(4, last_active_at);
      s.bind(5, std::string(user_id));
      if (s.exec() == 0) {
        return absl::NotFoundError(
            absl::StrCat("user ", user_id, " not found"));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> PruneEvents(Micros cutoff,
                                      int64_t max_events) override {
    return Guarded("pruning events", [&]() -> absl::StatusOr<int64_t> {
      // Delete a prefix of the log: up to the newest of the oldest `max_events`
      // events created before the cutoff, so "everything at or below
      // pruned_through is gone" stays exact even if the clock stepped back.
      auto& last = c_.Prepare(
          "SELECT MAX(sequence), COUNT(*) FROM (SELECT sequence FROM events "
          "WHERE created_at < ? ORDER BY sequence LIMIT ?)");
      last.bind(1, cutoff);
      last.bind(2, max_events);
      last.executeStep();
      if (last.getColumn(0).isNull()) {
        last.reset();
        return int64_t{0};
      }
      const int64_t through = last.getColumn(0).getInt64();
      last.reset();
      auto& del = c_.Prepare("DELETE FROM events WHERE sequence <= ?");
      del.bind(1, through);
      const int64_t deleted = del.exec();
      auto& mark = c_.Prepare(
          "UPDATE event_log SET pruned_through = MAX(pruned_through, ?)");
      mark.bind(1, through);
      mark.exec();
      return deleted;
    });
  }

  // The newest sequence appended in this transaction (0 when none).
  int64_t last_sequence() const { return last_sequence_; }

  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotencyKey(
      absl::string_view request_id) override {
    return Guarded(
        "reading an idempotency key",
        [&]() -> absl::StatusOr<std::optional<IdempotencyRecord>> {
          auto& s = c_.Prepare(
              "SELECT request_hash, user_id, created_at FROM idempotency_keys "
              "WHERE request_id = ?");
          s.bind(1, std::string(request_id));
          if (!s.executeStep()) {
            return std::nullopt;
          }
          IdempotencyRecord r;
          r.request_id = std::string(request_id);
          r.request_hash = s.getColumn(0).getString();
          r.user_id = s.getColumn(1).getString();
          r.created_at = s.getColumn(2).getInt64();
          return r;
        });
  }

  absl::Status PutIdempotencyKey(const IdempotencyRecord& record) override {
    return Guarded("writing an idempotency key", [&] {
      auto& s = c_.Prepare(
          "INSERT INTO idempotency_keys (request_id, request_hash, user_id, "
          "created_at) "
          "VALUES (?, ?, ?, ?)");
      s.bind(1, record.request_id);
      s.bind(2, record.request_hash);
      s.bind(3, record.user_id);
      s.bind(4, record.created_at);
      s.exec();
      return absl::OkStatus();
    });
  }

 private:
  void AppendEventRow(const EventRecord& event) {
    auto& s = c_.Prepare(
        "INSERT INTO events (id, type, user_id, created_at, payload, "
        "request_id, actor) VALUES (?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, event.id);
    s.bind(2, event.type);
    s.bind(3, event.user_id);
    s.bind(4, event.created_at);
    s.bind(5, event.payload.data(), static_cast<int>(event.payload.size()));
    s.bind(6, event.request_id);
    s.bind(7, event.actor);
    s.exec();
    last_sequence_ = c_.db().getLastInsertRowid();
  }

  SqliteConnection& c_;
  int64_t last_sequence_ = 0;
};

}  // namespace

// Returns its connection to the pool when destroyed.
class SqliteUserStore::ReaderLease {
 public:
  ReaderLease(SqliteUserStore* store, std::unique_ptr<SqliteConnection> c)
      : store_(store), c_(std::move(c)) {}
  ReaderLease(ReaderLease&&) = default;
  ReaderLease& operator=(ReaderLease&&) = delete;
  ~ReaderLease() {
    if (c_ != nullptr) {
      store_->ReleaseReader(std::move(c_));
    }
  }
  SqliteConnection& operator*() { return *c_; }

 private:
  SqliteUserStore* store_;  // Not owned.
  std::unique_ptr<SqliteConnection> c_;
};

absl::StatusOr<std::unique_ptr<SqliteUserStore>> SqliteUserStore::Open(
    const SqliteOptions& options) {
  auto writer = SqliteConnection::Open(
      options.path, SqliteConnection::Mode::kWriter, options.busy_timeout);
  if (!writer.ok()) {
    return writer.status();
  }
  absl::Status migrated = Migrate(**writer);
  if (!migrated.ok()) {
    return migrated;
  }
  // Private constructor: make_unique cannot reach it.
  auto store =
      absl::WrapUnique(new SqliteUserStore(options, *std::move(writer)));
  // Open one reader now so that a database readers cannot open fails at
  // start-up, not later.
  auto reader = store->AcquireReader();
  if (!reader.ok()) {
    return reader.status();
  }
  return store;
}

SqliteUserStore::SqliteUserStore(SqliteOptions options,
                                 std::unique_ptr<SqliteConnection> writer)
    : options_(std::move(options)), writer_(std::move(writer)) {}

SqliteUserStore::~SqliteUserStore() = default;

absl::StatusOr<SqliteUserStore::ReaderLease> SqliteUserStore::AcquireReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<SqliteConnection> c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(c));
    }
  }
  auto c = SqliteConnection::Open(
      options_.path, SqliteConnection::Mode::kReader, options_.busy_timeout);
  if (!c.ok()) {
    return c.status();
  }
  return ReaderLease(this, *std::move(c));
}

void SqliteUserStore::ReleaseReader(
    std::unique_ptr<SqliteConnection> connection) {
  absl::MutexLock lock(&readers_mu_);
  if (static_cast<int>(idle_readers_.size()) < options_.max_idle_readers) {
    idle_readers_.push_back(std::move(connection));
  }
}

absl::StatusOr<UserRecord> SqliteUserStore::GetUser(absl::string_view user_id) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("reading a user", [&] {
    ReadSnapshot snapshot(**lease);
    return LoadUser(**lease, user_id);
  });
}

absl::StatusOr<UserPage> SqliteUserStore::ListUsers(
    const UserPageQuery& query) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  SqliteConnection& c = **lease;
  return Guarded("listing users", [&]() -> absl::StatusOr<UserPage> {
    ReadSnapshot snapshot(c);
    const SqlClause where = UserFilterSql(query.filter);
    UserPage page;
    {
      auto& count = c.Prepare(
          absl::StrCat("SELECT COUNT(*) FROM users u WHERE ", where.sql));
      BindParams(count, where.params, 1);
      count.executeStep();
      page.total_count = count.getColumn(0).getInt64();
      count.reset();
    }
    const char* column = OrderColumn(query.order.key);
    const char* direction = query.order.descending ? "DESC" : "ASC";
    std::string sql = absl::StrCat("SELECT ", kUserColumns, ", ", column,
                                   " FROM users u WHERE ", where.sql);
    std::vector<SqlValue> params = where.params;
    if (query.after.has_value()) {
      SqlClause after = AfterCursorSql(query.order, *query.after);
      absl::StrAppend(&sql, " AND ", after.sql);
      params.insert(params.end(), after.params.begin(), after.params.end());
    }
    absl::StrAppend(&sql, " ORDER BY ", column, " ", direction, ", u.id ",
                    direction, " LIMIT ? OFFSET ?");
    // One row beyond the page tells whether another page follows.
    params.emplace_back(int64_t{query.limit} + 1);
    params.emplace_back(query.offset);
    auto& s = c.Prepare(sql);
    BindParams(s, params, 1);
    std::optional<UserCursor> last;
    while (s.executeStep()) {
      if (static_cast<int>(page.users.size()) == query.limit) {
        page.next = last;
        break;
      }
      page.users.push_back(ReadUserRow(s));
      UserCursor cursor;
      cursor.id = page.users.back().id;
      if (IsTextOrderKey(query.order.key)) {
        cursor.sort_value = s.getColumn(kUserColumnCount).getString();
      } else {
        cursor.sort_value = s.getColumn(kUserColumnCount).getInt64();
      }
      last = std::move(cursor);
    }
    s.reset();
    for (auto& user : page.users) {
      LoadIdentifiers(c, user);
    }
    return page;
  });
}

absl::StatusOr<int64_t> SqliteUserStore::CountUsers(const UserFilter& filter) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  SqliteConnection& c = **lease;
  return Guarded("counting users", [&]() -> absl::StatusOr<int64_t> {
    const SqlClause where = UserFilterSql(filter);
    auto& s = c.Prepare(
        absl::StrCat("SELECT COUNT(*) FROM users u WHERE ", where.sql));
    BindParams(s, where.params, 1);
    s.executeStep();
    const int64_t count = s.getColumn(0).getInt64();
    s.reset();
    return count;
  });
}

absl::Status SqliteUserStore::Write(
    absl::FunctionRef<absl::Status(WriteTransaction&)> body) {
  absl::MutexLock lock(&writer_mu_);
  SqliteConnection& c = *writer_;
  absl::Status begun = Guarded("starting a write", [&] {
    c.Exec("BEGIN IMMEDIATE");
    return absl::OkStatus();
  });
  if (!begun.ok()) {
    return begun;
  }
  SqliteWriteTransaction txn(c);
  absl::Status status = body(txn);
  if (status.ok()) {
    status = Guarded("committing", [&] {
      c.Exec("COMMIT");
      return absl::OkStatus();
    });
    if (status.ok()) {
      if (txn.last_sequence() > 0 && commit_listener_) {
        commit_listener_(txn.last_sequence());
      }
      return status;
    }
  }
  try {
    c.Exec("ROLLBACK");
  } catch (const std::exception&) {
    // SQLite already rolled the transaction back (e.g. after an I/O error):
    // nothing to undo.
  }
  return status;
}

absl::StatusOr<SessionRecord> SqliteUserStore::GetSession(
    absl::string_view session_id) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("reading a session",
                 [&] { return LoadSession(**lease, session_id); });
}

absl::StatusOr<std::vector<SessionRecord>> SqliteUserStore::ListSessions(
    absl::string_view user_id) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("listing sessions",
                 [&]() -> absl::StatusOr<std::vector<SessionRecord>> {
                   return LoadSessions(**lease, user_id);
                 });
}

absl::StatusOr<std::string> SqliteUserStore::GetIdentifierOwner(
    absl::string_view identifier_id) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("finding an identifier", [&]() -> absl::StatusOr<std::string> {
    auto& s = (**lease).Prepare(
        "SELECT user_id FROM email_addresses WHERE id = ?1 UNION ALL "
        "SELECT user_id FROM phone_numbers WHERE id = ?1 UNION ALL "
        "SELECT user_id FROM external_accounts WHERE id = ?1");
    s.bind(1, std::string(identifier_id));
    if (!s.executeStep()) {
      return absl::NotFoundError("identifier not found");
    }
    std::string owner = s.getColumn(0).getString();
    s.reset();
    return owner;
  });
}

absl::StatusOr<std::optional<std::string>>
SqliteUserStore::FindUserIdByIdentifier(IdentifierKind kind,
                                        absl::string_view value) {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  return Guarded("looking up an identifier",
                 [&]() -> absl::StatusOr<std::optional<std::string>> {
                   return FindIdentifierHolder(**lease, kind, value);
                 });
}

absl::StatusOr<ImageRecord> SqliteUserStore::GetImage(
    absl::string_view image_id) {
  auto lease = AcquireReader();
  if (!lease.ok()) return lease.status();
  return Guarded("reading an image",
                 [&] { return LoadImage(**lease, image_id); });
}

absl::StatusOr<EventBatch> SqliteUserStore::ReadEvents(
    const EventQuery& query) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  SqliteConnection& c = **lease;
  return Guarded("reading events", [&]() -> absl::StatusOr<EventBatch> {
    ReadSnapshot snapshot(c);
    EventBatch batch;
    {
      auto& bounds = c.Prepare(
          "SELECT (SELECT pruned_through FROM event_log), "
          "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), "
          "0)");
      bounds.executeStep();
      batch.pruned_through = bounds.getColumn(0).getInt64();
      batch.latest = bounds.getColumn(1).getInt64();
      bounds.reset();
    }
    std::string sql =
        "SELECT sequence, id, type, user_id, created_at, payload, request_id, "
        "actor FROM events WHERE sequence > ?";
    std::vector<SqlValue> params = {query.after_sequence};
    if (!query.types.empty()) {
      absl::StrAppend(&sql, " AND type IN (");
      for (size_t i = 0; i < query.types.size(); ++i) {
        absl::StrAppend(&sql, i == 0 ? "?" : ", ?");
        params.emplace_back(query.types[i]);
      }
      absl::StrAppend(&sql, ")");
    }
    if (!query.user_id.empty()) {
      absl::StrAppend(&sql, " AND user_id = ?");
      params.emplace_back(query.user_id);
    }
    absl::StrAppend(&sql, " ORDER BY sequence LIMIT ? OFFSET ?");
    params.emplace_back(int64_t{query.limit});
    params.emplace_back(query.offset);
    auto& s = c.Prepare(sql);
    BindParams(s, params, 1);
    while (s.executeStep()) {
      EventRecord e;
      e.sequence = s.getColumn(0).getInt64();
      e.id = s.getColumn(1).getString();
      e.type = s.getColumn(2).getString();
      e.user_id = s.getColumn(3).getString();
      e.created_at = s.getColumn(4).getInt64();
      const auto payload = s.getColumn(5);
      e.payload.assign(static_cast<const char*>(payload.getBlob()),
                       static_cast<size_t>(payload.getBytes()));
      e.request_id = s.getColumn(6).getString();
      e.actor = s.getColumn(7).getString();
      batch.events.push_back(std::move(e));
    }
    s.reset();
    return batch;
  });
}

void SqliteUserStore::SetCommitListener(
    std::function<void(int64_t latest_sequence)> listener) {
  absl::MutexLock lock(&writer_mu_);
  commit_listener_ = std::move(listener);
}

}  // namespace roster::storage

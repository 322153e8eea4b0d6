#include "storage/sqlite/sqlite_user_store.h"

#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "storage/read_sql.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_migrations.h"
#include "storage/sqlite/sqlite_user_rows.h"
#include "storage/sqlite/sqlite_write_transaction.h"
#include "storage/user_query_sql.h"
#include "storage/user_row.h"

namespace roster::storage {
namespace {

// A read snapshot: BEGIN now, ROLLBACK (cheap for a reader) when it goes out of
// scope.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(SqliteConnection& c) : c_(c) { c_.ExecCached("BEGIN"); }
  ~ReadSnapshot() {
    try {
      c_.ExecCached("ROLLBACK");
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

// How many users `where` matches. Throws on storage errors.
int64_t CountMatches(SqliteConnection& c, const SqlClause& where) {
  const SqlClause count = CountUsersSql(where);
  auto& s = c.Prepare(count.sql);
  BindParams(s, count.params, 1);
  s.executeStep();
  const int64_t n = s.getColumn(0).getInt64();
  s.reset();
  return n;
}

// True when the filter names users by identifier (email address, phone
// number, username, external id or id): a lookup through unique indexes that
// matches a few users, usually one.
bool NamesUsers(const UserFilter& filter) {
  return !filter.email_addresses.empty() || !filter.phone_numbers.empty() ||
         !filter.usernames.empty() || !filter.external_ids.empty() ||
         !filter.user_ids.empty();
}

// The UserCache lookup key of a query that names one user by one identifier
// value and asks for nothing else (so its answer is that user alone, or no
// one); empty for any other query. Lists every field of UserFilter, so that
// no condition is ever dropped from a lookup (see UserFilter).
std::string SingleLookupKey(const UserPageQuery& query) {
  const UserFilter& f = query.filter;
  if (query.offset != 0 || query.after.has_value() || query.limit < 1 ||
      !f.user_ids.empty() || !f.query.empty() ||
      !f.email_address_query.empty() || !f.phone_number_query.empty() ||
      !f.username_query.empty() || !f.name_query.empty() ||
      f.banned.has_value() || f.created_at_before.has_value() ||
      f.created_at_after.has_value() || f.last_sign_in_at_before.has_value() ||
      f.last_sign_in_at_after.has_value() ||
      f.last_active_at_before.has_value() ||
      f.last_active_at_after.has_value() || !f.metadata_filters.empty()) {
    return "";
  }
  std::string key;
  int lists = 0;
  for (auto [values, kind] :
       {std::pair{&f.email_addresses, IdentifierKind::kEmailAddress},
        std::pair{&f.phone_numbers, IdentifierKind::kPhoneNumber},
        std::pair{&f.usernames, IdentifierKind::kUsername},
        std::pair{&f.external_ids, IdentifierKind::kExternalId}}) {
    if (values->empty()) {
      continue;
    }
    ++lists;
    if (values->size() == 1 && !values->front().empty()) {
      key = LookupKey(kind, values->front());
    }
  }
  return lists == 1 ? key : "";
}

// The page that a lookup naming `user` alone returns.
UserPage PageOfOne(const UserRecord& user) {
  UserPage page;
  page.users.push_back(user);
  page.total_count = 1;
  return page;
}

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
  {
    absl::MutexLock lock(&store->writer_mu_);
    absl::Status tracked = store->changed_users_.Attach(*store->writer_);
    if (!tracked.ok()) {
      return tracked;
    }
  }
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
    : options_(std::move(options)),
      writer_(std::move(writer)),
      user_cache_(options_.user_cache_bytes),
      write_queue_(options_.max_batch_writes) {}

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
  connection->EndOpenReads();
  absl::MutexLock lock(&readers_mu_);
  if (static_cast<int>(idle_readers_.size()) < options_.max_idle_readers) {
    idle_readers_.push_back(std::move(connection));
  }
}

absl::StatusOr<UserRecord> SqliteUserStore::GetUser(absl::string_view user_id) {
  if (auto cached = user_cache_.Find(user_id)) {
    return *cached;
  }
  // Taken before the read: a commit that lands during it makes what the read
  // returns unfit to keep.
  const uint64_t generation = user_cache_.generation();
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  auto user =
      Guarded("reading a user", [&] { return LoadUser(**lease, user_id); });
  if (!user.ok() || !user_cache_.enabled()) {
    return user;
  }
  auto shared = std::make_shared<const UserRecord>(*std::move(user));
  user_cache_.Insert(shared, generation);
  return *shared;
}

absl::StatusOr<UserPage> SqliteUserStore::ListUsers(
    const UserPageQuery& query) {
  const SqlClause where = UserFilterSql(query.filter);
  // A query naming users by identifier, or by one metadata value, is
  // answered from the cache when it finds one cached user.
  const bool names_users = NamesUsers(query.filter);
  const bool lookup =
      (names_users || !where.lookup_sql.empty()) && user_cache_.enabled();
  const std::string lookup_key = lookup ? SingleLookupKey(query) : "";
  if (!lookup_key.empty()) {
    if (auto user = user_cache_.FindLookup(lookup_key)) {
      return PageOfOne(*user);
    }
  }
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  SqliteConnection& c = **lease;
  return Guarded("listing users", [&]() -> absl::StatusOr<UserPage> {
    if (lookup) {
      if (std::optional<UserPage> page =
              ListOneFromCache(c, query, where, lookup_key)) {
        return *std::move(page);
      }
    }
    const uint64_t generation = lookup ? user_cache_.generation() : 0;
    ReadSnapshot snapshot(c);
    // The identifiers column, then the order key for the page token.
    const SqlClause select =
        UserPageSql(query, where, SqlDialect::kSqlite, ", u.identifiers");
    auto& s = c.Prepare(select.sql);
    BindParams(s, select.params, 1);
    UserPageBuilder builder(query, kUserColumnCount + 1);
    std::vector<size_t> without_column;  // Indexes into the page's users.
    while (s.executeStep()) {
      UserRecord* user = builder.Add(SqliteRow{s});
      if (user == nullptr) {
        break;
      }
      if (!ReadIdentifierColumn(s, kUserColumnCount, *user)) {
        without_column.push_back(builder.page().users.size() - 1);
      }
    }
    s.reset();
    if (builder.NeedsCount()) {
      builder.page().total_count = CountMatches(c, where);
    }
    UserPage& page = builder.page();
    for (size_t index : without_column) {
      LoadIdentifiers(c, page.users[index]);  // The same snapshot as the row.
    }
    // Kept only for lookups: a scan through pages would push out the users
    // that are read again. A metadata value names one user or many.
    const bool keep = lookup && (names_users || page.users.size() == 1);
    for (const UserRecord& user : page.users) {
      if (keep) {
        user_cache_.Insert(std::make_shared<const UserRecord>(user),
                           generation);
      }
    }
    if (!lookup_key.empty() && page.users.size() == 1 &&
        page.total_count == 1) {
      user_cache_.InsertLookup(lookup_key, page.users.front().id, generation);
    }
    return page;
  });
}

std::optional<UserPage> SqliteUserStore::ListOneFromCache(
    SqliteConnection& c, const UserPageQuery& query, const SqlClause& where,
    const std::string& lookup_key) {
  if (query.offset != 0 || query.after.has_value() || query.limit < 1) {
    return std::nullopt;
  }
  const uint64_t generation = user_cache_.generation();
  // One statement is its own snapshot, begun after the generation was taken.
  auto& s = c.Prepare(where.lookup_sql.empty()
                          ? absl::StrCat("SELECT u.id FROM users u WHERE ",
                                         where.sql, " LIMIT 2")
                          : where.lookup_sql);
  BindParams(s, where.params, 1);
  std::string id;
  bool several = false;
  while (!several && s.executeStep()) {
    std::string next = s.getColumn(0).getString();
    several = !id.empty() && next != id;
    id = std::move(next);
  }
  s.reset();
  if (several) {
    return std::nullopt;
  }
  UserPage page;
  if (id.empty()) {
    return page;
  }
  std::shared_ptr<const UserRecord> user = user_cache_.FindAsOf(id, generation);
  if (user == nullptr) {
    return std::nullopt;
  }
  if (!lookup_key.empty()) {
    user_cache_.InsertLookup(lookup_key, id, generation);
  }
  return PageOfOne(*user);
}

absl::StatusOr<int64_t> SqliteUserStore::CountUsers(const UserFilter& filter) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  SqliteConnection& c = **lease;
  return Guarded("counting users", [&]() -> absl::StatusOr<int64_t> {
    return CountMatches(c, UserFilterSql(filter));
  });
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
    static const std::string* const kSql =
        new std::string(IdentifierOwnerSql(SqlDialect::kSqlite));
    auto& s = (**lease).PrepareStatic(*kSql);
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
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("looking up an identifier",
                 [&]() -> absl::StatusOr<std::optional<std::string>> {
                   return FindIdentifierHolder(**lease, kind, value);
                 });
}

absl::StatusOr<ImageRecord> SqliteUserStore::GetImage(
    absl::string_view image_id) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("reading an image",
                 [&] { return LoadImage(**lease, image_id); });
}

absl::StatusOr<InvitationPage> SqliteUserStore::ListInvitations(
    const InvitationQuery& query) {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("listing invitations",
                 [&]() -> absl::StatusOr<InvitationPage> {
                   return LoadInvitationPage(**lease, query);
                 });
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
    const SqlClause events = EventsSql(query);
    auto& s = c.Prepare(events.sql);
    BindParams(s, events.params, 1);
    while (s.executeStep()) {
      batch.events.push_back(ReadEventRow(SqliteRow{s}));
    }
    s.reset();
    return batch;
  });
}

absl::StatusOr<std::vector<std::string>> SqliteUserStore::ListDataKeyIds() {
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return Guarded("listing data key ids",
                 [&]() -> absl::StatusOr<std::vector<std::string>> {
                   auto& s = (**lease).Prepare(
                       "SELECT totp_key_id FROM users WHERE totp_key_id "
                       "!= '' UNION SELECT key_id FROM oauth_tokens");
                   std::vector<std::string> ids;
                   while (s.executeStep()) {
                     ids.push_back(s.getColumn(0).getString());
                   }
                   s.reset();
                   return ids;
                 });
}

absl::Status SqliteUserStore::CheckReachable() {
  // The file is embedded: reachable while a reader can open it and it is still
  // the file the writer writes.
  auto lease = AcquireReader();
  if (!lease.ok()) {
    return lease.status();
  }
  return (**lease).CheckFileInPlace();
}

std::optional<UserCacheStats> SqliteUserStore::GetUserCacheStats() {
  if (!user_cache_.enabled()) {
    return std::nullopt;
  }
  UserCacheStats stats;
  stats.hits = user_cache_.hits();
  stats.misses = user_cache_.misses();
  stats.lookup_hits = user_cache_.lookup_hits();
  stats.bytes = static_cast<int64_t>(user_cache_.bytes());
  return stats;
}

void SqliteUserStore::SetCommitListener(
    std::function<void(int64_t latest_sequence)> listener) {
  absl::MutexLock lock(&writer_mu_);
  commit_listener_ = std::move(listener);
}

}  // namespace roster::storage

#include "storage/sqlite_user_store.h"

#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/migrations.h"
#include "storage/sqlite_connection.h"
#include "storage/user_query_sql.h"

namespace roster::storage {
namespace {

// Column order shared by every SELECT of users and by ReadUserRow.
constexpr char kUserColumns[] =
    "u.id, u.external_id, u.username, u.first_name, u.last_name, u.image_url, "
    "u.primary_email_address_id, u.primary_phone_number_id, u.public_metadata, "
    "u.private_metadata, u.unsafe_metadata, u.password_hash, u.banned, u.two_factor_enabled, "
    "u.delete_self_enabled, u.failed_password_attempts, u.locked_until, u.last_sign_in_at, "
    "u.last_active_at, u.created_at, u.updated_at, u.version";
constexpr int kUserColumnCount = 22;

// Parameters ?1..?24 in this order; ?1 is the id.
constexpr char kInsertUser[] =
    "INSERT INTO users (id, external_id, username, first_name, last_name, image_url, "
    "primary_email_address_id, primary_phone_number_id, public_metadata, private_metadata, "
    "unsafe_metadata, password_hash, banned, two_factor_enabled, delete_self_enabled, "
    "failed_password_attempts, locked_until, last_sign_in_at, last_active_at, created_at, "
    "updated_at, version, primary_email_address, primary_phone_number) VALUES (?1, ?2, ?3, ?4, "
    "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
    "?24)";
constexpr char kUpdateUser[] =
    "UPDATE users SET external_id = ?2, username = ?3, first_name = ?4, last_name = ?5, "
    "image_url = ?6, primary_email_address_id = ?7, primary_phone_number_id = ?8, "
    "public_metadata = ?9, private_metadata = ?10, unsafe_metadata = ?11, password_hash = ?12, "
    "banned = ?13, two_factor_enabled = ?14, delete_self_enabled = ?15, "
    "failed_password_attempts = ?16, locked_until = ?17, last_sign_in_at = ?18, "
    "last_active_at = ?19, created_at = ?20, updated_at = ?21, version = ?22, "
    "primary_email_address = ?23, primary_phone_number = ?24 WHERE id = ?1";

UserRecord ReadUserRow(SQLite::Statement& s) {
  UserRecord u;
  u.id = s.getColumn(0).getString();
  u.external_id = s.getColumn(1).getString();
  u.username = s.getColumn(2).getString();
  u.first_name = s.getColumn(3).getString();
  u.last_name = s.getColumn(4).getString();
  u.image_url = s.getColumn(5).getString();
  u.primary_email_address_id = s.getColumn(6).getString();
  u.primary_phone_number_id = s.getColumn(7).getString();
  u.public_metadata = s.getColumn(8).getString();
  u.private_metadata = s.getColumn(9).getString();
  u.unsafe_metadata = s.getColumn(10).getString();
  u.password_hash = s.getColumn(11).getString();
  u.banned = s.getColumn(12).getInt() != 0;
  u.two_factor_enabled = s.getColumn(13).getInt() != 0;
  u.delete_self_enabled = s.getColumn(14).getInt() != 0;
  u.failed_password_attempts = s.getColumn(15).getInt();
  u.locked_until = s.getColumn(16).getInt64();
  u.last_sign_in_at = s.getColumn(17).getInt64();
  u.last_active_at = s.getColumn(18).getInt64();
  u.created_at = s.getColumn(19).getInt64();
  u.updated_at = s.getColumn(20).getInt64();
  u.version = s.getColumn(21).getInt64();
  return u;
}

// The denormalised sort keys: the primary identifiers' values.
template <typename Record, typename Field>
std::string PrimaryValue(const std::vector<Record>& records, const std::string& primary_id,
                         Field field) {
  for (const auto& r : records) {
    if (r.id == primary_id) {
      return r.*field;
    }
  }
  return "";
}

void BindUser(SQLite::Statement& s, const UserRecord& u) {
  s.bind(1, u.id);
  s.bind(2, u.external_id);
  s.bind(3, u.username);
  s.bind(4, u.first_name);
  s.bind(5, u.last_name);
  s.bind(6, u.image_url);
  s.bind(7, u.primary_email_address_id);
  s.bind(8, u.primary_phone_number_id);
  s.bind(9, u.public_metadata);
  s.bind(10, u.private_metadata);
  s.bind(11, u.unsafe_metadata);
  s.bind(12, u.password_hash);
  s.bind(13, u.banned ? 1 : 0);
  s.bind(14, u.two_factor_enabled ? 1 : 0);
  s.bind(15, u.delete_self_enabled ? 1 : 0);
  s.bind(16, u.failed_password_attempts);
  s.bind(17, u.locked_until);
  s.bind(18, u.last_sign_in_at);
  s.bind(19, u.last_active_at);
  s.bind(20, u.created_at);
  s.bind(21, u.updated_at);
  s.bind(22, u.version);
  s.bind(23, PrimaryValue(u.email_addresses, u.primary_email_address_id,
                          &EmailAddressRecord::email_address));
  s.bind(24, PrimaryValue(u.phone_numbers, u.primary_phone_number_id,
                          &PhoneNumberRecord::phone_number));
}

void BindParams(SQLite::Statement& s, const std::vector<SqlValue>& params, int first_index) {
  int index = first_index;
  for (const auto& p : params) {
    std::visit([&](const auto& v) { s.bind(index, v); }, p);
    ++index;
  }
}

VerificationRecord ReadVerification(SQLite::Statement& s, int first_column) {
  VerificationRecord v;
  v.status = static_cast<VerificationStatus>(s.getColumn(first_column).getInt());
  v.strategy = s.getColumn(first_column + 1).getString();
  v.attempts = s.getColumn(first_column + 2).getInt();
  v.expire_at = s.getColumn(first_column + 3).getInt64();
  return v;
}

void BindVerification(SQLite::Statement& s, int first_index, const VerificationRecord& v) {
  s.bind(first_index, static_cast<int>(v.status));
  s.bind(first_index + 1, v.strategy);
  s.bind(first_index + 2, v.attempts);
  s.bind(first_index + 3, v.expire_at);
}

// Fills the user's identifiers, oldest first. Throws on storage errors.
void LoadIdentifiers(SqliteConnection& c, UserRecord& user) {
  auto& emails = c.Prepare(
      "SELECT id, email_address, verification_status, verification_strategy, "
      "verification_attempts, verification_expire_at, created_at, updated_at "
      "FROM email_addresses WHERE user_id = ? ORDER BY created_at, id");
  emails.bind(1, user.id);
  while (emails.executeStep()) {
    EmailAddressRecord e;
    e.id = emails.getColumn(0).getString();
    e.user_id = user.id;
    e.email_address = emails.getColumn(1).getString();
    e.verification = ReadVerification(emails, 2);
    e.created_at = emails.getColumn(6).getInt64();
    e.updated_at = emails.getColumn(7).getInt64();
    user.email_addresses.push_back(std::move(e));
  }
  auto& phones = c.Prepare(
      "SELECT id, phone_number, verification_status, verification_strategy, "
      "verification_attempts, verification_expire_at, reserved_for_second_factor, "
      "default_second_factor, created_at, updated_at "
      "FROM phone_numbers WHERE user_id = ? ORDER BY created_at, id");
  phones.bind(1, user.id);
  while (phones.executeStep()) {
    PhoneNumberRecord p;
    p.id = phones.getColumn(0).getString();
    p.user_id = user.id;
    p.phone_number = phones.getColumn(1).getString();
    p.verification = ReadVerification(phones, 2);
    p.reserved_for_second_factor = phones.getColumn(6).getInt() != 0;
    p.default_second_factor = phones.getColumn(7).getInt() != 0;
    p.created_at = phones.getColumn(8).getInt64();
    p.updated_at = phones.getColumn(9).getInt64();
    user.phone_numbers.push_back(std::move(p));
  }
  auto& accounts = c.Prepare(
      "SELECT id, provider, provider_user_id, email_address, first_name, last_name, username, "
      "image_url, approved_scopes, public_metadata, verification_status, verification_strategy, "
      "verification_attempts, verification_expire_at, created_at, updated_at "
      "FROM external_accounts WHERE user_id = ? ORDER BY created_at, id");
  accounts.bind(1, user.id);
  while (accounts.executeStep()) {
    ExternalAccountRecord a;
    a.id = accounts.getColumn(0).getString();
    a.user_id = user.id;
    a.provider = accounts.getColumn(1).getString();
    a.provider_user_id = accounts.getColumn(2).getString();
    a.email_address = accounts.getColumn(3).getString();
    a.first_name = accounts.getColumn(4).getString();
    a.last_name = accounts.getColumn(5).getString();
    a.username = accounts.getColumn(6).getString();
    a.image_url = accounts.getColumn(7).getString();
    a.approved_scopes =
        absl::StrSplit(accounts.getColumn(8).getString(), ' ', absl::SkipEmpty());
    a.public_metadata = accounts.getColumn(9).getString();
    a.verification = ReadVerification(accounts, 10);
    a.created_at = accounts.getColumn(14).getInt64();
    a.updated_at = accounts.getColumn(15).getInt64();
    user.external_accounts.push_back(std::move(a));
  }
}

// The user with identifiers, or NotFound. Throws on storage errors.
absl::StatusOr<UserRecord> LoadUser(SqliteConnection& c, absl::string_view user_id) {
  auto& s = c.Prepare(absl::StrCat("SELECT ", kUserColumns, " FROM users u WHERE u.id = ?"));
  s.bind(1, std::string(user_id));
  if (!s.executeStep()) {
    return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
  }
  UserRecord user = ReadUserRow(s);
  s.reset();
  LoadIdentifiers(c, user);
  return user;
}

void InsertIdentifiers(SqliteConnection& c, const UserRecord& user) {
  for (const auto& e : user.email_addresses) {
    auto& s = c.Prepare(
        "INSERT INTO email_addresses (id, user_id, email_address, verification_status, "
        "verification_strategy, verification_attempts, verification_expire_at, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, e.id);
    s.bind(2, user.id);
    s.bind(3, e.email_address);
    BindVerification(s, 4, e.verification);
    s.bind(8, e.created_at);
    s.bind(9, e.updated_at);
    s.exec();
  }
  for (const auto& p : user.phone_numbers) {
    auto& s = c.Prepare(
        "INSERT INTO phone_numbers (id, user_id, phone_number, verification_status, "
        "verification_strategy, verification_attempts, verification_expire_at, "
        "reserved_for_second_factor, default_second_factor, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, p.id);
    s.bind(2, user.id);
    s.bind(3, p.phone_number);
    BindVerification(s, 4, p.verification);
    s.bind(8, p.reserved_for_second_factor ? 1 : 0);
    s.bind(9, p.default_second_factor ? 1 : 0);
    s.bind(10, p.created_at);
    s.bind(11, p.updated_at);
    s.exec();
  }
  for (const auto& a : user.external_accounts) {
    auto& s = c.Prepare(
        "INSERT INTO external_accounts (id, user_id, provider, provider_user_id, email_address, "
        "first_name, last_name, username, image_url, approved_scopes, public_metadata, "
        "verification_status, verification_strategy, verification_attempts, "
        "verification_expire_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, a.id);
    s.bind(2, user.id);
    s.bind(3, a.provider);
    s.bind(4, a.provider_user_id);
    s.bind(5, a.email_address);
    s.bind(6, a.first_name);
    s.bind(7, a.last_name);
    s.bind(8, a.username);
    s.bind(9, a.image_url);
    s.bind(10, absl::StrJoin(a.approved_scopes, " "));
    s.bind(11, a.public_metadata);
    BindVerification(s, 12, a.verification);
    s.bind(16, a.created_at);
    s.bind(17, a.updated_at);
    s.exec();
  }
}

// Runs `fn` and turns any exception into a status naming `what`.
template <typename Fn>
auto Guarded(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return StatusFromException(e, what);
  }
}

// A read snapshot: BEGIN now, ROLLBACK (cheap for a reader) when it goes out of scope.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(SqliteConnection& c) : c_(c) { c_.Exec("BEGIN"); }
  ~ReadSnapshot() {
    try {
      c_.Exec("ROLLBACK");
    } catch (const std::exception&) {
      // The transaction is already gone (e.g. the connection failed): nothing to undo.
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
                     auto& s = c_.Prepare(IdentifierLookupSql(kind));
                     s.bind(1, std::string(value));
                     if (!s.executeStep()) {
                       return std::nullopt;
                     }
                     return s.getColumn(0).getString();
                   });
  }

  absl::Status InsertUser(const UserRecord& user) override {
    return Guarded("inserting a user", [&] {
      auto& s = c_.Prepare(kInsertUser);
      BindUser(s, user);
      s.exec();
      InsertIdentifiers(c_, user);
      return absl::OkStatus();
    });
  }

  absl::Status UpdateUser(const UserRecord& user) override {
    return Guarded("updating a user", [&] {
      auto& s = c_.Prepare(kUpdateUser);
      BindUser(s, user);
      if (s.exec() == 0) {
        return absl::NotFoundError(absl::StrCat("user ", user.id, " not found"));
      }
      return absl::OkStatus();
    });
  }

  absl::Status DeleteUser(absl::string_view user_id) override {
    return Guarded("deleting a user", [&] {
      auto& s = c_.Prepare("DELETE FROM users WHERE id = ?");
      s.bind(1, std::string(user_id));
      if (s.exec() == 0) {
        return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotencyKey(
      absl::string_view request_id) override {
    return Guarded("reading an idempotency key",
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
          "INSERT INTO idempotency_keys (request_id, request_hash, user_id, created_at) "
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
  static const char* IdentifierLookupSql(IdentifierKind kind) {
    switch (kind) {
      case IdentifierKind::kEmailAddress:
        return "SELECT user_id FROM email_addresses WHERE email_address = ?";
      case IdentifierKind::kPhoneNumber:
        return "SELECT user_id FROM phone_numbers WHERE phone_number = ?";
      case IdentifierKind::kUsername:
        return "SELECT id FROM users WHERE username = ? AND username <> ''";
      case IdentifierKind::kExternalId:
        return "SELECT id FROM users WHERE external_id = ? AND external_id <> ''";
    }
    return "";
  }

  SqliteConnection& c_;
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
  auto writer =
      SqliteConnection::Open(options.path, SqliteConnection::Mode::kWriter, options.busy_timeout);
  if (!writer.ok()) {
    return writer.status();
  }
  absl::Status migrated = Migrate(**writer);
  if (!migrated.ok()) {
    return migrated;
  }
  // Private constructor: make_unique cannot reach it.
  auto store = absl::WrapUnique(new SqliteUserStore(options, *std::move(writer)));
  // Open one reader now so that a database readers cannot open fails at start-up, not later.
  auto reader = store->AcquireReader();
  if (!reader.ok()) {
    return reader.status();
  }
  return store;
}

SqliteUserStore::SqliteUserStore(SqliteOptions options, std::unique_ptr<SqliteConnection> writer)
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
  auto c =
      SqliteConnection::Open(options_.path, SqliteConnection::Mode::kReader, options_.busy_timeout);
  if (!c.ok()) {
    return c.status();
  }
  return ReaderLease(this, *std::move(c));
}

void SqliteUserStore::ReleaseReader(std::unique_ptr<SqliteConnection> connection) {
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

absl::StatusOr<UserPage> SqliteUserStore::ListUsers(const UserPageQuery& query) {
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
      auto& count = c.Prepare(absl::StrCat("SELECT COUNT(*) FROM users u WHERE ", where.sql));
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
    absl::StrAppend(&sql, " ORDER BY ", column, " ", direction, ", u.id ", direction,
                    " LIMIT ? OFFSET ?");
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
    auto& s = c.Prepare(absl::StrCat("SELECT COUNT(*) FROM users u WHERE ", where.sql));
    BindParams(s, where.params, 1);
    s.executeStep();
    const int64_t count = s.getColumn(0).getInt64();
    s.reset();
    return count;
  });
}

absl::Status SqliteUserStore::Write(absl::FunctionRef<absl::Status(WriteTransaction&)> body) {
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
      return status;
    }
  }
  try {
    c.Exec("ROLLBACK");
  } catch (const std::exception&) {
    // SQLite already rolled the transaction back (e.g. after an I/O error): nothing to undo.
  }
  return status;
}

}  // namespace roster::storage

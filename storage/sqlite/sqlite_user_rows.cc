#include "storage/sqlite/sqlite_user_rows.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/identifier_union.h"
#include "storage/invitation_row.h"
#include "storage/sqlite/identifier_column.h"
#include "storage/user_row.h"

namespace roster::storage {
namespace {

void BindVerification(SQLite::Statement& s, int first_index,
                      const VerificationRecord& v) {
  s.bind(first_index, static_cast<int>(v.status));
  s.bind(first_index + 1, v.strategy);
  s.bind(first_index + 2, v.attempts);
  s.bind(first_index + 3, v.expire_at);
}

}  // namespace

namespace {

// UserWrittenColumns(), then the identifiers column (identifier_column.h).
const std::vector<std::string>& SqliteUserColumns() {
  static const std::vector<std::string>* const kColumns = [] {
    auto* columns = new std::vector<std::string>(UserWrittenColumns());
    columns->emplace_back("identifiers");
    return columns;
  }();
  return *kColumns;
}

std::vector<SqlValue> SqliteUserValues(const UserRecord& u) {
  std::vector<SqlValue> values = UserWrittenValues(u);
  values.emplace_back(EncodeIdentifierColumn(u));
  return values;
}

void BindValue(SQLite::Statement& s, int index, const SqlValue& value) {
  std::visit([&](const auto& v) { s.bind(index, v); }, value);
}

}  // namespace

UserRecord ReadUserRow(SQLite::Statement& s, int first) {
  return ReadUserColumns(SqliteRow{s}, first);
}

const std::string& InsertUserSql() {
  static const std::string* const kSql = new std::string(
      InsertSql("users", SqliteUserColumns(), SqlDialect::kSqlite));
  return *kSql;
}

void BindUser(SQLite::Statement& s, const UserRecord& u) {
  const std::vector<SqlValue> row = SqliteUserValues(u);
  for (size_t i = 0; i < row.size(); ++i) {
    BindValue(s, static_cast<int>(i) + 1, row[i]);
  }
}

void UpdateUserRow(SqliteConnection& c, const UserRecord& stored,
                   const UserRecord& user) {
  const std::vector<SqlValue> after = SqliteUserValues(user);
  const std::vector<int> changed =
      ChangedColumns(SqliteUserValues(stored), after);
  if (changed.empty()) {
    return;
  }
  auto& s = c.Prepare(
      UpdateSql("users", SqliteUserColumns(), changed, SqlDialect::kSqlite));
  BindValue(s, 1, after[0]);
  for (int i : changed) {
    BindValue(s, i + 1, after[static_cast<size_t>(i)]);
  }
  s.exec();
}

void BindParams(SQLite::Statement& s, const std::vector<SqlValue>& params,
                int first_index) {
  int index = first_index;
  for (const auto& p : params) {
    BindValue(s, index, p);
    ++index;
  }
}

// Fills the user's identifiers, oldest first. Throws on storage errors. One
// statement for the three tables, as LoadUser below.
void LoadIdentifiers(SqliteConnection& c, UserRecord& user) {
  static const std::string* const kSql =
      new std::string(IdentifierUnionSql("= ?1"));
  auto& s = c.PrepareStatic(*kSql);
  s.bind(1, user.id);
  while (s.executeStep()) {
    AppendIdentifier(SqliteRow{s}, 0, user);
  }
  SortIdentifiers(user);
}

namespace {

// LoadUser from the identifier tables themselves: one statement, the user row
// (kind 0, its columns from 1) and then every identifier row
// (IdentifierUnionSql's columns from 0). A single statement reads one
// snapshot, so a reader needs no BEGIN/ROLLBACK around it.
absl::StatusOr<UserRecord> LoadUserFromTables(SqliteConnection& c,
                                              const std::string& user_id) {
  // The identifier branches are padded to the user branch's width.
  static_assert(1 + kUserColumnCount >= kIdentifierUnionColumnCount);
  static const std::string* const kSql = [] {
    std::string padding;
    for (int i = kIdentifierUnionColumnCount; i < 1 + kUserColumnCount; ++i) {
      padding.append(", NULL");
    }
    return new std::string(
        absl::StrCat("SELECT 0, ", UserSelectList(),
                     " FROM users u WHERE u.id = ?1 UNION ALL ",
                     IdentifierUnionSql("= ?1", padding)));
  }();
  auto& s = c.PrepareStatic(*kSql);
  s.bind(1, user_id);
  std::optional<UserRecord> user;
  UserRecord identifiers;
  identifiers.id = user_id;
  while (s.executeStep()) {
    if (s.getColumn(0).getInt() == 0) {
      user = ReadUserRow(s, 1);
    } else {
      AppendIdentifier(SqliteRow{s}, 0, identifiers);
    }
  }
  if (!user.has_value()) {
    return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
  }
  SortIdentifiers(identifiers);
  user->email_addresses = std::move(identifiers.email_addresses);
  user->phone_numbers = std::move(identifiers.phone_numbers);
  user->external_accounts = std::move(identifiers.external_accounts);
  return *std::move(user);
}

}  // namespace

bool ReadIdentifierColumn(SQLite::Statement& s, int column_index,
                          UserRecord& user) {
  const SQLite::Column column = s.getColumn(column_index);
  return !column.isNull() &&
         DecodeIdentifierColumn(
             absl::string_view(static_cast<const char*>(column.getBlob()),
                               static_cast<size_t>(column.getBytes())),
             user);
}

// The user with identifiers, or NotFound. Throws on storage errors.
//
// One b-tree search: the user row with its identifiers column. A row whose
// column is NULL (written by something that did not keep it) or unreadable
// is read from the identifier tables instead, which stay the truth.
absl::StatusOr<UserRecord> LoadUser(SqliteConnection& c,
                                    absl::string_view user_id) {
  static const std::string* const kSql = new std::string(
      absl::StrCat("SELECT ", UserSelectList(),
                   ", u.identifiers FROM users u WHERE u.id = ?1"));
  auto& s = c.PrepareStatic(*kSql);
  const std::string id(user_id);
  s.bind(1, id);
  if (!s.executeStep()) {
    return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
  }
  UserRecord user = ReadUserRow(s);
  const bool kept = ReadIdentifierColumn(s, kUserColumnCount, user);
  s.tryReset();  // Ends the read now, not at the statement's next use.
  if (!kept) {
    return LoadUserFromTables(c, id);
  }
  return user;
}

namespace {

void InsertEmailAddresses(SqliteConnection& c, const UserRecord& user) {
  for (const auto& e : user.email_addresses) {
    auto& s = c.Prepare(
        "INSERT INTO email_addresses (id, user_id, email_address, "
        "verification_status, "
        "verification_strategy, verification_attempts, verification_expire_at, "
        "created_at, updated_at, verification_code_digest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, e.id);
    s.bind(2, user.id);
    s.bind(3, e.email_address);
    BindVerification(s, 4, e.verification);
    s.bind(8, e.created_at);
    s.bind(9, e.updated_at);
    s.bind(10, e.verification.code_digest);
    s.exec();
  }
}

void InsertPhoneNumbers(SqliteConnection& c, const UserRecord& user) {
  for (const auto& p : user.phone_numbers) {
    auto& s = c.Prepare(
        "INSERT INTO phone_numbers (id, user_id, phone_number, "
        "verification_status, "
        "verification_strategy, verification_attempts, verification_expire_at, "
        "reserved_for_second_factor, default_second_factor, created_at, "
        "updated_at, verification_code_digest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, p.id);
    s.bind(2, user.id);
    s.bind(3, p.phone_number);
    BindVerification(s, 4, p.verification);
    s.bind(8, p.reserved_for_second_factor ? 1 : 0);
    s.bind(9, p.default_second_factor ? 1 : 0);
    s.bind(10, p.created_at);
    s.bind(11, p.updated_at);
    s.bind(12, p.verification.code_digest);
    s.exec();
  }
}

void InsertExternalAccounts(SqliteConnection& c, const UserRecord& user) {
  for (const auto& a : user.external_accounts) {
    auto& s = c.Prepare(
        "INSERT INTO external_accounts (id, user_id, provider, "
        "provider_user_id, email_address, "
        "first_name, last_name, username, image_url, approved_scopes, "
        "public_metadata, "
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

// Replaces the user's rows in `table` by `insert`'s.
void RewriteIdentifiers(SqliteConnection& c, const UserRecord& user,
                        absl::string_view delete_sql,
                        void (*insert)(SqliteConnection&, const UserRecord&)) {
  auto& clear = c.Prepare(delete_sql);
  clear.bind(1, user.id);
  clear.exec();
  insert(c, user);
}

}  // namespace

void InsertIdentifiers(SqliteConnection& c, const UserRecord& user) {
  InsertEmailAddresses(c, user);
  InsertPhoneNumbers(c, user);
  InsertExternalAccounts(c, user);
}

void UpdateIdentifiers(SqliteConnection& c, const UserRecord& stored,
                       const UserRecord& user) {
  if (stored.email_addresses != user.email_addresses) {
    RewriteIdentifiers(c, user, "DELETE FROM email_addresses WHERE user_id = ?",
                       InsertEmailAddresses);
  }
  if (stored.phone_numbers != user.phone_numbers) {
    RewriteIdentifiers(c, user, "DELETE FROM phone_numbers WHERE user_id = ?",
                       InsertPhoneNumbers);
  }
  if (stored.external_accounts != user.external_accounts) {
    RewriteIdentifiers(c, user,
                       "DELETE FROM external_accounts WHERE user_id = ?",
                       InsertExternalAccounts);
  }
}

namespace {

constexpr char kSessionColumns[] =
    "id, user_id, secret_digest, status, created_at, last_active_at, "
    "expire_at, updated_at";

SessionRecord ReadSessionRow(SQLite::Statement& s) {
  SessionRecord r;
  r.id = s.getColumn(0).getString();
  r.user_id = s.getColumn(1).getString();
  r.secret_digest = s.getColumn(2).getString();
  r.status = static_cast<SessionStatus>(s.getColumn(3).getInt());
  r.created_at = s.getColumn(4).getInt64();
  r.last_active_at = s.getColumn(5).getInt64();
  r.expire_at = s.getColumn(6).getInt64();
  r.updated_at = s.getColumn(7).getInt64();
  return r;
}

}  // namespace

void WriteMetadataIndex(SqliteConnection& c, absl::string_view user_id,
                        const MetadataIndexChange& change) {
  for (const auto& [entries, sql] :
       {std::pair{&change.removed,
                  "DELETE FROM user_metadata_values WHERE tier = ? AND "
                  "path = ? AND value = ? AND user_id = ?"},
        std::pair{&change.added,
                  "INSERT INTO user_metadata_values (tier, path, value, "
                  "user_id) VALUES (?, ?, ?, ?)"}}) {
    if (entries->empty()) {
      continue;
    }
    auto& s = c.Prepare(sql);
    const std::string user(user_id);
    for (const MetadataIndexEntry& entry : *entries) {
      s.bind(1, entry.tier);
      s.bind(2, entry.path);
      s.bind(3, entry.value);
      s.bind(4, user);
      s.exec();
      s.reset();
    }
  }
}

absl::StatusOr<SessionRecord> LoadSession(SqliteConnection& c,
                                          absl::string_view session_id) {
  auto& s = c.Prepare(
      absl::StrCat("SELECT ", kSessionColumns, " FROM sessions WHERE id = ?"));
  s.bind(1, std::string(session_id));
  if (!s.executeStep()) {
    return absl::NotFoundError("session not found");
  }
  SessionRecord session = ReadSessionRow(s);
  s.reset();
  return session;
}

std::vector<SessionRecord> LoadSessions(SqliteConnection& c,
                                        absl::string_view user_id) {
  auto& s = c.Prepare(absl::StrCat("SELECT ", kSessionColumns,
                                   " FROM sessions WHERE user_id = ? "
                                   "ORDER BY created_at, id"));
  s.bind(1, std::string(user_id));
  std::vector<SessionRecord> sessions;
  while (s.executeStep()) {
    sessions.push_back(ReadSessionRow(s));
  }
  return sessions;
}

void WriteSession(SqliteConnection& c, const SessionRecord& r) {
  auto& s = c.Prepare(absl::StrCat("INSERT OR REPLACE INTO sessions (",
                                   kSessionColumns,
                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  s.bind(1, r.id);
  s.bind(2, r.user_id);
  s.bind(3, r.secret_digest);
  s.bind(4, static_cast<int>(r.status));
  s.bind(5, r.created_at);
  s.bind(6, r.last_active_at);
  s.bind(7, r.expire_at);
  s.bind(8, r.updated_at);
  s.exec();
}

std::vector<InvitationRecord> LoadInvitations(SqliteConnection& c,
                                              const char* column,
                                              absl::string_view value) {
  auto& s = c.Prepare(SelectInvitationBySql(column));
  s.bind(1, std::string(value));
  std::vector<InvitationRecord> found;
  while (s.executeStep()) {
    found.push_back(ReadInvitationColumns(SqliteRow{s}));
  }
  return found;
}

InvitationPage LoadInvitationPage(SqliteConnection& c,
                                  const InvitationQuery& query) {
  InvitationPage page;
  const SqlClause rows = InvitationPageSql(query);
  auto& s = c.Prepare(rows.sql);
  BindParams(s, rows.params, 1);
  while (s.executeStep()) {
    page.invitations.push_back(ReadInvitationColumns(SqliteRow{s}));
  }
  const SqlClause count = InvitationCountSql(query);
  auto& n = c.Prepare(count.sql);
  BindParams(n, count.params, 1);
  n.executeStep();
  page.total_count = n.getColumn(0).getInt64();
  n.reset();
  return page;
}

}  // namespace roster::storage

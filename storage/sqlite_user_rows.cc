#include "storage/sqlite_user_rows.h"

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
#include "storage/identifier_column.h"
#include "storage/identifier_union.h"

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

UserRecord ReadUserRow(SQLite::Statement& s, int first) {
  auto text = [&](int column) {
    return s.getColumn(first + column).getString();
  };
  auto integer = [&](int column) {
    return s.getColumn(first + column).getInt64();
  };
  UserRecord u;
  u.id = text(0);
  u.external_id = text(1);
  u.username = text(2);
  u.first_name = text(3);
  u.last_name = text(4);
  u.image_url = text(5);
  u.primary_email_address_id = text(6);
  u.primary_phone_number_id = text(7);
  u.public_metadata = text(8);
  u.private_metadata = text(9);
  u.unsafe_metadata = text(10);
  u.password_hash = text(11);
  u.banned = integer(12) != 0;
  u.two_factor_enabled = integer(13) != 0;
  u.delete_self_enabled = integer(14) != 0;
  u.failed_password_attempts = static_cast<int32_t>(integer(15));
  u.locked_until = integer(16);
  u.last_sign_in_at = integer(17);
  u.last_active_at = integer(18);
  u.created_at = integer(19);
  u.updated_at = integer(20);
  u.version = integer(21);
  return u;
}

namespace {

constexpr int kUserRowParams = 25;

// The users table's columns, in parameter order (?1 is the id).
constexpr const char* kUserRowColumns[kUserRowParams] = {
    "id",
    "external_id",
    "username",
    "first_name",
    "last_name",
    "image_url",
    "primary_email_address_id",
    "primary_phone_number_id",
    "public_metadata",
    "private_metadata",
    "unsafe_metadata",
    "password_hash",
    "banned",
    "two_factor_enabled",
    "delete_self_enabled",
    "failed_password_attempts",
    "locked_until",
    "last_sign_in_at",
    "last_active_at",
    "created_at",
    "updated_at",
    "version",
    "primary_email_address",
    "primary_phone_number",
    "identifiers"};

using UserRowValues = std::array<SqlValue, kUserRowParams>;

UserRowValues UserRow(const UserRecord& u) {
  return {u.id,
          u.external_id,
          u.username,
          u.first_name,
          u.last_name,
          u.image_url,
          u.primary_email_address_id,
          u.primary_phone_number_id,
          u.public_metadata,
          u.private_metadata,
          u.unsafe_metadata,
          u.password_hash,
          int64_t{u.banned ? 1 : 0},
          int64_t{u.two_factor_enabled ? 1 : 0},
          int64_t{u.delete_self_enabled ? 1 : 0},
          int64_t{u.failed_password_attempts},
          u.locked_until,
          u.last_sign_in_at,
          u.last_active_at,
          u.created_at,
          u.updated_at,
          u.version,
          PrimaryEmailAddress(u),
          PrimaryPhoneNumber(u),
          EncodeIdentifierColumn(u)};
}

void BindValue(SQLite::Statement& s, int index, const SqlValue& value) {
  std::visit([&](const auto& v) { s.bind(index, v); }, value);
}

}  // namespace

const std::string& InsertUserSql() {
  static const std::string* const kSql = [] {
    std::string columns, params;
    for (int i = 0; i < kUserRowParams; ++i) {
      absl::StrAppend(&columns, i == 0 ? "" : ", ", kUserRowColumns[i]);
      absl::StrAppend(&params, i == 0 ? "?" : ", ?", i + 1);
    }
    return new std::string(absl::StrCat("INSERT INTO users (", columns,
                                        ") VALUES (", params, ")"));
  }();
  return *kSql;
}

void BindUser(SQLite::Statement& s, const UserRecord& u) {
  const UserRowValues row = UserRow(u);
  for (int i = 0; i < kUserRowParams; ++i) {
    BindValue(s, i + 1, row[static_cast<size_t>(i)]);
  }
}

void UpdateUserRow(SqliteConnection& c, const UserRecord& stored,
                   const UserRecord& user) {
  const UserRowValues before = UserRow(stored);
  const UserRowValues after = UserRow(user);
  std::string sql = "UPDATE users SET ";
  std::vector<int> changed;
  for (int i = 1; i < kUserRowParams; ++i) {
    const auto column = static_cast<size_t>(i);
    if (before[column] != after[column]) {
      absl::StrAppend(&sql, changed.empty() ? "" : ", ", kUserRowColumns[i],
                      " = ?", i + 1);
      changed.push_back(i);
    }
  }
  if (changed.empty()) {
    return;
  }
  absl::StrAppend(&sql, " WHERE id = ?1");
  auto& s = c.Prepare(sql);
  s.bind(1, user.id);
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

namespace {

// The current row of a statement, as AppendIdentifier reads it.
struct SqliteRow {
  SQLite::Statement& s;
  std::string Text(int column) const { return s.getColumn(column).getString(); }
  int64_t Int(int column) const { return s.getColumn(column).getInt64(); }
};

}  // namespace

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
  static const std::string* const kSql = new std::string(absl::StrCat(
      "SELECT 0, ", kUserColumns, " FROM users u WHERE u.id = ?1 UNION ALL ",
      IdentifierUnionSql("= ?1", ", NULL, NULL")));
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
  static const std::string* const kSql = new std::string(absl::StrCat(
      "SELECT ", kUserColumns, ", u.identifiers FROM users u WHERE u.id = ?1"));
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

}  // namespace roster::storage

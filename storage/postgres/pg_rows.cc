#include "storage/postgres/pg_rows.h"

#include <utility>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/identifier_union.h"
#include "storage/read_sql.h"
#include "storage/user_query_sql.h"
#include "storage/user_row.h"

namespace roster::storage {
namespace {

// Identifiers of the users in `$1` (a text[] of ids).
std::string IdentifiersSql() { return IdentifierUnionSql("= ANY($1::text[])"); }

PgParams& AddVerification(PgParams& p, const VerificationRecord& v) {
  return p.Add(static_cast<int64_t>(v.status))
      .Add(v.strategy)
      .Add(v.attempts)
      .Add(v.expire_at);
}

PgParams UserParams(const UserRecord& u) {
  PgParams p;
  for (const SqlValue& value : UserWrittenValues(u)) {
    std::visit([&](const auto& v) { p.Add(v); }, value);
  }
  return p;
}

constexpr char kSessionColumns[] =
    "id, user_id, secret_digest, status, created_at, last_active_at, "
    "expire_at, updated_at";

constexpr int kSessionColumnCount = 8;

// The session from columns first.. of `row`, in kSessionColumns order.
SessionRecord ReadSessionRow(const PgResult& r, int row, int first = 0) {
  SessionRecord s;
  s.id = r.Text(row, first);
  s.user_id = r.Text(row, first + 1);
  s.secret_digest = r.Text(row, first + 2);
  s.status = static_cast<SessionStatus>(r.Int(row, first + 3));
  s.created_at = r.Int(row, first + 4);
  s.last_active_at = r.Int(row, first + 5);
  s.expire_at = r.Int(row, first + 6);
  s.updated_at = r.Int(row, first + 7);
  return s;
}

}  // namespace

void BindAll(PgParams& params, const std::vector<SqlValue>& values) {
  for (const SqlValue& value : values) {
    std::visit([&](const auto& v) { params.Add(v); }, value);
  }
}

std::string PgTextArray(absl::Span<const std::string> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    out.append(i == 0 ? "\"" : ",\"");
    for (char ch : values[i]) {
      if (ch == '"' || ch == '\\') {
        out.push_back('\\');
      }
      out.push_back(ch);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

UserRecord ReadPgUserRow(const PgResult& r, int row, int first) {
  return ReadUserColumns(PgRow{r, row}, first);
}

absl::StatusOr<UserRecord> LoadPgUser(PgConnection& c,
                                      absl::string_view user_id,
                                      bool for_update) {
  const std::string id(user_id);
  if (for_update) {
    // Lock first, then read the identifiers: nothing changes a locked user's
    // identifiers until this transaction ends.
    PgResult row = c.Run(absl::StrCat("SELECT ", UserSelectList(),
                                      " FROM users u WHERE u.id = $1 "
                                      "FOR UPDATE"),
                         PgParams().Add(id));
    if (row.rows() == 0) {
      return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
    }
    std::vector<UserRecord> users = {ReadPgUserRow(row, 0)};
    LoadPgIdentifiers(c, users);
    return std::move(users.front());
  }
  std::vector<UserRecord> users = LoadPgUsers(c, {id});
  if (users.empty()) {
    return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
  }
  return std::move(users.front());
}

std::vector<UserRecord> LoadPgUsers(PgConnection& c,
                                    absl::Span<const std::string> ids) {
  // One id (a lone GetUser, a session check) reads through the narrower
  // statement; several share one, whose rows come grouped by user.
  static const std::string* const kOne = new std::string(absl::StrCat(
      "SELECT ", UserSelectList(), ", i.* FROM users u LEFT JOIN (",
      IdentifierUnionSql("= $1"),
      ") i ON TRUE WHERE u.id = $1 ORDER BY i.kind, i.created_at, i.id"));
  static const std::string* const kMany = new std::string(absl::StrCat(
      "SELECT ", UserSelectList(), ", i.* FROM users u LEFT JOIN LATERAL (",
      IdentifierUnionSql("= u.id"),
      ") i ON TRUE WHERE u.id = ANY($1::text[]) "
      "ORDER BY 1, i.kind, i.created_at, i.id"));
  PgResult r = ids.size() == 1
                   ? c.Run(*kOne, PgParams().Add(ids.front()))
                   : c.Run(*kMany, PgParams().Add(PgTextArray(ids)));
  std::vector<UserRecord> users;
  for (int row = 0; row < r.rows(); ++row) {
    if (users.empty() || users.back().id != r.Text(row, 0)) {
      users.push_back(ReadPgUserRow(r, row));
    }
    if (!r.IsNull(row, kUserColumnCount)) {
      AppendIdentifier(PgRow{r, row}, kUserColumnCount, users.back());
    }
  }
  return users;
}

void LoadPgIdentifiers(PgConnection& c, std::vector<UserRecord>& users) {
  if (users.empty()) {
    return;
  }
  std::vector<std::string> ids;
  absl::flat_hash_map<std::string, UserRecord*> by_id;
  for (auto& user : users) {
    ids.push_back(user.id);
    by_id[user.id] = &user;
  }
  PgResult r = c.Run(absl::StrCat(IdentifiersSql(), " ORDER BY 1, 9, 3"),
                     PgParams().Add(PgTextArray(ids)));
  for (int row = 0; row < r.rows(); ++row) {
    auto it = by_id.find(r.Text(row, 1));
    if (it != by_id.end()) {
      AppendIdentifier(PgRow{r, row}, 0, *it->second);
    }
  }
}

void InsertPgUser(PgConnection& c, const UserRecord& user) {
  static const std::string* const kSql = new std::string(
      InsertSql("users", UserWrittenColumns(), SqlDialect::kPostgres));
  c.Run(*kSql, UserParams(user));
}

bool UpdatePgUserRow(PgConnection& c, const UserRecord& user) {
  // Every column: PostgreSQL needs each numbered parameter it is sent to appear
  // in the statement, and it skips index updates for unchanged values itself.
  static const std::string* const kSql = [] {
    std::vector<int> all;
    for (size_t i = 1; i < UserWrittenColumns().size(); ++i) {
      all.push_back(static_cast<int>(i));
    }
    return new std::string(
        UpdateSql("users", UserWrittenColumns(), all, SqlDialect::kPostgres));
  }();
  return c.Run(*kSql, UserParams(user)).affected() > 0;
}

void InsertPgIdentifiers(PgConnection& c, const UserRecord& user) {
  for (const auto& e : user.email_addresses) {
    PgParams p;
    p.Add(e.id).Add(user.id).Add(e.email_address);
    AddVerification(p, e.verification)
        .Add(e.created_at)
        .Add(e.updated_at)
        .Add(e.verification.code_digest);
    c.Run(
        "INSERT INTO email_addresses (id, user_id, email_address, "
        "verification_status, verification_strategy, verification_attempts, "
        "verification_expire_at, created_at, updated_at, "
        "verification_code_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "$9, $10)",
        p);
  }
  for (const auto& ph : user.phone_numbers) {
    PgParams p;
    p.Add(ph.id).Add(user.id).Add(ph.phone_number);
    AddVerification(p, ph.verification)
        .Add(ph.reserved_for_second_factor)
        .Add(ph.default_second_factor)
        .Add(ph.created_at)
        .Add(ph.updated_at)
        .Add(ph.verification.code_digest);
    c.Run(
        "INSERT INTO phone_numbers (id, user_id, phone_number, "
        "verification_status, verification_strategy, verification_attempts, "
        "verification_expire_at, reserved_for_second_factor, "
        "default_second_factor, created_at, updated_at, "
        "verification_code_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        "$9, $10, $11, $12)",
        p);
  }
  for (const auto& a : user.external_accounts) {
    PgParams p;
    p.Add(a.id)
        .Add(user.id)
        .Add(a.provider)
        .Add(a.provider_user_id)
        .Add(a.email_address)
        .Add(a.first_name)
        .Add(a.last_name)
        .Add(a.username)
        .Add(a.image_url)
        .Add(absl::StrJoin(a.approved_scopes, " "))
        .Add(a.public_metadata);
    AddVerification(p, a.verification).Add(a.created_at).Add(a.updated_at);
    c.Run(
        "INSERT INTO external_accounts (id, user_id, provider, "
        "provider_user_id, email_address, first_name, last_name, username, "
        "image_url, approved_scopes, public_metadata, verification_status, "
        "verification_strategy, verification_attempts, "
        "verification_expire_at, created_at, updated_at) VALUES ($1, $2, $3, "
        "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        p);
  }
}

void WritePgMetadataIndex(PgConnection& c, const std::string& user_id,
                          const MetadataIndexChange& change) {
  for (const auto& [entries, sql] :
       {std::pair{&change.removed,
                  "DELETE FROM user_metadata_values WHERE user_id = $1 AND "
                  "(tier, path, value) IN (SELECT * FROM unnest($2::int[], "
                  "$3::text[], $4::text[]))"},
        std::pair{&change.added,
                  "INSERT INTO user_metadata_values (tier, path, value, "
                  "user_id) SELECT t, p, v, $1 FROM unnest($2::int[], "
                  "$3::text[], $4::text[]) AS x(t, p, v)"}}) {
    if (entries->empty()) {
      continue;
    }
    std::vector<std::string> tiers, paths, values;
    for (const MetadataIndexEntry& entry : *entries) {
      tiers.push_back(absl::StrCat(entry.tier));
      paths.push_back(entry.path);
      values.push_back(entry.value);
    }
    c.Run(sql, PgParams()
                   .Add(user_id)
                   .Add(PgTextArray(tiers))
                   .Add(PgTextArray(paths))
                   .Add(PgTextArray(values)));
  }
}

void BackfillPgMetadataIndex(PgConnection& c) {
  std::string after;
  while (true) {
    const PgResult r = c.Run(
        "SELECT id, public_metadata, private_metadata, unsafe_metadata FROM "
        "users WHERE id > $1 ORDER BY id LIMIT 1000",
        PgParams().Add(after));
    for (int row = 0; row < r.rows(); ++row) {
      UserRecord user;
      user.id = r.Text(row, 0);
      user.public_metadata = r.Text(row, 1);
      user.private_metadata = r.Text(row, 2);
      user.unsafe_metadata = r.Text(row, 3);
      WritePgMetadataIndex(c, user.id, FirstMetadataIndex(user));
      after = user.id;
    }
    if (r.rows() < 1000) {
      return;
    }
  }
}

absl::StatusOr<SessionRecord> LoadPgSession(PgConnection& c,
                                            absl::string_view session_id) {
  PgResult r = c.Run(
      absl::StrCat("SELECT ", kSessionColumns, " FROM sessions WHERE id = $1"),
      PgParams().Add(session_id));
  if (r.rows() == 0) {
    return absl::NotFoundError("session not found");
  }
  return ReadSessionRow(r, 0);
}

std::vector<SessionAndUser> LoadPgSessionsAndUsers(
    PgConnection& c, absl::Span<const std::string> session_ids) {
  // The user's columns, the session's, then each identifier of the user: the
  // rows come grouped by session.
  static const std::string* const kSql = new std::string(absl::StrCat(
      "SELECT ", UserSelectList(),
      ", s.id, s.user_id, s.secret_digest, s.status, s.created_at, "
      "s.last_active_at, s.expire_at, s.updated_at, i.* FROM sessions s JOIN "
      "users u ON u.id = s.user_id LEFT JOIN LATERAL (",
      IdentifierUnionSql("= u.id"),
      ") i ON TRUE WHERE s.id = ANY($1::text[]) "
      "ORDER BY s.id, i.kind, i.created_at, i.id"));
  constexpr int kFirstSessionColumn = kUserColumnCount;
  constexpr int kFirstIdentifierColumn =
      kFirstSessionColumn + kSessionColumnCount;
  PgResult r = c.Run(*kSql, PgParams().Add(PgTextArray(session_ids)));
  std::vector<SessionAndUser> found;
  for (int row = 0; row < r.rows(); ++row) {
    if (found.empty() ||
        found.back().session.id != r.Text(row, kFirstSessionColumn)) {
      found.push_back(
          {ReadSessionRow(r, row, kFirstSessionColumn), ReadPgUserRow(r, row)});
    }
    if (!r.IsNull(row, kFirstIdentifierColumn)) {
      AppendIdentifier(PgRow{r, row}, kFirstIdentifierColumn,
                       found.back().user);
    }
  }
  return found;
}

std::vector<SessionRecord> LoadPgSessions(PgConnection& c,
                                          absl::string_view user_id) {
  PgResult r = c.Run(absl::StrCat("SELECT ", kSessionColumns,
                                  " FROM sessions WHERE user_id = $1 "
                                  "ORDER BY created_at, id"),
                     PgParams().Add(user_id));
  std::vector<SessionRecord> sessions;
  sessions.reserve(static_cast<size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    sessions.push_back(ReadSessionRow(r, row));
  }
  return sessions;
}

void WritePgSession(PgConnection& c, const SessionRecord& s) {
  c.Run(absl::StrCat(
            "INSERT INTO sessions (", kSessionColumns,
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO "
            "UPDATE SET user_id = EXCLUDED.user_id, secret_digest = "
            "EXCLUDED.secret_digest, status = EXCLUDED.status, created_at = "
            "EXCLUDED.created_at, last_active_at = EXCLUDED.last_active_at, "
            "expire_at = EXCLUDED.expire_at, updated_at = EXCLUDED.updated_at"),
        PgParams()
            .Add(s.id)
            .Add(s.user_id)
            .Add(s.secret_digest)
            .Add(static_cast<int64_t>(s.status))
            .Add(s.created_at)
            .Add(s.last_active_at)
            .Add(s.expire_at)
            .Add(s.updated_at));
}

std::optional<std::string> FindPgIdentifierHolder(PgConnection& c,
                                                  IdentifierKind kind,
                                                  absl::string_view value) {
  PgResult r = c.Run(NumberPlaceholders(IdentifierHolderSql(kind)),
                     PgParams().Add(value));
  if (r.rows() == 0) {
    return std::nullopt;
  }
  return r.Text(0, 0);
}

std::vector<std::string> FindPgUnverifiedClaimants(PgConnection& c,
                                                   IdentifierKind kind,
                                                   absl::string_view value) {
  std::vector<std::string> users;
  const absl::string_view sql = UnverifiedClaimantsSql(kind);
  if (sql.empty()) {
    return users;
  }
  PgResult r = c.Run(NumberPlaceholders(sql), PgParams().Add(value));
  for (int row = 0; row < r.rows(); ++row) {
    users.push_back(r.Text(row, 0));
  }
  return users;
}

int32_t CountPgVerificationSend(PgConnection& c, absl::string_view address,
                                Micros now, Micros window_start) {
  c.Run(
      "DELETE FROM verification_sends WHERE window_start < $1 AND address <> "
      "$2",
      PgParams().Add(window_start).Add(address));
  PgResult r = c.Run(
      "INSERT INTO verification_sends AS v (address, window_start, sends) "
      "VALUES ($1, $2, 1) ON CONFLICT (address) DO UPDATE SET "
      "sends = CASE WHEN v.window_start < $3 THEN 1 ELSE v.sends + 1 END, "
      "window_start = CASE WHEN v.window_start < $3 THEN $2 ELSE "
      "v.window_start END RETURNING sends",
      PgParams().Add(address).Add(now).Add(window_start));
  return static_cast<int32_t>(r.Int(0, 0));
}

void InsertPgImage(PgConnection& c, const ImageRecord& image) {
  c.Run(
      "INSERT INTO images (id, user_id, content_type, sha256, data, "
      "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
      PgParams()
          .Add(image.id)
          .Add(image.user_id)
          .Add(image.content_type)
          .Add(image.sha256)
          .AddBytes(image.data)
          .Add(image.created_at));
}

absl::StatusOr<ImageRecord> LoadPgImage(PgConnection& c,
                                        absl::string_view image_id) {
  PgResult r = c.Run(
      "SELECT user_id, content_type, sha256, data, created_at FROM images "
      "WHERE id = $1",
      PgParams().Add(image_id));
  if (r.rows() == 0) {
    return absl::NotFoundError(absl::StrCat("image ", image_id, " not found"));
  }
  ImageRecord image;
  image.id = std::string(image_id);
  image.user_id = r.Text(0, 0);
  image.content_type = r.Text(0, 1);
  image.sha256 = r.Text(0, 2);
  image.data = r.Bytes(0, 3);
  image.created_at = r.Int(0, 4);
  return image;
}

}  // namespace roster::storage

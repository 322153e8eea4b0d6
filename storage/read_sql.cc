#include "storage/read_sql.h"

#include "absl/strings/str_cat.h"

namespace roster::storage {

SqlClause UserPageSql(const UserPageQuery& query, const SqlClause& where,
                      SqlDialect dialect, const char* extra_columns) {
  const char* column = OrderColumn(query.order.key, dialect);
  const char* direction = query.order.descending ? "DESC" : "ASC";
  SqlClause page;
  page.sql = absl::StrCat("SELECT ", UserSelectList(), extra_columns, ", ",
                          column, " FROM users u WHERE ", where.sql);
  page.params = where.params;
  if (query.after.has_value()) {
    SqlClause after = AfterCursorSql(query.order, *query.after, dialect);
    absl::StrAppend(&page.sql, " AND ", after.sql);
    page.params.insert(page.params.end(), after.params.begin(),
                       after.params.end());
  }
  absl::StrAppend(&page.sql, " ORDER BY ", column, " ", direction, ", u.id ",
                  direction);
  if (dialect == SqlDialect::kPostgres && query.offset == 0) {
    // PostgreSQL keeps planning a statement whose LIMIT is a parameter
    // afresh on every run (it prices the generic plan for an unknown LIMIT
    // too high); with the LIMIT written in, it plans the statement once.
    // Offset paging keeps its parameters: each offset would be a statement.
    absl::StrAppend(&page.sql, " LIMIT ", int64_t{query.limit} + 1);
    return page;
  }
  absl::StrAppend(&page.sql, " LIMIT ? OFFSET ?");
  page.params.emplace_back(int64_t{query.limit} + 1);
  page.params.emplace_back(query.offset);
  return page;
}

SqlClause CountUsersSql(const SqlClause& where) {
  SqlClause count;
  if (where.MatchesEveryRow()) {
    count.sql = "SELECT n FROM user_count WHERE id = 1";
    return count;
  }
  count.sql =
      where.count_sql.empty()
          ? absl::StrCat("SELECT COUNT(*) FROM users u WHERE ", where.sql)
          : where.count_sql;
  count.params = where.params;
  return count;
}

SqlClause EventsSql(const EventQuery& query) {
  SqlClause events;
  events.sql =
      absl::StrCat("SELECT ", kEventColumns, " FROM events WHERE sequence > ?");
  events.params.emplace_back(query.after_sequence);
  if (!query.types.empty()) {
    absl::StrAppend(&events.sql, " AND type IN (");
    for (size_t i = 0; i < query.types.size(); ++i) {
      absl::StrAppend(&events.sql, i == 0 ? "?" : ", ?");
      events.params.emplace_back(query.types[i]);
    }
    absl::StrAppend(&events.sql, ")");
  }
  if (!query.user_id.empty()) {
    absl::StrAppend(&events.sql, " AND user_id = ?");
    events.params.emplace_back(query.user_id);
  }
  absl::StrAppend(&events.sql, " ORDER BY sequence LIMIT ? OFFSET ?");
  events.params.emplace_back(int64_t{query.limit});
  events.params.emplace_back(query.offset);
  return events;
}

// Verified is VerificationStatus::kVerified; the partial unique indexes of
// migration 4 (SQLite) and 1 (PostgreSQL) make a verified value unique.
const char* IdentifierHolderSql(IdentifierKind kind) {
  switch (kind) {
    case IdentifierKind::kEmailAddress:
      return "SELECT user_id FROM email_addresses WHERE email_address = ? "
             "AND verification_status = 2";
    case IdentifierKind::kPhoneNumber:
      return "SELECT user_id FROM phone_numbers WHERE phone_number = ? "
             "AND verification_status = 2";
    case IdentifierKind::kUsername:
      return "SELECT id FROM users WHERE username = ? AND username <> ''";
    case IdentifierKind::kExternalId:
      return "SELECT id FROM users WHERE external_id = ? AND external_id <> ''";
  }
  return "";
}

const char* UnverifiedClaimantsSql(IdentifierKind kind) {
  switch (kind) {
    case IdentifierKind::kEmailAddress:
      return "SELECT user_id FROM email_addresses WHERE email_address = ? "
             "AND verification_status <> 2 ORDER BY user_id";
    case IdentifierKind::kPhoneNumber:
      return "SELECT user_id FROM phone_numbers WHERE phone_number = ? "
             "AND verification_status <> 2 ORDER BY user_id";
    case IdentifierKind::kUsername:
    case IdentifierKind::kExternalId:
      break;
  }
  return "";
}

std::string IdentifierOwnerSql(SqlDialect dialect) {
  const char* id = dialect == SqlDialect::kSqlite ? "?1" : "$1";
  return absl::StrCat(
      "SELECT user_id FROM email_addresses WHERE id = ", id,
      " UNION ALL SELECT user_id FROM phone_numbers WHERE id = ", id,
      " UNION ALL SELECT user_id FROM external_accounts WHERE id = ", id);
}

}  // namespace roster::storage

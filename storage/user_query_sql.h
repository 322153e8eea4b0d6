// Translates a UserFilter / UserOrder / UserCursor into SQL over `users u` with
// positional parameters. Internal to storage/. Every value is bound, never
// spliced into the SQL text.
#ifndef ROSTER_STORAGE_USER_QUERY_SQL_H_
#define ROSTER_STORAGE_USER_QUERY_SQL_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "storage/user_query.h"

namespace roster::storage {

using SqlValue = std::variant<int64_t, double, std::string>;

// The SQL each adapter speaks. Both use `?` markers here; the PostgreSQL
// adapter numbers them ($1, $2, …) before preparing.
enum class SqlDialect { kSqlite, kPostgres };

// The condition of a clause with no condition.
inline constexpr char kNoCondition[] = "TRUE";

struct SqlClause {
  std::string sql;  // kNoCondition when there is no condition.
  std::vector<SqlValue> params;
  // SQLite only, for a filter that is one identifier list or one metadata
  // filter alone (e.g. a lookup by email address): a statement selecting the
  // ids of the users it names, through that identifier's index or the
  // metadata index, binding the same `params`. A user may come back more
  // than once. Empty for any other filter.
  std::string lookup_sql;
  // For a filter that is one metadata filter alone: a statement counting the
  // users it matches from the metadata index alone (a user has one row per
  // path and value), binding the same `params`. Empty for any other filter.
  std::string count_sql;

  // True when the clause has no condition: it matches every user.
  bool MatchesEveryRow() const { return sql == kNoCondition; }
};

// The denormalised sort keys stored on the users row: the primary email
// address's and phone number's values ("" when none).
std::string PrimaryEmailAddress(const UserRecord& user);
std::string PrimaryPhoneNumber(const UserRecord& user);

// The WHERE condition for `filter`.
SqlClause UserFilterSql(const UserFilter& filter,
                        SqlDialect dialect = SqlDialect::kSqlite);

// The expression over users that `key` sorts by.
const char* OrderColumn(UserOrderKey key,
                        SqlDialect dialect = SqlDialect::kSqlite);

// The condition "after `cursor` in `order`" (keyset paging, ties broken by id).
SqlClause AfterCursorSql(const UserOrder& order, const UserCursor& cursor,
                         SqlDialect dialect = SqlDialect::kSqlite);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_USER_QUERY_SQL_H_

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

struct SqlClause {
  std::string sql;  // "1" when there is no condition.
  std::vector<SqlValue> params;
};

// The WHERE condition for `filter`.
SqlClause UserFilterSql(const UserFilter& filter);

// The users column that `key` sorts by.
const char* OrderColumn(UserOrderKey key);

// The condition "after `cursor` in `order`" (keyset paging, ties broken by id).
SqlClause AfterCursorSql(const UserOrder& order, const UserCursor& cursor);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_USER_QUERY_SQL_H_

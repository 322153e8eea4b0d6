// The users row as SQL, generated from kUserRow (records.h) for both adapters:
// the SELECT list, a reader over any row type, the written values with their
// derived sort keys, and INSERT / UPDATE statements. Internal to storage/.
#ifndef ROSTER_STORAGE_USER_ROW_H_
#define ROSTER_STORAGE_USER_ROW_H_

#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "storage/records.h"
#include "storage/user_query_sql.h"

namespace roster::storage {

// How many columns UserSelectList() selects.
inline constexpr int kUserColumnCount = static_cast<int>(kUserRow.size());

// "u.id, u.external_id, …": kUserRow's columns for "SELECT … FROM users u".
const std::string& UserSelectList();

// The user row from columns first.. of `row`, in UserSelectList() order.
// `Row` has `std::string Text(int column)` and `int64_t Int(int column)`.
template <typename Row>
UserRecord ReadUserColumns(const Row& row, int first = 0) {
  UserRecord user;
  int column = first;
  for (const UserColumn& c : kUserRow) {
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(user.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            user.*member = row.Text(column);
          } else if constexpr (std::is_same_v<T, bool>) {
            user.*member = row.Int(column) != 0;
          } else {
            user.*member = static_cast<T>(row.Int(column));
          }
        },
        c.member);
    ++column;
  }
  return user;
}

// The columns a write of a user sets: kUserRow's, then the derived sort keys
// primary_email_address and primary_phone_number. The id is the first.
const std::vector<std::string>& UserWrittenColumns();

// `user`'s values for UserWrittenColumns(), in that order (booleans as 0/1).
std::vector<SqlValue> UserWrittenValues(const UserRecord& user);

// "INSERT INTO <table> (<columns>) VALUES (?1, ?2, …)" ($1, … on PostgreSQL).
std::string InsertSql(const std::string& table,
                      const std::vector<std::string>& columns,
                      SqlDialect dialect);

// InsertSql + " ON CONFLICT (<columns[0]>) DO UPDATE SET" every other column
// from `excluded`: one statement for a new row and a changed one.
std::string UpsertSql(const std::string& table,
                      const std::vector<std::string>& columns,
                      SqlDialect dialect);

// "UPDATE <table> SET <columns[i]> = ?<i+1>, … WHERE <columns[0]> = ?1" for
// each i in `changed` (indexes into `columns`, none 0): the placeholders keep
// the columns' positions, so the full value list binds either statement.
std::string UpdateSql(const std::string& table,
                      const std::vector<std::string>& columns,
                      const std::vector<int>& changed, SqlDialect dialect);

// Indexes (from 1: the id never changes) where `before` and `after` differ.
std::vector<int> ChangedColumns(const std::vector<SqlValue>& before,
                                const std::vector<SqlValue>& after);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_USER_ROW_H_

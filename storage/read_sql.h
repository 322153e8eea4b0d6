// The read statements both adapters run, assembled once: a page of users, a
// count, a page of events, an identifier's owner. Each adapter binds the
// parameters and steps the rows its own way; what the SQL says and how a row
// becomes a record is here. Internal to storage/.
#ifndef ROSTER_STORAGE_READ_SQL_H_
#define ROSTER_STORAGE_READ_SQL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "storage/records.h"
#include "storage/user_query.h"
#include "storage/user_query_sql.h"
#include "storage/user_row.h"
#include "storage/user_store.h"

namespace roster::storage {

// "SELECT <users>[, extra] , <order key> FROM users u WHERE … ORDER BY …
// LIMIT ? OFFSET ?" for `query`, filtered by `where`: one row beyond the page
// (which says whether another follows). On PostgreSQL, a page at offset 0
// has its LIMIT written in instead, so the statement is planned once.
// `extra_columns` (", u.identifiers") comes right after the user columns; the
// order key follows it.
SqlClause UserPageSql(const UserPageQuery& query, const SqlClause& where,
                      SqlDialect dialect, const char* extra_columns = "");

// How many users `where` matches: the kept count (one row) when it matches
// every user, the metadata index's rows for one metadata filter alone, else a
// COUNT over the filter. Binds `where.params`.
SqlClause CountUsersSql(const SqlClause& where);

// The events `query` asks for, oldest first.
SqlClause EventsSql(const EventQuery& query);
inline constexpr char kEventColumns[] =
    "sequence, id, type, user_id, created_at, payload, request_id, actor";

// The user holding `kind`'s value (the one parameter), verified for email
// addresses and phone numbers: at most one row.
const char* IdentifierHolderSql(IdentifierKind kind);
// The users claiming an email address or phone number (the one parameter)
// unverified, by id; "" for other kinds, which have no claims.
const char* UnverifiedClaimantsSql(IdentifierKind kind);

// The user_id of the identifier whose id is the first parameter.
std::string IdentifierOwnerSql(SqlDialect dialect);

// The event in `row` (kEventColumns). `Row` has Text, Int and Bytes(column).
template <typename Row>
EventRecord ReadEventRow(const Row& row) {
  EventRecord e;
  e.sequence = row.Int(0);
  e.id = row.Text(1);
  e.type = row.Text(2);
  e.user_id = row.Text(3);
  e.created_at = row.Int(4);
  e.payload = row.Bytes(5);
  e.request_id = row.Text(6);
  e.actor = row.Text(7);
  return e;
}

// Gathers a page from UserPageSql's rows in order. Thread-compatible.
class UserPageBuilder {
 public:
  // `sort_column`: where the order key sits in each row.
  UserPageBuilder(const UserPageQuery& query, int sort_column)
      : query_(query), sort_column_(sort_column) {}

  // Reads the next row's user and cursor; nullptr, reading nothing, once the
  // page is full (that row only says another page follows).
  template <typename Row>
  UserRecord* Add(const Row& row) {
    if (static_cast<int>(page_.users.size()) == query_.limit) {
      page_.next = std::move(last_);
      return nullptr;
    }
    UserRecord& user = page_.users.emplace_back(ReadUserColumns(row));
    UserCursor cursor;
    cursor.id = user.id;
    if (IsTextOrderKey(query_.order.key)) {
      cursor.sort_value = row.Text(sort_column_);
    } else {
      cursor.sort_value = row.Int(sort_column_);
    }
    last_ = std::move(cursor);
    return &user;
  }

  // The page so far; its total count is set when the page implies it (see
  // TotalImpliedByPage), else the caller counts.
  UserPage& page() { return page_; }
  bool NeedsCount() {
    if (auto implied = TotalImpliedByPage(query_, page_)) {
      page_.total_count = *implied;
      return false;
    }
    return true;
  }

 private:
  const UserPageQuery& query_;
  const int sort_column_;
  UserPage page_;
  std::optional<UserCursor> last_;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_READ_SQL_H_

#include "storage/postgres/pg_user_pages.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/identifier_union.h"
#include "storage/postgres/pg_rows.h"
#include "storage/read_sql.h"
#include "storage/user_query_sql.h"
#include "storage/user_row.h"

namespace roster::storage {
namespace {

// Where the columns after the user's sit in UserPageStatement's rows
// (0-based): the order key, the total count, then the identifier.
constexpr int kSortColumn = kUserColumnCount;
constexpr int kTotalColumn = kUserColumnCount + 1;
constexpr int kFirstIdentifierColumn = kUserColumnCount + 2;

}  // namespace

PgStatement UserPageStatement(const UserPageQuery& query) {
  // The rows come back in the page's order, a user's identifiers oldest
  // first.
  const SqlClause where = UserFilterSql(query.filter, SqlDialect::kPostgres);
  const SqlClause select = UserPageSql(query, where, SqlDialect::kPostgres);
  const SqlClause count = CountUsersSql(where);
  // A first page that does not fill implies its total (TotalImpliedByPage),
  // so the count runs only when the page fills: PostgreSQL runs a subquery in
  // a CASE branch only when the branch is taken. A search that matches less
  // than a page then scans the users once, not twice. Such a page's LIMIT is
  // written in (UserPageSql), and so is the bound here.
  std::string total = absl::StrCat("(", count.sql, ")");
  if (!query.after.has_value() && query.offset == 0) {
    total =
        absl::StrCat("CASE WHEN (SELECT COUNT(*) FROM page) <= ", query.limit,
                     " THEN NULL ELSE ", total, " END");
  }
  const char* direction = query.order.descending ? "DESC" : "ASC";
  PgStatement statement;
  statement.sql = NumberPlaceholders(absl::StrCat(
      "WITH page AS (", select.sql, ") SELECT page.*, ", total,
      ", i.* FROM page LEFT JOIN LATERAL (", IdentifierUnionSql("= page.id"),
      ") i ON TRUE ORDER BY ", kSortColumn + 1, " ", direction, ", 1 ",
      direction, ", i.kind, i.created_at, i.id"));
  BindAll(statement.params, select.params);
  BindAll(statement.params, count.params);
  return statement;
}

PgStatement CountUsersStatement(const UserFilter& filter) {
  const SqlClause count =
      CountUsersSql(UserFilterSql(filter, SqlDialect::kPostgres));
  PgStatement statement;
  statement.sql = NumberPlaceholders(count.sql);
  BindAll(statement.params, count.params);
  return statement;
}

bool ReadUserPage(const UserPageQuery& query, const PgResult& rows,
                  UserPage& page) {
  UserPageBuilder builder(query, kSortColumn);
  UserRecord* user = nullptr;
  for (int row = 0; row < rows.rows(); ++row) {
    if (user == nullptr || user->id != rows.Text(row, 0)) {
      user = builder.Add(PgRow{rows, row});
      if (user == nullptr) {
        break;  // The row past the page: another page follows.
      }
    }
    if (!rows.IsNull(row, kFirstIdentifierColumn)) {
      AppendIdentifier(PgRow{rows, row}, kFirstIdentifierColumn, *user);
    }
  }
  bool counted = true;
  if (builder.NeedsCount()) {
    // NULL where the statement judged the count implied: then it is read
    // apart, never taken as 0.
    counted = rows.rows() > 0 && !rows.IsNull(0, kTotalColumn);
    if (counted) {
      builder.page().total_count = rows.Int(0, kTotalColumn);
    }
  }
  page = std::move(builder.page());
  return counted;
}

}  // namespace roster::storage

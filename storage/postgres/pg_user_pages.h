// ListUsers and CountUsers on PostgreSQL as statements: built here, run by
// PgUserStore on a pooled connection or in its read pipeline, and read back
// here. Internal to the PostgreSQL adapter.
#ifndef ROSTER_STORAGE_POSTGRES_PG_USER_PAGES_H_
#define ROSTER_STORAGE_POSTGRES_PG_USER_PAGES_H_

#include <cstdint>

#include "storage/postgres/pg_connection.h"
#include "storage/records.h"
#include "storage/user_query.h"

namespace roster::storage {

// One statement, so one snapshot and one round trip: the page, each user's
// identifiers beside it (as GetUser reads them), and the count of all
// matches, which PostgreSQL evaluates once, and only if the page does not
// imply it.
PgStatement UserPageStatement(const UserPageQuery& query);
// How many users `filter` matches; the kept count when it matches every user
// (migration 2).
PgStatement CountUsersStatement(const UserFilter& filter);

// The page UserPageStatement(query) read. False when its count is still to
// be read apart (CountUsersStatement): a page past the end carries no row to
// read it from, and a row whose count is NULL carries none.
bool ReadUserPage(const UserPageQuery& query, const PgResult& rows,
                  UserPage& page);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_USER_PAGES_H_

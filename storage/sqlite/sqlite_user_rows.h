// Mapping between user records and SQLite rows: the column lists, binding a
// record to a statement, and loading a user with its identifiers. Internal to
// storage/; every function throws SQLite::Exception on a database error
// (callers run them under a try block).
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_USER_ROWS_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_USER_ROWS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/metadata_index.h"
#include "storage/records.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/user_query_sql.h"

namespace roster::storage {

// The current row of a statement, as the shared row readers (ReadUserColumns,
// AppendIdentifier, ReadEventRow) read it.
struct SqliteRow {
  SQLite::Statement& s;
  std::string Text(int column) const { return s.getColumn(column).getString(); }
  int64_t Int(int column) const { return s.getColumn(column).getInt64(); }
  std::string Bytes(int column) const {
    const SQLite::Column value = s.getColumn(column);
    return std::string(static_cast<const char*>(value.getBlob()),
                       static_cast<size_t>(value.getBytes()));
  }
};

// INSERT of a users row (user_row.h's columns and the identifiers column),
// whose parameters BindUser fills.
const std::string& InsertUserSql();

// The user row at the statement's current step: UserSelectList(), from column
// `first`.
UserRecord ReadUserRow(SQLite::Statement& s, int first = 0);
// Binds every parameter of InsertUserSql() from `u`.
void BindUser(SQLite::Statement& s, const UserRecord& u);
// Rewrites the columns of `user`'s row that differ from `stored`, the row as
// the caller has just read it in this transaction. SQLite rewrites an index
// for every column an UPDATE sets, even to the same value, and the users table
// has 12 indexes.
void UpdateUserRow(SqliteConnection& c, const UserRecord& stored,
                   const UserRecord& user);
// Binds `params` to ?first_index, ?first_index+1, ….
void BindParams(SQLite::Statement& s, const std::vector<SqlValue>& params,
                int first_index);
// Fills `user`'s identifiers from the users.identifiers column at
// `column_index` of the statement's current row (see identifier_column.h).
// False, leaving them as they were, when the column is NULL or unreadable:
// then read them from the tables with LoadIdentifiers.
bool ReadIdentifierColumn(SQLite::Statement& s, int column_index,
                          UserRecord& user);
// Fills the user's identifiers from the identifier tables, oldest first.
void LoadIdentifiers(SqliteConnection& c, UserRecord& user);
// The user with identifiers, or NotFound. One statement, so one snapshot even
// outside a transaction.
absl::StatusOr<UserRecord> LoadUser(SqliteConnection& c,
                                    absl::string_view user_id);
// Inserts every identifier of `user`.
void InsertIdentifiers(SqliteConnection& c, const UserRecord& user);
// Rewrites each identifier table whose rows for the user differ between
// `stored` and `user`.
void UpdateIdentifiers(SqliteConnection& c, const UserRecord& stored,
                       const UserRecord& user);

// Applies `change` to the user's rows of user_metadata_values.
void WriteMetadataIndex(SqliteConnection& c, absl::string_view user_id,
                        const MetadataIndexChange& change);

// The session with `session_id`, or NotFound.
absl::StatusOr<SessionRecord> LoadSession(SqliteConnection& c,
                                          absl::string_view session_id);
// The user's sessions, oldest first.
std::vector<SessionRecord> LoadSessions(SqliteConnection& c,
                                        absl::string_view user_id);
// Inserts or replaces `session`.
void WriteSession(SqliteConnection& c, const SessionRecord& session);

// The invitations whose `column` (id, ticket_digest, email_address) is
// `value`.
std::vector<InvitationRecord> LoadInvitations(SqliteConnection& c,
                                              const char* column,
                                              absl::string_view value);
// A page of invitations and their count.
InvitationPage LoadInvitationPage(SqliteConnection& c,
                                  const InvitationQuery& query);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_USER_ROWS_H_

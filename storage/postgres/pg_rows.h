// Mapping between records and PostgreSQL rows: users with their identifiers,
// sessions, identifier lookups, verification send counts and images. Internal
// to storage/postgres/; every function throws PgError on a database error
// (callers run them under PgGuarded).
#ifndef ROSTER_STORAGE_POSTGRES_PG_ROWS_H_
#define ROSTER_STORAGE_POSTGRES_PG_ROWS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "storage/metadata_index.h"
#include "storage/postgres/pg_connection.h"
#include "storage/records.h"
#include "storage/user_query_sql.h"
#include "storage/user_store.h"

namespace roster::storage {

// One row of a PgResult, as the shared row readers (ReadUserColumns,
// AppendIdentifier, ReadEventRow) read it.
struct PgRow {
  const PgResult& r;
  int row;
  std::string Text(int column) const { return r.Text(row, column); }
  int64_t Int(int column) const { return r.Int(row, column); }
  std::string Bytes(int column) const { return r.Bytes(row, column); }
};

// A text[] literal of `values` ('{"a","b"}'), for `= ANY($n::text[])`.
std::string PgTextArray(absl::Span<const std::string> values);

// Appends `values` to `params` in order.
void BindAll(PgParams& params, const std::vector<SqlValue>& values);

// The user row at `row`, from columns first_column.. in kUserColumns order.
UserRecord ReadPgUserRow(const PgResult& r, int row, int first_column = 0);

// The user with its identifiers (one statement, so one snapshot), or NotFound.
// With `for_update` the user row is locked until the transaction ends: every
// read-modify-write of a user (lockout counters among them) is then exact
// however many replicas write at once.
absl::StatusOr<UserRecord> LoadPgUser(PgConnection& c,
                                      absl::string_view user_id,
                                      bool for_update);
// The users among `ids` (distinct), each with its identifiers, in one
// statement; an id with no user is left out.
std::vector<UserRecord> LoadPgUsers(PgConnection& c,
                                    absl::Span<const std::string> ids);
// Fills the identifiers of every user in `users`, oldest first.
void LoadPgIdentifiers(PgConnection& c, std::vector<UserRecord>& users);

void InsertPgUser(PgConnection& c, const UserRecord& user);
// False when no such user.
bool UpdatePgUserRow(PgConnection& c, const UserRecord& user);
// Inserts every identifier of `user`.
void InsertPgIdentifiers(PgConnection& c, const UserRecord& user);
// Applies `change` to the user's rows of user_metadata_values: a statement
// for each non-empty side.
void WritePgMetadataIndex(PgConnection& c, const std::string& user_id,
                          const MetadataIndexChange& change);
// Fills user_metadata_values from every user's metadata, a page of users at
// a time (the schema step that adds the index).
void BackfillPgMetadataIndex(PgConnection& c);

absl::StatusOr<SessionRecord> LoadPgSession(PgConnection& c,
                                            absl::string_view session_id);
// The sessions among `session_ids` (distinct), each with its user and the
// user's identifiers, in one statement; an id with no session is left out.
std::vector<SessionAndUser> LoadPgSessionsAndUsers(
    PgConnection& c, absl::Span<const std::string> session_ids);
std::vector<SessionRecord> LoadPgSessions(PgConnection& c,
                                          absl::string_view user_id);
// Inserts or replaces `session`.
void WritePgSession(PgConnection& c, const SessionRecord& session);

// As WriteTransaction::FindUserIdByIdentifier / FindUnverifiedClaimants /
// CountVerificationSend.
std::optional<std::string> FindPgIdentifierHolder(PgConnection& c,
                                                  IdentifierKind kind,
                                                  absl::string_view value);
std::vector<std::string> FindPgUnverifiedClaimants(PgConnection& c,
                                                   IdentifierKind kind,
                                                   absl::string_view value);
int32_t CountPgVerificationSend(PgConnection& c, absl::string_view address,
                                Micros now, Micros window_start);

void InsertPgImage(PgConnection& c, const ImageRecord& image);
absl::StatusOr<ImageRecord> LoadPgImage(PgConnection& c,
                                        absl::string_view image_id);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_ROWS_H_

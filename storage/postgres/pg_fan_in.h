// RunEachFannedIn: statements that differ only in their parameters run as one
// statement, so PostgreSQL starts its executor once for all of them.
//
// Concurrent ListUsers pages are mostly one shape (a lookup by one email
// address, say) with different values. Each such page as a statement of its
// own costs PostgreSQL a Bind, an executor start over a plan of a dozen nodes
// and a transaction, more than the index lookups it does: fanned in, a lookup
// by email cost PostgreSQL 47 µs of CPU instead of 83 (docs/performance.md).
// The members' parameters go as arrays and the shape runs once per member
// inside one statement (a LATERAL join over the arrays); each member then gets
// its own rows back, as a slice of the shared result. Internal to the
// PostgreSQL adapter.
#ifndef ROSTER_STORAGE_POSTGRES_PG_FAN_IN_H_
#define ROSTER_STORAGE_POSTGRES_PG_FAN_IN_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "storage/postgres/pg_connection.h"

namespace roster::storage {

// `members` (two or more, with the same SQL and parameter types, at least one
// parameter and none of them bytes) as one statement. Its rows are each
// member's rows in the member's own order, behind two columns: the member's
// place (1-based) and its row's. Nullopt when the members cannot be fanned in.
std::optional<PgStatement> FanInStatement(
    absl::Span<const PgStatement* const> members);

// Each member's result from FanInStatement's `rows`; nullopt when the rows
// are not grouped by member in order (then RunEachFannedIn runs the members
// alone).
std::optional<std::vector<PgResult>> SplitFannedIn(const PgResult& rows,
                                                   size_t members);

// Runs `statements` as PgConnection::RunEach would, with a result per
// statement in the same order, fanning in each group of statements that
// FanInStatement accepts. A fanned-in statement that fails (one member's
// error fails them all) is run again member by member, so each member gets
// its own answer; one that fails Unavailable (a timeout, a server going away)
// fails each member so, without adding load. Throws PgError when the
// connection fails.
std::vector<absl::StatusOr<PgResult>> RunEachFannedIn(
    PgConnection& connection, absl::Span<const PgStatement* const> statements);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_FAN_IN_H_

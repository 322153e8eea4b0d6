// PostgreSQL schema migrations. Every replica runs Migrate() at start-up; all
// pending steps apply in one transaction that first takes a transaction-scoped
// advisory lock, so replicas starting together migrate exactly once and none
// serves a half-migrated schema. The version lives in roster_schema.
// Internal to storage/postgres/.
#ifndef ROSTER_STORAGE_POSTGRES_PG_MIGRATIONS_H_
#define ROSTER_STORAGE_POSTGRES_PG_MIGRATIONS_H_

#include "absl/status/status.h"
#include "storage/postgres/pg_connection.h"

namespace roster::storage {

// The PostgreSQL schema version this binary writes.
int LatestPgSchemaVersion();

// Brings the database up to LatestPgSchemaVersion(). FailedPrecondition when a
// newer binary wrote it; storage errors otherwise (nothing is applied then).
absl::Status MigratePg(PgConnection& connection);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_MIGRATIONS_H_

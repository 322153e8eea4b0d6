// Numbered schema migrations, applied at start-up under PRAGMA user_version,
// each in its own transaction. Adding a table is appending one entry to the
// list in migrations.cc.
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_MIGRATIONS_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_MIGRATIONS_H_

#include "absl/status/status.h"
#include "storage/sqlite/sqlite_connection.h"

namespace roster::storage {

// The schema version this binary writes.
int LatestSchemaVersion();

// Brings the database up to LatestSchemaVersion(). FailedPrecondition when the
// database was written by a newer binary; storage errors otherwise (nothing of
// a failed step is applied).
absl::Status Migrate(SqliteConnection& connection);
// Migrate, stopping at `target_version` (<= LatestSchemaVersion()): lets tests
// build an old schema, fill it, and check that later migrations keep the data.
absl::Status MigrateTo(SqliteConnection& connection, int target_version);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_MIGRATIONS_H_

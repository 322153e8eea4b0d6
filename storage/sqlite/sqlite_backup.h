// Online backup of a Roster SQLite database, safe while a server writes to
// it: VACUUM INTO copies one consistent read snapshot (WAL readers never block
// the writer) into a fresh, compact file, which is checked, synced and then
// renamed into place, so `to` is either the old file or a complete backup.
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_BACKUP_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_BACKUP_H_

#include <string>

#include "absl/status/status.h"

namespace roster::storage {

// Copies the database at `from` to `to` (replacing it). NotFound when `from`
// does not exist; FailedPrecondition when the copy fails its integrity check;
// storage errors as UserStore's otherwise.
absl::Status BackupDatabase(const std::string& from, const std::string& to);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_BACKUP_H_

// A VFS that is the platform's default one, except that writes to journal
// files are split into pieces of at most 64 KiB.
//
// Why: a statement journal is kept in memory as chunks of the spill bound's
// size (SQLITE_CONFIG_STMTJRNL_SPILL) and, once it passes the bound, written
// to a file one chunk per write call; SQLite's unix VFS writes at most 0x1ffff
// bytes per call and reports SQLITE_FULL for the rest. Roster's bound is
// 2 MiB (see sqlite_connection.cc), so without this every statement whose
// journal spilled failed. Database and WAL files are opened by the default VFS
// unchanged. Internal to storage/.
#ifndef ROSTER_STORAGE_SQLITE_JOURNAL_VFS_H_
#define ROSTER_STORAGE_SQLITE_JOURNAL_VFS_H_

namespace roster::storage {

// Registers the VFS as the process's default, once; later calls do nothing.
// Call before the first connection opens. False if SQLite has no default VFS
// or refused the registration.
bool RegisterJournalSplittingVfs();

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_JOURNAL_VFS_H_

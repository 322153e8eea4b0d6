// Roster's SQLite VFS: the platform's default one, except for how two kinds of
// file are written. Everything else, the database file included, is the
// default's. Internal to storage/.
//
// Journal files: writes are split into pieces of at most 64 KiB. A statement
// journal is kept in memory as chunks of the spill bound's size
// (SQLITE_CONFIG_STMTJRNL_SPILL) and, once it passes the bound, written to a
// file one chunk per call; SQLite's unix VFS writes at most 0x1ffff bytes per
// call and reports SQLITE_FULL for the rest. Roster's bound is 2 MiB (see
// sqlite_connection.cc), so without this every statement whose journal
// spilled failed.
//
// WAL files: a transaction's frames are gathered in memory and written in
// 64 KiB pieces, instead of two write calls per page (the 24-byte frame
// header, then the page). A created user dirties ~9 pages, so that was ~18
// write syscalls per create. Other connections and a crashed process see
// the same file as without gathering: the gathered bytes are written before
// the call that completes a commit frame returns (so before SQLite publishes
// the commit in the wal-index), and before any other call on the file (read,
// sync, truncate, size, file control, close) or a write elsewhere in it.
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_VFS_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_VFS_H_

namespace roster::storage {

// Registers the VFS as the process's default, once; later calls do nothing.
// Call before the first connection opens. False if SQLite has no default VFS
// or refused the registration.
bool RegisterRosterVfs();

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_VFS_H_

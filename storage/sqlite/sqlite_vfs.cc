#include "storage/sqlite/sqlite_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace roster::storage {
namespace {

// Write calls to the default VFS stay well under the 0x1ffff bytes that the
// unix VFS writes at most in one.
constexpr int kMaxWrite = 64 << 10;
// WAL bytes gathered before they are written anyway: one batch of group
// commit is ~800 KiB (~22 created users), so most commits take one flush.
constexpr size_t kMaxGathered = 1 << 20;
// The WAL file format: a 32-byte file header, then frames of a 24-byte
// header and one page. Bytes 4-7 of a frame header are the database's size
// in pages after the commit, for a commit's last frame, and zero otherwise.
constexpr sqlite3_int64 kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;
constexpr int kJournalFlags =
    SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_TEMP_JOURNAL |
    SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_SUPER_JOURNAL;

sqlite3_vfs* base_vfs = nullptr;
sqlite3_vfs roster_vfs;

// WAL bytes written by SQLite and not yet by the default VFS: one contiguous
// run starting at `offset`.
struct Gathered {
  std::vector<char> bytes;
  sqlite3_int64 offset = 0;
  // Just past SQLite's previous write, gathered or not. A write that starts
  // here continues the log (frames are appended: header, page, header, ...)
  // and is gathered; any other is written at once.
  sqlite3_int64 end = -1;
  // The last gathered write was a commit frame's header: its page ends the
  // commit.
  bool in_commit_frame = false;
};

// A file this VFS changes: this header, then the default VFS's own file
// object (at Inner()). SQLite allocates both, roster_vfs.szOsFile bytes.
struct WrappedFile {
  sqlite3_file header;
  // WAL files only, else null. Owned: made in Open, destroyed in WalClose
  // (SQLite's C API has no destructor to hang a unique_ptr on).
  Gathered* gathered;
};

sqlite3_file* Inner(sqlite3_file* file) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) +
                                         sizeof(WrappedFile));
}

Gathered& GatheredOf(sqlite3_file* file) {
  return *reinterpret_cast<WrappedFile*>(file)->gathered;
}

// Takes back the WAL file's Gathered, to be destroyed.
std::unique_ptr<Gathered> ReleaseGathered(sqlite3_file* file) {
  auto* wrapped = reinterpret_cast<WrappedFile*>(file);
  std::unique_ptr<Gathered> owned(wrapped->gathered);
  wrapped->gathered = nullptr;
  return owned;
}

// Writes `amount` bytes in pieces the default VFS takes whole.
int WriteInPieces(sqlite3_file* inner, const char* bytes, size_t amount,
                  sqlite3_int64 offset) {
  while (amount > 0) {
    const size_t piece = std::min<size_t>(amount, kMaxWrite);
    const int rc =
        inner->pMethods->xWrite(inner, bytes, static_cast<int>(piece), offset);
    if (rc != SQLITE_OK) {
      return rc;
    }
    bytes += piece;
    amount -= piece;
    offset += static_cast<sqlite3_int64>(piece);
  }
  return SQLITE_OK;
}

// The default VFS's `kMethod` (a member of sqlite3_io_methods) on the file
// inside `file`: every method this VFS does not change. A method table takes
// Forward<&sqlite3_io_methods::xRead> and the like, its arguments deduced
// from the slot's type.
template <auto kMethod, typename... Args>
int Forward(sqlite3_file* file, Args... args) {
  sqlite3_file* inner = Inner(file);
  return (inner->pMethods->*kMethod)(inner, args...);
}

// --- Journal files. ---

int JournalWrite(sqlite3_file* file, const void* buffer, int amount,
                 sqlite3_int64 offset) {
  return WriteInPieces(Inner(file), static_cast<const char*>(buffer),
                       static_cast<size_t>(amount), offset);
}

// --- WAL files: every method but a write first writes what is gathered. ---

int Flush(sqlite3_file* file) {
  Gathered& gathered = GatheredOf(file);
  gathered.in_commit_frame = false;
  if (gathered.bytes.empty()) {
    return SQLITE_OK;
  }
  const int rc = WriteInPieces(Inner(file), gathered.bytes.data(),
                               gathered.bytes.size(), gathered.offset);
  // Dropped even on failure: SQLite fails the transaction whose frames these
  // were, and never publishes them.
  gathered.bytes.clear();
  return rc;
}

// Every WAL method but a write and a close: what is gathered is written first.
template <auto kMethod, typename... Args>
int FlushThenForward(sqlite3_file* file, Args... args) {
  if (const int rc = Flush(file); rc != SQLITE_OK) {
    return rc;
  }
  return Forward<kMethod>(file, args...);
}

int WalClose(sqlite3_file* file) {
  const int flushed = Flush(file);
  ReleaseGathered(file);
  const int closed = Forward<&sqlite3_io_methods::xClose>(file);
  return flushed != SQLITE_OK ? flushed : closed;
}

int WalWrite(sqlite3_file* file, const void* buffer, int amount,
             sqlite3_int64 offset) {
  Gathered& gathered = GatheredOf(file);
  const char* bytes = static_cast<const char*>(buffer);
  const size_t size = static_cast<size_t>(amount);
  const bool continues_log = offset == gathered.end;
  gathered.end = offset + amount;
  if (!continues_log || size > kMaxGathered) {
    // Written at once, after what is gathered: the log's header at a restart,
    // or a frame SQLite rewrites in place (a page written twice in one
    // transaction, then the checksums of the frames after it, the commit
    // frame's header last, which no page write then follows).
    if (const int rc = Flush(file); rc != SQLITE_OK) {
      return rc;
    }
    return WriteInPieces(Inner(file), bytes, size, offset);
  }
  if (gathered.bytes.size() + size > kMaxGathered) {
    if (const int rc = Flush(file); rc != SQLITE_OK) {
      return rc;
    }
  }
  if (gathered.bytes.empty()) {
    gathered.offset = offset;
  }
  gathered.bytes.insert(gathered.bytes.end(), bytes, bytes + size);
  if (amount == kFrameHeaderBytes && offset >= kWalHeaderBytes) {
    gathered.in_commit_frame = (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
    return SQLITE_OK;
  }
  // The commit frame's page: the commit is complete, and SQLite publishes it
  // once this returns.
  return gathered.in_commit_frame ? Flush(file) : SQLITE_OK;
}

// Version 1 for both: journals and WAL files are never shared memory or
// memory-mapped (SQLite maps only the database file).
const sqlite3_io_methods kJournalMethods = {
    1,
    Forward<&sqlite3_io_methods::xClose>,
    Forward<&sqlite3_io_methods::xRead>,
    JournalWrite,
    Forward<&sqlite3_io_methods::xTruncate>,
    Forward<&sqlite3_io_methods::xSync>,
    Forward<&sqlite3_io_methods::xFileSize>,
    Forward<&sqlite3_io_methods::xLock>,
    Forward<&sqlite3_io_methods::xUnlock>,
    Forward<&sqlite3_io_methods::xCheckReservedLock>,
    Forward<&sqlite3_io_methods::xFileControl>,
    Forward<&sqlite3_io_methods::xSectorSize>,
    Forward<&sqlite3_io_methods::xDeviceCharacteristics>,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr};

const sqlite3_io_methods kWalMethods = {
    1,
    WalClose,
    FlushThenForward<&sqlite3_io_methods::xRead>,
    WalWrite,
    FlushThenForward<&sqlite3_io_methods::xTruncate>,
    FlushThenForward<&sqlite3_io_methods::xSync>,
    FlushThenForward<&sqlite3_io_methods::xFileSize>,
    Forward<&sqlite3_io_methods::xLock>,
    Forward<&sqlite3_io_methods::xUnlock>,
    Forward<&sqlite3_io_methods::xCheckReservedLock>,
    FlushThenForward<&sqlite3_io_methods::xFileControl>,
    Forward<&sqlite3_io_methods::xSectorSize>,
    Forward<&sqlite3_io_methods::xDeviceCharacteristics>,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr};

int Open(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* file, int flags,
         int* out_flags) {
  const bool wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (!wal && (flags & kJournalFlags) == 0) {
    // The buffer is roster_vfs.szOsFile bytes, more than the default needs.
    return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
  }
  sqlite3_file* inner = Inner(file);
  inner->pMethods = nullptr;
  const int rc = base_vfs->xOpen(base_vfs, name, inner, flags, out_flags);
  // SQLite closes a file whose pMethods is set, even after a failed open.
  if (inner->pMethods == nullptr) {
    file->pMethods = nullptr;
    return rc;
  }
  auto* wrapped = reinterpret_cast<WrappedFile*>(file);
  wrapped->gathered = wal ? std::make_unique<Gathered>().release() : nullptr;
  file->pMethods = wal ? &kWalMethods : &kJournalMethods;
  return rc;
}

}  // namespace

bool RegisterRosterVfs() {
  static const bool kRegistered = [] {
    base_vfs = sqlite3_vfs_find(nullptr);
    if (base_vfs == nullptr) {
      return false;
    }
    roster_vfs = *base_vfs;  // Every method but xOpen is the default's.
    roster_vfs.zName = "roster";
    roster_vfs.szOsFile =
        static_cast<int>(sizeof(WrappedFile)) + base_vfs->szOsFile;
    roster_vfs.pNext = nullptr;
    roster_vfs.xOpen = Open;
    return sqlite3_vfs_register(&roster_vfs, /*makeDflt=*/1) == SQLITE_OK;
  }();
  return kRegistered;
}

}  // namespace roster::storage

#include "storage/sqlite_journal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>

namespace roster::storage {
namespace {

constexpr int kMaxWrite = 64 << 10;
constexpr int kJournalFlags =
    SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_TEMP_JOURNAL |
    SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_SUPER_JOURNAL;

sqlite3_vfs* base_vfs = nullptr;
sqlite3_vfs journal_vfs;

// A journal file: this header, then the default VFS's own file object.
struct JournalFile {
  sqlite3_file header;
};

sqlite3_file* Inner(sqlite3_file* file) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) +
                                         sizeof(JournalFile));
}

int Close(sqlite3_file* file) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xClose(inner);
}

int Read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xRead(inner, buffer, amount, offset);
}

int Write(sqlite3_file* file, const void* buffer, int amount,
          sqlite3_int64 offset) {
  sqlite3_file* inner = Inner(file);
  const char* bytes = static_cast<const char*>(buffer);
  while (amount > 0) {
    const int piece = std::min(amount, kMaxWrite);
    const int rc = inner->pMethods->xWrite(inner, bytes, piece, offset);
    if (rc != SQLITE_OK) {
      return rc;
    }
    bytes += piece;
    amount -= piece;
    offset += piece;
  }
  return SQLITE_OK;
}

int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xTruncate(inner, size);
}

int Sync(sqlite3_file* file, int flags) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xSync(inner, flags);
}

int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xFileSize(inner, size);
}

int Lock(sqlite3_file* file, int level) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xLock(inner, level);
}

int Unlock(sqlite3_file* file, int level) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xUnlock(inner, level);
}

int CheckReservedLock(sqlite3_file* file, int* reserved) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xCheckReservedLock(inner, reserved);
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xFileControl(inner, op, arg);
}

int SectorSize(sqlite3_file* file) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xSectorSize(inner);
}

int DeviceCharacteristics(sqlite3_file* file) {
  sqlite3_file* inner = Inner(file);
  return inner->pMethods->xDeviceCharacteristics(inner);
}

// Version 1: journals are never shared memory or memory-mapped.
const sqlite3_io_methods kJournalMethods = {1,
                                            Close,
                                            Read,
                                            Write,
                                            Truncate,
                                            Sync,
                                            FileSize,
                                            Lock,
                                            Unlock,
                                            CheckReservedLock,
                                            FileControl,
                                            SectorSize,
                                            DeviceCharacteristics,
                                            nullptr,
                                            nullptr,
                                            nullptr,
                                            nullptr,
                                            nullptr,
                                            nullptr};

int Open(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* file, int flags,
         int* out_flags) {
  if ((flags & kJournalFlags) == 0) {
    // The buffer is journal_vfs.szOsFile bytes, more than the default needs.
    return base_vfs->xOpen(base_vfs, name, file, flags, out_flags);
  }
  sqlite3_file* inner = Inner(file);
  inner->pMethods = nullptr;
  const int rc = base_vfs->xOpen(base_vfs, name, inner, flags, out_flags);
  // SQLite closes a file whose pMethods is set, even after a failed open.
  file->pMethods = inner->pMethods != nullptr ? &kJournalMethods : nullptr;
  return rc;
}

}  // namespace

bool RegisterJournalSplittingVfs() {
  static const bool kRegistered = [] {
    base_vfs = sqlite3_vfs_find(nullptr);
    if (base_vfs == nullptr) {
      return false;
    }
    journal_vfs = *base_vfs;  // Every method but xOpen is the default's.
    journal_vfs.zName = "roster-journal-split";
    journal_vfs.szOsFile =
        static_cast<int>(sizeof(JournalFile)) + base_vfs->szOsFile;
    journal_vfs.pNext = nullptr;
    journal_vfs.xOpen = Open;
    return sqlite3_vfs_register(&journal_vfs, /*makeDflt=*/1) == SQLITE_OK;
  }();
  return kRegistered;
}

}  // namespace roster::storage

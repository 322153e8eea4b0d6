#include "storage/sqlite/sqlite_backup.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "storage/sqlite/sqlite_connection.h"

namespace roster::storage {
namespace {

// fsync()s `path` (a file or a directory).
bool Sync(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    return false;
  }
  const bool ok = fsync(fd) == 0;
  close(fd);
  return ok;
}

}  // namespace

absl::Status BackupDatabase(const std::string& from, const std::string& to) {
  if (access(from.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no database at ", from));
  }
  const std::string partial = to + ".partial";
  std::remove(partial.c_str());
  try {
    SQLite::Database source(from, SQLite::OPEN_READONLY);
    source.setBusyTimeout(5000);
    SQLite::Statement copy(source, "VACUUM INTO ?");
    copy.bind(1, partial);
    copy.exec();
    {
      SQLite::Database check(partial, SQLite::OPEN_READONLY);
      const std::string verdict =
          check.execAndGet("PRAGMA integrity_check").getString();
      if (verdict != "ok") {
        std::remove(partial.c_str());
        return absl::FailedPreconditionError(
            absl::StrCat("the backup failed its integrity check: ", verdict));
      }
    }
  } catch (const std::exception& e) {
    std::remove(partial.c_str());
    return StatusFromException(e, "backing up the database");
  }
  const size_t slash = to.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : to.substr(0, slash);
  if (!Sync(partial) || std::rename(partial.c_str(), to.c_str()) != 0 ||
      !Sync(dir)) {
    std::remove(partial.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write the backup to ", to));
  }
  return absl::OkStatus();
}

}  // namespace roster::storage

// What a server process holds, read from /proc: resident memory and open
// descriptors, the database's told apart from the rest. For the soak and
// other long runs that must show nothing accumulating.
#ifndef ROSTER_TESTS_TESTING_PROCESS_STATS_H_
#define ROSTER_TESTS_TESTING_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tests/testing/proc_stat.h"
#include "tests/testing/test_database.h"

namespace roster::testing {

// The socket inodes of `pid` connected to TCP port `port` (0: none).
inline std::set<std::string> SocketsTo(pid_t pid, int port) {
  std::set<std::string> inodes;
  if (port == 0) {
    return inodes;
  }
  const std::string remote = absl::StrFormat(":%04X", port);
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/net/", table));
    std::string line;
    std::getline(in, line);  // Header.
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout
      // inode …
      const std::vector<std::string> f =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() > 9 && absl::EndsWith(f[2], remote)) {
        inodes.insert(f[9]);
      }
    }
  }
  return inodes;
}

// Open descriptors of `pid`: the database's (SQLite: roster.db, -wal, -shm;
// PostgreSQL: connections to the server at `pg_port`) and the rest (sockets,
// pipes, logs).
struct Fds {
  int database = 0;
  int other = 0;
};
inline Fds OpenFds(pid_t pid, int pg_port) {
  const std::set<std::string> pg_sockets = SocketsTo(pid, pg_port);
  Fds fds;
  for (const auto& entry : std::filesystem::directory_iterator(
           absl::StrCat("/proc/", pid, "/fd"))) {
    std::error_code error;
    const std::string target =
        std::filesystem::read_symlink(entry.path(), error).string();
    const bool pg_socket =
        absl::StartsWith(target, "socket:[") &&
        pg_sockets.count(target.substr(8, target.size() - 9)) > 0;
    if (pg_socket ||
        absl::StartsWith(std::filesystem::path(target).filename().string(),
                         "roster.db")) {
      ++fds.database;
    } else {
      ++fds.other;
    }
  }
  return fds;
}

// The port of a postgresql://user@host:PORT/db DSN, 0 for a SQLite path.
inline int PostgresPort(const TestDatabase& database) {
  if (!database.postgres()) {
    return 0;
  }
  const std::string dsn = database.db();
  const size_t slash = dsn.rfind('/');
  const size_t colon = dsn.rfind(':', slash);
  return std::stoi(dsn.substr(colon + 1, slash - colon - 1));
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_PROCESS_STATS_H_

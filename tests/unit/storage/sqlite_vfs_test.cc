// Roster's SQLite VFS gathers a transaction's WAL frames and writes them when
// it commits. These tests hold it to the promise in sqlite_vfs.h on real
// files: another connection, and a process that opens the file after the
// writer died, see every commit exactly as they would through SQLite's own
// unix VFS; and a commit of many pages takes a few write calls, not two per
// page.
#include "storage/sqlite/sqlite_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "storage/sqlite/sqlite_connection.h"
#include "tests/testing/require.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::TempDir;

// The server registers the VFS through its first connection, after SQLite's
// process-wide settings; so do the tests.
void OpenTheWayTheServerDoes(const TempDir& dir) {
  ASSERT_THAT(
      SqliteConnection::Open(dir.File("first.db"),
                             SqliteConnection::Mode::kWriter, absl::Seconds(5))
          .status(),
      IsOk());
}

// A raw handle, so a test picks the VFS and the pragmas. Closed at scope end.
class Handle {
 public:
  Handle(const std::string& path, const char* vfs) {
    rc_ = sqlite3_open_v2(path.c_str(), &db_,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
  }
  ~Handle() { sqlite3_close_v2(db_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  // SQLITE_OK, or the error with its message in `error`.
  int Exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (message != nullptr) {
      error = message;
      sqlite3_free(message);
    }
    return rc;
  }
  // The first column of the first row, as text ("" when there is none).
  std::string Text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(statement, 0);
      value = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    }
    sqlite3_finalize(statement);
    return value;
  }

  std::string error;

 private:
  sqlite3* db_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// Rows of 1,000 bytes each: a 4 KiB page holds three or four.
std::string InsertRows(int first, int count, char letter) {
  return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) +
         " UNION ALL SELECT i + 1 FROM n WHERE i < " +
         std::to_string(first + count - 1) +
         ") INSERT INTO t (id, v) SELECT i, printf('%.1000c', '" +
         std::string(1, letter) + "') FROM n";
}

// "rows|bytes|letters" of table t, where every value must be one letter
// 1,000 times: the letters are those found, and a value that is anything else
// reads as "?".
std::string Summary(Handle& db) {
  return db.Text(
      "SELECT count(*) || '|' || total(length(v)) || '|' || "
      "(SELECT group_concat(letter, ',') FROM (SELECT DISTINCT "
      "iif(v = printf('%.1000c', substr(v, 1, 1)), substr(v, 1, 1), '?') "
      "AS letter FROM t ORDER BY letter)) FROM t");
}

// Write calls this process has made, from /proc/self/io; -1 if unreadable.
int64_t WriteCalls() {
  std::ifstream io("/proc/self/io");
  std::string line;
  while (std::getline(io, line)) {
    if (absl::StartsWith(line, "syscw:")) {
      return std::stoll(line.substr(6));
    }
  }
  return -1;
}

// synchronous=NORMAL: a commit makes no sync call, so only the write that
// completes its commit frame puts the gathered frames in the file before
// SQLite publishes the commit to readers.
TEST(SqliteVfsTest, AnotherConnectionSeesEveryCommitAtOnce) {
  TempDir dir;
  OpenTheWayTheServerDoes(dir);
  const std::string path = dir.File("vfs.db");
  Handle writer(path, "roster");
  ASSERT_TRUE(writer.ok());
  ASSERT_EQ(writer.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"),
            SQLITE_OK)
      << writer.error;
  Handle reader(path, "roster");
  ASSERT_TRUE(reader.ok());
  int rows = 0;
  // Small commits, then ones past the 1 MiB that is gathered at most.
  for (int count : {1, 3, 40, 200, 1500, 3000, 2}) {
    ASSERT_EQ(writer.Exec(InsertRows(rows + 1, count, 'a')), SQLITE_OK)
        << writer.error;
    rows += count;
    EXPECT_EQ(Summary(reader),
              std::to_string(rows) + "|" + std::to_string(rows * 1000) + ".0|a")
        << "after a commit of " << count << " rows";
  }
  ASSERT_EQ(writer.Exec("UPDATE t SET v = printf('%.1000c', 'b') "
                        "WHERE id % 2 = 0"),
            SQLITE_OK)
      << writer.error;
  EXPECT_EQ(Summary(reader), std::to_string(rows) + "|" +
                                 std::to_string(rows * 1000) + ".0|a,b");
  EXPECT_EQ(reader.Text("PRAGMA integrity_check"), "ok");
}

// The writer's process dies right after COMMIT returns, closing nothing, so
// the next process rebuilds the wal-index from the WAL file, checksums and
// all. The transaction overflows a two-page cache, so SQLite spills frames
// mid-transaction, reads them back, rewrites them in place, and at commit
// rewrites their checksums: writes that are not appends.
TEST(SqliteVfsTest, ACommitSurvivesItsProcessDyingRightAfter) {
  TempDir dir;
  OpenTheWayTheServerDoes(dir);
  const std::string path = dir.File("vfs.db");
  {
    Handle setup(path, "roster");
    ASSERT_EQ(setup.Exec("PRAGMA journal_mode=WAL; "
                         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"),
              SQLITE_OK)
        << setup.error;
  }
  for (const char* synchronous : {"NORMAL", "FULL"}) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      Handle writer(path, "roster");
      const bool committed =
          writer.ok() &&
          writer.Exec(std::string("PRAGMA synchronous=") + synchronous +
                      "; PRAGMA cache_size=2; BEGIN; DELETE FROM t") ==
              SQLITE_OK &&
          writer.Exec(InsertRows(1, 600, 'a')) == SQLITE_OK &&
          writer.Exec("UPDATE t SET v = printf('%.1000c', 'c')") == SQLITE_OK &&
          writer.Exec("COMMIT") == SQLITE_OK;
      _exit(committed ? 0 : 1);  // No destructor, no close: as if killed.
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the child could not commit";
    Handle after(path, "roster");
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(Summary(after), "600|600000.0|c")
        << "synchronous=" << synchronous;
    EXPECT_EQ(after.Text("PRAGMA integrity_check"), "ok");
  }
}

TEST(SqliteVfsTest, ACommitOfManyPagesTakesAFewWriteCalls) {
  ROSTER_REQUIRE(WriteCalls() < 0 ? "/proc/self/io is not readable here" : "");
  TempDir dir;
  OpenTheWayTheServerDoes(dir);
  int64_t calls[2] = {0, 0};
  const char* vfs[2] = {"unix", "roster"};
  for (int i = 0; i < 2; ++i) {
    Handle db(dir.File(std::string(vfs[i]) + ".db"), vfs[i]);
    ASSERT_TRUE(db.ok());
    ASSERT_EQ(db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"),
              SQLITE_OK)
        << db.error;
    // ~60 pages, which SQLite's default 2 MiB cache holds until COMMIT.
    ASSERT_EQ(db.Exec("BEGIN; " + InsertRows(1, 200, 'a')), SQLITE_OK)
        << db.error;
    const int64_t before = WriteCalls();
    ASSERT_EQ(db.Exec("COMMIT"), SQLITE_OK) << db.error;
    calls[i] = WriteCalls() - before;
  }
  // SQLite's own VFS: a frame header and a page per dirty page.
  EXPECT_GE(calls[0], 100);
  // Gathered: ~250 KiB in 64 KiB pieces.
  EXPECT_LE(calls[1], 8) << "unix VFS: " << calls[0];
}

}  // namespace
}  // namespace roster::storage

// SqliteConnection::EndOpenReads on real files: a statement left on a row
// keeps its connection's read transaction, and so its snapshot, past
// ROLLBACK; EndOpenReads ends it, so a pooled reader sees the latest commit.
#include "storage/sqlite/sqlite_connection.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::TempDir;

std::unique_ptr<SqliteConnection> OpenOrDie(const std::string& path,
                                            SqliteConnection::Mode mode) {
  auto c = SqliteConnection::Open(path, mode, absl::Seconds(5));
  EXPECT_THAT(c.status(), IsOk());
  return c.ok() ? *std::move(c) : nullptr;
}

// Rows in t, read the way the store reads: in a BEGIN … ROLLBACK snapshot.
int64_t CountRows(SqliteConnection& c) {
  c.ExecCached("BEGIN");
  auto& count = c.Prepare("SELECT count(*) FROM t");
  count.executeStep();
  const int64_t n = count.getColumn(0).getInt64();
  count.reset();
  c.ExecCached("ROLLBACK");
  return n;
}

TEST(SqliteConnectionTest, EndOpenReadsLetsAReaderLeftOnARowSeeNewCommits) {
  TempDir dir;
  const std::string path = dir.File("t.db");
  auto writer = OpenOrDie(path, SqliteConnection::Mode::kWriter);
  ASSERT_NE(writer, nullptr);
  writer->Exec("CREATE TABLE t (x INTEGER)");
  writer->Exec("INSERT INTO t VALUES (1), (2)");
  auto reader = OpenOrDie(path, SqliteConnection::Mode::kReader);
  ASSERT_NE(reader, nullptr);

  // A read that stops at its first row and is not reset.
  reader->ExecCached("BEGIN");
  auto& first = reader->Prepare("SELECT x FROM t");
  ASSERT_TRUE(first.executeStep());
  reader->ExecCached("ROLLBACK");

  writer->Exec("INSERT INTO t VALUES (3)");
  // SQLite's behaviour that EndOpenReads exists for: the old snapshot.
  EXPECT_EQ(CountRows(*reader), 2);
  reader->EndOpenReads();
  EXPECT_EQ(CountRows(*reader), 3);
  // Nothing open: a no-op that leaves the connection usable.
  reader->EndOpenReads();
  writer->Exec("INSERT INTO t VALUES (4)");
  EXPECT_EQ(CountRows(*reader), 4);
}

}  // namespace
}  // namespace roster::storage

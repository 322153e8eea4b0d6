// The database a test's server runs on, by ROSTER_TEST_STORE: a SQLite file in
// the test's temp dir (the default), or with ROSTER_TEST_STORE=postgres a
// scratch database on the cluster scripts/with-postgres.sh starts. ctest
// registers the integration suites once per adapter (the .postgres variants
// set the variable), so one test source covers both.
#ifndef ROSTER_TESTS_TESTING_TEST_DATABASE_H_
#define ROSTER_TESTS_TESTING_TEST_DATABASE_H_

#include <SQLiteCpp/Database.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "tests/testing/postgres.h"
#include "tests/testing/temp_dir.h"

namespace roster::testing {

// True when this process tests the PostgreSQL adapter.
inline bool TestStoreIsPostgres() {
  const char* store = std::getenv("ROSTER_TEST_STORE");
  return store != nullptr && std::string(store) == "postgres";
}

class TestDatabase {
 public:
  // `file` names the SQLite file inside `dir` when testing SQLite.
  explicit TestDatabase(const TempDir& dir,
                        const std::string& file = "roster.db")
      : sqlite_path_(dir.File(file)) {
    if (TestStoreIsPostgres()) {
      pg_ = std::make_unique<ScratchPgDatabase>();
      pg_reader_ = std::make_unique<PgReader>(pg_->dsn());
    }
  }

  bool postgres() const { return pg_ != nullptr; }
  // The --db value: the file's absolute path, or the scratch database's DSN.
  std::string db() const { return postgres() ? pg_->dsn() : sqlite_path_; }
  std::string flag() const { return "--db=" + db(); }

  // The first column of `sql`'s first row as an integer, read around the
  // server (SQL in the subset both databases speak). From one thread at a
  // time: on PostgreSQL the queries share one connection.
  int64_t Int(const std::string& sql) const {
    if (postgres()) {
      const std::string value = pg_reader_->Scalar(sql);
      return value.empty() ? -1 : std::stoll(value);
    }
    SQLite::Database db(sqlite_path_, SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getInt64();
  }

 private:
  std::string sqlite_path_;
  std::unique_ptr<ScratchPgDatabase> pg_;
  // After pg_: closed before the scratch database is dropped.
  std::unique_ptr<PgReader> pg_reader_;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_TEST_DATABASE_H_

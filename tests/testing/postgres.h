// PostgreSQL for tests: the throwaway cluster scripts/with-postgres.sh starts
// (ROSTER_TEST_POSTGRES_DSN), and a fresh database per test on it.
//
// Without the variable, PostgreSQL tests skip with a message saying how to run
// them; under CI (CI=true) they fail instead, so CI can never skip them.
#ifndef ROSTER_TESTS_TESTING_POSTGRES_H_
#define ROSTER_TESTS_TESTING_POSTGRES_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "sodium.h"
#include "tests/testing/require.h"

// The functions are defined in postgres.cc, the one test source built with or
// without libpq (ROSTER_POSTGRES): every other test TU compiles the same in
// both builds, so ccache serves the PostgreSQL-less build from the first.
namespace roster::testing {

// Whether this build has the PostgreSQL adapter (ROSTER_POSTGRES).
bool PostgresBuilt();

// The cluster's admin DSN, or "" when none was started.
std::string PostgresAdminDsn();

// Why PostgreSQL tests cannot run here ("" when they can).
std::string PostgresUnavailableReason();

// Skips the test (or fails it under CI) when PostgreSQL is not available.
#define ROSTER_REQUIRE_POSTGRES() \
  ROSTER_REQUIRE(::roster::testing::PostgresUnavailableReason())

// Runs one SQL command on `dsn`; returns libpq's error text ("" on success).
std::string PgCommand(const std::string& dsn, const std::string& sql);

// The first column of the first row of `sql` on `dsn`, or "" on error.
std::string PgScalar(const std::string& dsn, const std::string& sql);

// PgScalar over one connection, kept open between queries: a test that checks
// thousands of rows one query at a time (CrashTest) spent most of its time
// connecting. A connection found broken (the database restarted, or its
// backends terminated) is opened again once before a query gives up. One
// thread at a time, as libpq's connections are.
class PgReader {
 public:
  explicit PgReader(std::string dsn);
  ~PgReader();
  PgReader(const PgReader&) = delete;
  PgReader& operator=(const PgReader&) = delete;

  // As PgScalar.
  std::string Scalar(const std::string& sql);

 private:
  struct Connection;  // libpq's, kept out of this header (see above).
  std::string dsn_;
  std::unique_ptr<Connection> connection_;
};

// A database of its own on the test cluster, dropped (with any connections
// still open to it) when this goes out of scope.
class ScratchPgDatabase {
 public:
  ScratchPgDatabase() {
    const std::string admin = PostgresAdminDsn();
    if (admin.empty() || sodium_init() < 0) {
      return;
    }
    name_ = absl::StrCat("roster_test_", randombytes_random(), "_",
                         randombytes_random());
    const std::string error =
        PgCommand(admin, absl::StrCat("CREATE DATABASE ", name_));
    EXPECT_EQ(error, "") << "creating " << name_;
    // The admin DSN ends in /postgres: swap the database name.
    dsn_ = admin.substr(0, admin.rfind('/') + 1) + name_;
  }
  ~ScratchPgDatabase() {
    if (!name_.empty()) {
      PgCommand(PostgresAdminDsn(), absl::StrCat("DROP DATABASE IF EXISTS ",
                                                 name_, " WITH (FORCE)"));
    }
  }
  ScratchPgDatabase(const ScratchPgDatabase&) = delete;
  ScratchPgDatabase& operator=(const ScratchPgDatabase&) = delete;

  const std::string& dsn() const { return dsn_; }

  // Ends every other connection to this database, as a restart or a failover
  // would; returns libpq's error text ("" on success).
  std::string TerminateConnections() const {
    return PgCommand(
        PostgresAdminDsn(),
        absl::StrCat("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = '",
                     name_, "' AND pid <> pg_backend_pid()"));
  }

 private:
  std::string name_;
  std::string dsn_;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_POSTGRES_H_

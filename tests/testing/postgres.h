// PostgreSQL for tests: the throwaway cluster scripts/with-postgres.sh starts
// (ROSTER_TEST_POSTGRES_DSN), and a fresh database per test on it.
//
// Without the variable, PostgreSQL tests skip with a message saying how to run
// them; under CI (CI=true) they fail instead, so CI can never skip them.
#ifndef ROSTER_TESTS_TESTING_POSTGRES_H_
#define ROSTER_TESTS_TESTING_POSTGRES_H_

#include <gtest/gtest.h>
#if ROSTER_POSTGRES
#include <libpq-fe.h>
#endif

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "sodium.h"
#include "tests/testing/require.h"

namespace roster::testing {

// The cluster's admin DSN, or "" when none was started.
inline std::string PostgresAdminDsn() {
  const char* dsn = std::getenv("ROSTER_TEST_POSTGRES_DSN");
  return dsn == nullptr ? "" : dsn;
}

// Why PostgreSQL tests cannot run here ("" when they can).
inline std::string PostgresUnavailableReason() {
#if !ROSTER_POSTGRES
  return "built without PostgreSQL (cmake -DROSTER_POSTGRES=OFF)";
#endif
  if (!PostgresAdminDsn().empty()) {
    return "";
  }
  return "ROSTER_TEST_POSTGRES_DSN is not set: run the tests through `make "
         "test` (scripts/with-postgres.sh starts a throwaway PostgreSQL 15)";
}

// Skips the test (or fails it under CI) when PostgreSQL is not available.
#define ROSTER_REQUIRE_POSTGRES() \
  ROSTER_REQUIRE(::roster::testing::PostgresUnavailableReason())

// Runs one SQL command on `dsn`; returns libpq's error text ("" on success).
inline std::string PgCommand(const std::string& dsn, const std::string& sql) {
#if !ROSTER_POSTGRES
  static_cast<void>(dsn);
  static_cast<void>(sql);
  return PostgresUnavailableReason();
#else
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(dsn.c_str()),
                                                  PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return PQerrorMessage(conn.get());
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(
      PQexec(conn.get(), sql.c_str()), PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return PQerrorMessage(conn.get());
  }
  return "";
#endif
}

// The first column of the first row of `sql` on `dsn`, or "" on error.
inline std::string PgScalar(const std::string& dsn, const std::string& sql) {
#if !ROSTER_POSTGRES
  static_cast<void>(dsn);
  static_cast<void>(sql);
  return "";
#else
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(dsn.c_str()),
                                                  PQfinish);
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(
      PQexec(conn.get(), sql.c_str()), PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK ||
      PQntuples(result.get()) == 0) {
    return "";
  }
  return PQgetvalue(result.get(), 0, 0);
#endif
}

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

 private:
  std::string name_;
  std::string dsn_;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_POSTGRES_H_

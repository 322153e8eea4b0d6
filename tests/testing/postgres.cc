// PostgreSQL helpers for tests (postgres.h); stubs when built without libpq.
#include "tests/testing/postgres.h"

#if ROSTER_POSTGRES
#include <libpq-fe.h>
#endif

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

namespace roster::testing {

bool PostgresBuilt() {
#if ROSTER_POSTGRES
  return true;
#else
  return false;
#endif
}

std::string PostgresAdminDsn() {
  const char* dsn = std::getenv("ROSTER_TEST_POSTGRES_DSN");
  return dsn == nullptr ? "" : dsn;
}

std::string PostgresUnavailableReason() {
#if !ROSTER_POSTGRES
  return "built without PostgreSQL (cmake -DROSTER_POSTGRES=OFF)";
#endif
  if (!PostgresAdminDsn().empty()) {
    return "";
  }
  return "ROSTER_TEST_POSTGRES_DSN is not set: run the tests through `make "
         "test` (scripts/with-postgres.sh starts a throwaway PostgreSQL 15)";
}

std::string PgCommand(const std::string& dsn, const std::string& sql) {
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

#if ROSTER_POSTGRES
namespace {

// The first column of the first row of `sql` on `conn`, or "" on error.
std::string ScalarOn(PGconn* conn, const std::string& sql) {
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(
      PQexec(conn, sql.c_str()), PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK ||
      PQntuples(result.get()) == 0) {
    return "";
  }
  return PQgetvalue(result.get(), 0, 0);
}

}  // namespace

struct PgReader::Connection {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn{nullptr, PQfinish};
};
#else
struct PgReader::Connection {};
#endif

PgReader::PgReader(std::string dsn)
    : dsn_(std::move(dsn)), connection_(std::make_unique<Connection>()) {}

PgReader::~PgReader() = default;

std::string PgReader::Scalar(const std::string& sql) {
#if !ROSTER_POSTGRES
  static_cast<void>(sql);
  return "";
#else
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (connection_->conn == nullptr ||
        PQstatus(connection_->conn.get()) != CONNECTION_OK) {
      connection_->conn.reset(PQconnectdb(dsn_.c_str()));
    }
    std::string value = ScalarOn(connection_->conn.get(), sql);
    if (!value.empty() || PQstatus(connection_->conn.get()) == CONNECTION_OK) {
      return value;
    }
  }
  return "";
#endif
}

std::string PgScalar(const std::string& dsn, const std::string& sql) {
#if !ROSTER_POSTGRES
  static_cast<void>(dsn);
  static_cast<void>(sql);
  return "";
#else
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(dsn.c_str()),
                                                  PQfinish);
  return ScalarOn(conn.get(), sql);
#endif
}

}  // namespace roster::testing

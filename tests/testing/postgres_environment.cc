// Linked into the integration tests: a PostgreSQL run of the suites
// (ROSTER_TEST_STORE=postgres) without a cluster skips every test with the
// reason, or fails under CI, instead of failing each test on its own.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "tests/testing/test_database.h"

namespace roster::testing {
namespace {

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!TestStoreIsPostgres()) {
      return;
    }
    const std::string reason = PostgresUnavailableReason();
    const char* ci = std::getenv("CI");
    if (!reason.empty() && ci != nullptr && std::string(ci) == "true") {
      // Not FAIL(): gtest would then report every test SKIPPED, and ctest
      // counts a SKIPPED line as a skip whatever the exit code.
      std::cerr << "CI must run the PostgreSQL tests: " << reason << "\n";
      std::exit(1);
    }
    if (!reason.empty()) {
      GTEST_SKIP() << reason;
    }
  }
};

// gtest takes ownership of registered environments.
::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

}  // namespace
}  // namespace roster::testing

// The storage adapters this build has, for the contract suites that run on
// each. adapters.cc is the only storage test source compiled differently
// without libpq (ROSTER_POSTGRES): every other one compiles alike in both
// builds, so ccache serves `make test-without-postgres` from `make test`'s
// objects.
#ifndef ROSTER_TESTS_UNIT_STORAGE_ADAPTERS_H_
#define ROSTER_TESTS_UNIT_STORAGE_ADAPTERS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/user_store.h"

namespace roster::storage {

// "sqlite", then "postgres" when the build has its adapter.
std::vector<std::string> BuiltAdapters();

// A PgUserStore on `dsn` with default options; Unimplemented in a build
// without PostgreSQL.
absl::StatusOr<std::unique_ptr<UserStore>> OpenPgUserStore(
    const std::string& dsn);

// How a PgUserStore's session checks were answered: `reads` calls in
// `batches` statements. Nullopt for any other store.
struct ReadBatches {
  int64_t reads = 0;
  int64_t batches = 0;
};
std::optional<ReadBatches> SessionReadBatches(const UserStore& store);

}  // namespace roster::storage

#endif  // ROSTER_TESTS_UNIT_STORAGE_ADAPTERS_H_

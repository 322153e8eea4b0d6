// Opens the store that --db names. The one app source that knows which
// storage adapters the build has: the others, roster_server.cc among them,
// compile alike with and without PostgreSQL, so ccache shares them between
// `make test` and `make test-without-postgres`.
#ifndef ROSTER_SERVER_APP_OPEN_STORE_H_
#define ROSTER_SERVER_APP_OPEN_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/user_store.h"

namespace roster::app {

// A postgres:// URI selects PostgreSQL (FailedPrecondition in a build without
// it); anything else is a SQLite path, with a user cache of `user_cache_mb`.
absl::StatusOr<std::unique_ptr<storage::UserStore>> OpenStore(
    const std::string& db, int32_t user_cache_mb);

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_OPEN_STORE_H_

#include "server/app/open_store.h"

#include "absl/status/status.h"
#include "storage/sqlite/sqlite_user_store.h"
#if ROSTER_POSTGRES
#include "storage/postgres/pg_user_store.h"
#endif

namespace roster::app {

absl::StatusOr<std::unique_ptr<storage::UserStore>> OpenStore(
    const std::string& db, int32_t user_cache_mb) {
  if (storage::IsPostgresDsn(db)) {
#if ROSTER_POSTGRES
    storage::PgOptions options;
    options.dsn = db;
    auto store = storage::PgUserStore::Open(options);
    if (!store.ok()) {
      return store.status();
    }
    return std::unique_ptr<storage::UserStore>(*std::move(store));
#else
    return absl::FailedPreconditionError(
        "--db names PostgreSQL, but this roster-server was built without it "
        "(cmake -DROSTER_POSTGRES=OFF)");
#endif
  }
  storage::SqliteOptions options;
  options.path = db;
  options.user_cache_bytes = static_cast<size_t>(user_cache_mb) << 20;
  auto store = storage::SqliteUserStore::Open(options);
  if (!store.ok()) {
    return store.status();
  }
  return std::unique_ptr<storage::UserStore>(*std::move(store));
}

}  // namespace roster::app

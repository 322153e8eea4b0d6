#include "tests/unit/storage/adapters.h"

#include "absl/status/status.h"
#if ROSTER_POSTGRES
#include "storage/postgres/pg_user_store.h"
#endif

namespace roster::storage {

std::vector<std::string> BuiltAdapters() {
#if ROSTER_POSTGRES
  return {"sqlite", "postgres"};
#else
  return {"sqlite"};
#endif
}

absl::StatusOr<std::unique_ptr<UserStore>> OpenPgUserStore(
    const std::string& dsn) {
#if ROSTER_POSTGRES
  PgOptions options;
  options.dsn = dsn;
  auto store = PgUserStore::Open(options);
  if (!store.ok()) {
    return store.status();
  }
  return std::unique_ptr<UserStore>(*std::move(store));
#else
  (void)dsn;
  return absl::UnimplementedError(
      "built without PostgreSQL (cmake -DROSTER_POSTGRES=OFF)");
#endif
}

std::optional<ReadBatches> SessionReadBatches(const UserStore& store) {
#if ROSTER_POSTGRES
  if (const auto* pg = dynamic_cast<const PgUserStore*>(&store)) {
    const PgReadBatchStats stats = pg->GetSessionReadBatchStats();
    return ReadBatches{stats.reads, stats.batches};
  }
#else
  (void)store;
#endif
  return std::nullopt;
}

}  // namespace roster::storage

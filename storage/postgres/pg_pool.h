// PgPool: a bounded pool of PostgreSQL connections for one store.
//
// Acquire() hands out a Lease, which gives its connection back when destroyed.
// A connection that failed, or that an error path left inside a transaction,
// is closed instead of being handed to the next caller. At most
// `max_connections` are open, idle or leased; a caller waits up to
// `acquire_timeout` for one, then gets Unavailable. Thread-safe.
#ifndef ROSTER_STORAGE_POSTGRES_PG_POOL_H_
#define ROSTER_STORAGE_POSTGRES_PG_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace roster::storage {

class PgConnection;

// How a leased connection's statements are planned
// (PgConnection::UseGenericPlans).
enum class PgPlans {
  kChosenPerRun,  // PostgreSQL's own choice: what filters need.
  kGeneric,       // Planned once: lookups by id, whatever the ids.
};

class PgPool {
 public:
  // A connection on loan; returned to its pool when destroyed.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConnection> c);
    Lease(Lease&&) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection& operator*() { return *c_; }

   private:
    PgPool* pool_;  // Not owned.
    std::unique_ptr<PgConnection> c_;
  };

  PgPool(std::string dsn, int max_connections, absl::Duration acquire_timeout);
  ~PgPool();

  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A connection set to `plans`; an idle one already set so is preferred,
  // since switching costs a round trip. Unavailable when none frees up in
  // time or a new one cannot connect.
  absl::StatusOr<Lease> Acquire(PgPlans plans = PgPlans::kChosenPerRun);

 private:
  void Release(std::unique_ptr<PgConnection> connection);

  const std::string dsn_;
  const int max_connections_;
  const absl::Duration acquire_timeout_;

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_POOL_H_

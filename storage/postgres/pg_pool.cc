#include "storage/postgres/pg_pool.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "storage/postgres/pg_connection.h"

namespace roster::storage {

PgPool::Lease::Lease(PgPool* pool, std::unique_ptr<PgConnection> c)
    : pool_(pool), c_(std::move(c)) {}

PgPool::Lease::Lease(Lease&&) noexcept = default;

PgPool::Lease::~Lease() {
  if (c_ != nullptr) {
    pool_->Release(std::move(c_));
  }
}

PgPool::PgPool(std::string dsn, int max_connections,
               absl::Duration acquire_timeout)
    : dsn_(std::move(dsn)),
      max_connections_(max_connections),
      acquire_timeout_(acquire_timeout) {}

PgPool::~PgPool() = default;

absl::StatusOr<PgPool::Lease> PgPool::Acquire(PgPlans plans) {
  const bool generic = plans == PgPlans::kGeneric;
  std::unique_ptr<PgConnection> c;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time deadline = absl::Now() + acquire_timeout_;
    while (idle_.empty() && open_ >= max_connections_) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) {
        if (idle_.empty() && open_ >= max_connections_) {
          return absl::UnavailableError(
              "every PostgreSQL connection is busy; try again");
        }
      }
    }
    if (!idle_.empty()) {
      // The most recently used connection already planning as asked, else
      // the most recently used one.
      auto it = std::find_if(idle_.rbegin(), idle_.rend(), [&](const auto& i) {
        return i->generic_plans() == generic;
      });
      auto taken =
          it == idle_.rend() ? std::prev(idle_.end()) : std::prev(it.base());
      c = std::move(*taken);
      idle_.erase(taken);
    } else {
      ++open_;
    }
  }
  if (c == nullptr) {
    auto opened = PgConnection::Open(dsn_);
    if (!opened.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      cv_.Signal();
      return opened.status();
    }
    c = *std::move(opened);
  }
  Lease lease(this, std::move(c));
  absl::Status planned = PgGuarded("choosing how statements are planned", [&] {
    (*lease).UseGenericPlans(generic);
    return absl::OkStatus();
  });
  if (!planned.ok()) {
    return planned;  // The lease hands the connection back (dropped if broken).
  }
  return lease;
}

void PgPool::Release(std::unique_ptr<PgConnection> connection) {
  // A failed connection, or one left inside a transaction by an error path,
  // is closed rather than handed to the next caller.
  const bool reusable = connection->ok() && !connection->InTransaction();
  if (!reusable) {
    connection.reset();
  }
  absl::MutexLock lock(&mu_);
  if (reusable) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  cv_.Signal();
}

}  // namespace roster::storage

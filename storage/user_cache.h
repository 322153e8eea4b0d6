// UserCache: users recently read from the database, kept by id, so a hot
// GetUser costs a hash lookup instead of four b-tree searches.
//
// Correct only if every committed change to a user is reported through
// Invalidate() after it commits and before its writer is acknowledged. A
// reader that missed takes generation() before it reads the database and
// passes it to Insert(): if any invalidation happened meanwhile, the row it
// read may predate that commit, so it is not kept. Bounded by the approximate
// bytes of the records it holds; evicts with second chance (CLOCK), so a user
// read again since the hand last passed stays. A budget of 0 disables it.
//
// Thread-safe.
#ifndef ROSTER_STORAGE_USER_CACHE_H_
#define ROSTER_STORAGE_USER_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "storage/records.h"

namespace roster::storage {

class UserCache {
 public:
  explicit UserCache(size_t budget_bytes) : budget_bytes_(budget_bytes) {}

  UserCache(const UserCache&) = delete;
  UserCache& operator=(const UserCache&) = delete;

  bool enabled() const { return budget_bytes_ > 0; }

  // The cached user, or null.
  std::shared_ptr<const UserRecord> Find(absl::string_view user_id);

  // Counts invalidations; take it before reading the database.
  uint64_t generation() const;

  // Keeps `user` unless an invalidation happened since `generation` was
  // taken, or it alone exceeds a quarter of the budget.
  void Insert(std::shared_ptr<const UserRecord> user, uint64_t generation);

  // Forgets these users (present or not) and refuses every Insert whose read
  // began before now.
  void Invalidate(absl::Span<const std::string> user_ids);

  // Approximate bytes held, for tests and metrics.
  size_t bytes() const;

  // Finds that returned a user, and that did not, since construction.
  int64_t hits() const;
  int64_t misses() const;

  // Roughly what a record occupies in memory.
  static size_t ApproximateBytes(const UserRecord& user);

 private:
  struct Entry {
    std::shared_ptr<const UserRecord> user;
    size_t bytes = 0;
    bool referenced = false;
  };

  void EvictToBudget() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t budget_bytes_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // The clock: ids in insertion order. An invalidated id stays until the
  // hand reaches it (stale positions are skipped), so the ring is compacted
  // when it grows past twice the entries.
  std::deque<std::string> ring_ ABSL_GUARDED_BY(mu_);
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_USER_CACHE_H_

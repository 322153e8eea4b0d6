// UserCache: users recently read from the database, kept by id, so a hot
// GetUser costs a hash lookup instead of four b-tree searches.
//
// Correct only if the writer brackets every commit that changes users:
// BeginCommit(their ids) before the commit can become visible, EndCommit()
// after it and before any of its writers is acknowledged. Those users are
// forgotten at BeginCommit and not kept again until EndCommit, so no reader
// that already sees the commit can find an older record. A reader that missed
// takes generation() before it reads the database and passes it to Insert():
// if a commit began meanwhile, what it read may predate that commit, so it is
// not kept. Hence a cached record is always its user's newest committed state,
// and one found with FindAsOf() is also the state of any snapshot begun after
// its generation was taken. Bounded by the approximate bytes of the records it
// holds; evicts with second chance (CLOCK), so a user read again since the
// hand last passed stays. A budget of 0 disables it.
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
#include "absl/container/flat_hash_set.h"
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

  // The cached user, or null when a commit has begun since `generation` was
  // taken (the record might then be newer than a snapshot begun before that
  // commit became visible).
  std::shared_ptr<const UserRecord> FindAsOf(absl::string_view user_id,
                                             uint64_t generation);

  // Counts commits begun and ended; take it before reading the database.
  uint64_t generation() const;

  // Keeps `user` unless a commit began since `generation` was taken, a commit
  // in progress changes it, or it alone exceeds a quarter of the budget.
  void Insert(std::shared_ptr<const UserRecord> user, uint64_t generation);

  // Announces a commit that changes these users (present or not), before it
  // can become visible: forgets them and keeps none of them until
  // EndCommit(). At most one commit is in progress at a time.
  void BeginCommit(absl::Span<const std::string> user_ids);

  // The commit begun last is visible (or failed): reads begun before now are
  // no longer kept, and its users may be kept again.
  void EndCommit();

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

  std::shared_ptr<const UserRecord> FindLocked(absl::string_view user_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictToBudget() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t budget_bytes_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // The users of the commit in progress.
  absl::flat_hash_set<std::string> committing_ ABSL_GUARDED_BY(mu_);
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

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
// its generation was taken.
//
// It also keeps identifier lookups: "this email address (phone number,
// username, external id) names this one user". A lookup lives beside its
// user's record and goes with it, and BeginCommit() also takes the lookup
// keys of every identifier value the commit writes or removes (LookupKey()),
// forgets those and keeps none of them until EndCommit(). A lookup is kept on
// the same generation terms as a record, so a cached lookup is the newest
// committed answer too.
//
// Bounded by the approximate bytes of the records (and lookups) it holds;
// evicts with second chance (CLOCK), so a user read again since the hand last
// passed stays. A budget of 0 disables it.
//
// Thread-safe.
#ifndef ROSTER_STORAGE_SQLITE_USER_CACHE_H_
#define ROSTER_STORAGE_SQLITE_USER_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "storage/records.h"
#include "storage/user_store.h"

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

  // The user that the identifier `lookup_key` names alone, or null.
  std::shared_ptr<const UserRecord> FindLookup(absl::string_view lookup_key);

  // Keeps "`lookup_key` names `user_id` alone", as a read begun after
  // `generation` was taken found it, beside that user's cached record: not
  // kept if the record is absent, or on Insert()'s terms.
  void InsertLookup(const std::string& lookup_key, const std::string& user_id,
                    uint64_t generation);

  // Announces a commit that changes these users (present or not) and writes
  // or removes these identifier values, before it can become visible:
  // forgets them and keeps none of them until EndCommit(). At most one commit
  // is in progress at a time.
  void BeginCommit(absl::Span<const std::string> user_ids,
                   absl::Span<const std::string> lookup_keys = {});

  // The commit begun last is visible (or failed): reads begun before now are
  // no longer kept, and its users may be kept again.
  void EndCommit();

  // Approximate bytes held, for tests and metrics.
  size_t bytes() const;

  // Finds that returned a user, and that did not, since construction.
  int64_t hits() const;
  int64_t misses() const;
  // FindLookup() calls that returned a user.
  int64_t lookup_hits() const;

  // Roughly what a record occupies in memory.
  static size_t ApproximateBytes(const UserRecord& user);

 private:
  struct Entry {
    std::shared_ptr<const UserRecord> user;
    size_t bytes = 0;  // The record's and its lookups'.
    bool referenced = false;
    std::vector<std::string> lookup_keys;  // Those that name this user.
  };
  using EntryMap = absl::flat_hash_map<std::string, Entry>;

  std::shared_ptr<const UserRecord> FindLocked(absl::string_view user_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the entry and its lookups.
  void EraseLocked(EntryMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictToBudget() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t budget_bytes_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // The users and lookup keys of the commit in progress.
  absl::flat_hash_set<std::string> committing_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> committing_lookups_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t lookup_hits_ ABSL_GUARDED_BY(mu_) = 0;
  EntryMap entries_ ABSL_GUARDED_BY(mu_);
  // Lookup key to the id of the user it names; that user's entry lists it.
  absl::flat_hash_map<std::string, std::string> lookups_ ABSL_GUARDED_BY(mu_);
  // The clock: ids in insertion order. An invalidated id stays until the
  // hand reaches it (stale positions are skipped), so the ring is compacted
  // when it grows past twice the entries.
  std::deque<std::string> ring_ ABSL_GUARDED_BY(mu_);
};

// The key of a lookup by `value` of identifier `kind` (a stored, normalised
// value, compared exactly as SQLite's BINARY collation does).
std::string LookupKey(IdentifierKind kind, absl::string_view value);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_USER_CACHE_H_

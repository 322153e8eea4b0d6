// SqliteUserStore: UserStore on an embedded SQLite file (SQLiteCpp).
//
// WAL journal with synchronous=FULL (an acknowledged write survives a crash),
// foreign keys on, a busy timeout. One writer connection serialises writes with
// BEGIN IMMEDIATE; reads take a connection from a pool, so they run in parallel
// with each other and with the writer, each on a consistent snapshot. Every
// connection caches its prepared statements. GetUser, and ListUsers filtered by
// identifier when one user matches, answer from a cache of recently read
// users. The cache forgets every user a commit changes before the commit is
// visible and keeps none of them until it is, all before its writers hear OK;
// it therefore assumes no other process writes the file. Migrations run in
// Open(), before the store is returned.
//
// Thread-safe.
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_USER_STORE_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_USER_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/sqlite/sqlite_changed_users.h"
#include "storage/sqlite/user_cache.h"
#include "storage/user_store.h"
#include "storage/write_queue.h"

namespace roster::storage {

class SqliteConnection;
struct SqlClause;

struct SqliteOptions {
  // A file path; created (with its WAL files beside it) when missing.
  std::string path;
  // How long a statement waits for a lock held by another connection before
  // Unavailable.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Idle reader connections kept open; more are opened under load and closed
  // afterwards.
  int max_idle_readers = 8;
  // Group commit: at most this many concurrent writes share one transaction
  // and its fsync.
  size_t max_batch_writes = 256;
  // Approximate bytes of users kept in memory for GetUser (see UserCache);
  // 0 turns the cache off. The cache trusts that this process is the only
  // writer of the file.
  size_t user_cache_bytes = size_t{32} << 20;
  // Tests only: runs on the writer after each commit that changed users,
  // before the user cache hears that it ended: the window in which readers
  // already see the commit.
  std::function<void()> after_commit_for_testing = nullptr;
};

class SqliteUserStore final : public UserStore {
 public:
  // Opens or creates the database and migrates it to the latest schema. Errors
  // as UserStore's, plus FailedPrecondition for a database written by a newer
  // binary.
  static absl::StatusOr<std::unique_ptr<SqliteUserStore>> Open(
      const SqliteOptions& options);
  ~SqliteUserStore() override;

  SqliteUserStore(const SqliteUserStore&) = delete;
  SqliteUserStore& operator=(const SqliteUserStore&) = delete;

  absl::StatusOr<UserRecord> GetUser(absl::string_view user_id) override;
  absl::StatusOr<UserPage> ListUsers(const UserPageQuery& query) override;
  absl::StatusOr<int64_t> CountUsers(const UserFilter& filter) override;
  absl::Status Write(
      absl::FunctionRef<absl::Status(WriteTransaction&)> body) override;
  // Queues every body at once, so they share as few group commits as the
  // batch bound allows.
  std::vector<absl::Status> WriteEach(
      absl::Span<const absl::FunctionRef<absl::Status(WriteTransaction&)>>
          bodies) override;
  absl::StatusOr<EventBatch> ReadEvents(const EventQuery& query) override;
  absl::StatusOr<SessionRecord> GetSession(
      absl::string_view session_id) override;
  absl::StatusOr<std::vector<SessionRecord>> ListSessions(
      absl::string_view user_id) override;
  absl::StatusOr<std::string> GetIdentifierOwner(
      absl::string_view identifier_id) override;
  absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      IdentifierKind kind, absl::string_view value) override;
  absl::StatusOr<ImageRecord> GetImage(absl::string_view image_id) override;
  absl::StatusOr<InvitationPage> ListInvitations(
      const InvitationQuery& query) override;
  void SetCommitListener(
      std::function<void(int64_t latest_sequence)> listener) override;
  absl::StatusOr<std::vector<std::string>> ListDataKeyIds() override;
  absl::Status CheckReachable() override;
  // Nullopt when the cache is off.
  std::optional<UserCacheStats> GetUserCacheStats() override;

 private:
  class ReaderLease;

  SqliteUserStore(SqliteOptions options,
                  std::unique_ptr<SqliteConnection> writer);

  // Runs `batch` in one transaction (each body in its own savepoint) and
  // sets each write's result. Only the batch leader calls it.
  void RunBatch(absl::Span<WriteQueue::Write* const> batch);

  // A lookup by identifier usually matches one user. An index probe (one
  // statement, so its own snapshot) finds which; when the cache holds that
  // user and no commit began since just before the probe, the cached record is
  // the probe snapshot's, and the page needs no other read. The cache then
  // also keeps `lookup_key` (when not empty) as naming that user.
  // Nullopt when the full query must answer. Throws on storage errors.
  std::optional<UserPage> ListOneFromCache(SqliteConnection& c,
                                           const UserPageQuery& query,
                                           const SqlClause& where,
                                           const std::string& lookup_key);

  absl::StatusOr<ReaderLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<SqliteConnection> connection);

  const SqliteOptions options_;
  absl::Mutex writer_mu_;
  std::unique_ptr<SqliteConnection> writer_ ABSL_GUARDED_BY(writer_mu_);
  std::function<void(int64_t)> commit_listener_ ABSL_GUARDED_BY(writer_mu_);
  // Declared after writer_, so it detaches from it before it closes.
  ChangedUsers changed_users_ ABSL_GUARDED_BY(writer_mu_);
  UserCache user_cache_;
  WriteQueue write_queue_;
  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_readers_
      ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_USER_STORE_H_

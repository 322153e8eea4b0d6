// PgUserStore: UserStore on PostgreSQL (libpq), for several stateless
// replicas over one database.
//
// Connections come from a bounded pool (PgPool), and each caches its prepared
// statements. A read is one statement (one snapshot) or, when it needs
// several, a READ ONLY REPEATABLE READ transaction; concurrent GetUser calls
// share statements (PgReadBatch), and concurrent ListUsersAsync pages share
// round trips (PgReadPipeline). Writes are group-committed (WriteQueue): a
// batch of concurrent writes is one READ COMMITTED transaction, each body in a
// savepoint of its own, with one COMMIT. The user rows a body reads are locked
// (FOR UPDATE), unique indexes settle races between replicas, and a deadlock
// or serialization failure reruns the batch's bodies one transaction each,
// retrying each whole body (bodies must be re-runnable: they only read and
// write through the transaction and assign their outputs).
//
// Events: a transaction's events are numbered from event_log.last_sequence
// under that row's lock, taken just before COMMIT and released by it, so
// sequence order is commit order across every replica and a snapshot that sees
// sequence N sees all events up to N. Each commit NOTIFYs roster_events; a
// listener thread per store hears every replica's commits (and polls the
// counter once a second in case a notification was lost to a reconnect) and
// calls the commit listener.
//
// Migrations run in Open() under an advisory lock. Thread-safe.
#ifndef ROSTER_STORAGE_POSTGRES_PG_USER_STORE_H_
#define ROSTER_STORAGE_POSTGRES_PG_USER_STORE_H_

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/postgres/pg_pool.h"
#include "storage/postgres/pg_read_batch.h"
#include "storage/user_store.h"
#include "storage/write_queue.h"

namespace roster::storage {

class PgConnection;

struct PgOptions {
  // A libpq connection URI (postgres://user:password@host:port/db?…) or
  // key=value string.
  std::string dsn;
  // At most this many connections, idle or busy.
  int max_connections = 16;
  // Writes one transaction covers at most (group commit). PostgreSQL keeps
  // 64 subtransactions per backend in shared memory, one per savepoint that
  // wrote; beyond that every snapshot in the cluster gets slower.
  size_t max_batch_writes = 32;
  // How long a call waits for a free connection before Unavailable.
  absl::Duration acquire_timeout = absl::Seconds(5);
  // How often the listener re-reads the newest sequence without a NOTIFY.
  absl::Duration poll_interval = absl::Seconds(1);
  // GetUser batches in flight at once; calls beyond them share the next
  // batch's statement (see pg_read_batch.h).
  int read_batches_in_flight = 1;
  // ListUsersAsync pipelines running at once (pg_read_pipeline.h), each on a
  // connection of its own: PostgreSQL runs a pipeline's statements one after
  // another on one backend, and a page can cost it more than it costs the
  // server (docs/performance.md).
  int list_pipelines = 2;
};

class PgReadPipeline;

class PgUserStore final : public UserStore {
 public:
  // Connects, migrates to the latest schema and starts the event listener.
  // Unavailable when the server cannot be reached; FailedPrecondition when a
  // newer binary wrote the schema.
  static absl::StatusOr<std::unique_ptr<PgUserStore>> Open(
      const PgOptions& options);
  ~PgUserStore() override;

  PgUserStore(const PgUserStore&) = delete;
  PgUserStore& operator=(const PgUserStore&) = delete;

  absl::StatusOr<UserRecord> GetUser(absl::string_view user_id) override;
  // Answered on PgReadBatch's worker thread, or a blocking reader's.
  void GetUserAsync(absl::string_view user_id, GetUserDone done) override;
  absl::StatusOr<UserPage> ListUsers(const UserPageQuery& query) override;
  // Answered on PgReadPipeline's worker thread.
  void ListUsersAsync(const UserPageQuery& query, ListUsersDone done) override;
  absl::StatusOr<int64_t> CountUsers(const UserFilter& filter) override;
  absl::Status Write(
      absl::FunctionRef<absl::Status(WriteTransaction&)> body) override;
  std::vector<absl::Status> WriteEach(
      absl::Span<const absl::FunctionRef<absl::Status(WriteTransaction&)>>
          bodies) override;
  absl::StatusOr<EventBatch> ReadEvents(const EventQuery& query) override;
  absl::StatusOr<SessionRecord> GetSession(
      absl::string_view session_id) override;
  // One statement for both, batched as GetUser is.
  absl::StatusOr<SessionAndUser> GetSessionAndUser(
      absl::string_view session_id) override;
  void GetSessionAndUserAsync(absl::string_view session_id,
                              GetSessionAndUserDone done) override;
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
  // None: several replicas share the database, and a replica cannot see the
  // others' writes to invalidate a cache.
  std::optional<UserCacheStats> GetUserCacheStats() override {
    return std::nullopt;
  }
  // How GetUser calls were batched so far.
  PgReadBatchStats GetReadBatchStats() const { return reads_.stats(); }
  // How GetSessionAndUser calls were batched so far.
  PgReadBatchStats GetSessionReadBatchStats() const {
    return session_reads_.stats();
  }
  // How ListUsersAsync's statements were pipelined so far.
  PgReadBatchStats GetListPipelineStats() const;

 private:
  explicit PgUserStore(PgOptions options);

  // Runs fn(connection) on a pooled connection under PgGuarded(what): the
  // shape of every single-statement read.
  template <typename Fn>
  auto WithConnection(absl::string_view what, Fn&& fn,
                      PgPlans plans = PgPlans::kChosenPerRun)
      -> decltype(fn(std::declval<PgConnection&>()));
  // The users among `ids` (PgReadBatch's fetch).
  absl::StatusOr<std::vector<UserRecord>> ReadUsers(
      absl::Span<const std::string> ids);
  // The sessions among `ids`, with their users (PgReadBatch's fetch).
  absl::StatusOr<std::vector<SessionAndUser>> ReadSessionsAndUsers(
      absl::Span<const std::string> ids);
  // Runs a batch of the write queue: a lone write alone, several in one
  // transaction. Only the batch leader calls it.
  void RunBatch(absl::Span<WriteQueue::Write* const> batch);
  // One attempt at `batch` in one transaction. False when the database
  // aborted it (deadlock, serialization failure): nothing was applied, and
  // no result is set. Otherwise sets every write's result.
  bool WriteBatchOnce(absl::Span<WriteQueue::Write* const> batch);
  // `body` in a transaction of its own, retried while the database aborts it.
  absl::Status WriteAlone(
      absl::FunctionRef<absl::Status(WriteTransaction&)> body);
  // One attempt of WriteAlone(). Sets `retry` when the database aborted it:
  // nothing was applied, try again.
  absl::Status WriteOnce(
      absl::FunctionRef<absl::Status(WriteTransaction&)> body, bool& retry);
  // Tells the commit listener about `latest` if it is news.
  void Publish(int64_t latest);
  void ListenLoop();

  const PgOptions options_;
  PgPool pool_;

  absl::Mutex listener_mu_;
  std::function<void(int64_t)> commit_listener_ ABSL_GUARDED_BY(listener_mu_);
  int64_t published_ ABSL_GUARDED_BY(listener_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(listener_mu_) = false;
  int wake_fds_[2] = {-1, -1};  // A pipe that wakes the listener to stop.
  std::thread listener_thread_;
  WriteQueue write_queue_;
  // Last, so they are destroyed first: their workers read through the pool.
  PgReadBatch<UserRecord> reads_;
  PgReadBatch<SessionAndUser> session_reads_;
  // ListUsersAsync's; behind a pointer, as this header never sees libpq.
  std::unique_ptr<PgReadPipeline> list_reads_;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_USER_STORE_H_

#include "storage/postgres/pg_user_store.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/identifier_union.h"
#include "storage/invitation_row.h"
#include "storage/postgres/pg_connection.h"
#include "storage/postgres/pg_fan_in.h"
#include "storage/postgres/pg_migrations.h"
#include "storage/postgres/pg_read_pipeline.h"
#include "storage/postgres/pg_rows.h"
#include "storage/postgres/pg_user_pages.h"
#include "storage/read_sql.h"
#include "storage/user_query_sql.h"
#include "storage/user_row.h"

namespace roster::storage {
namespace {

// A READ ONLY REPEATABLE READ transaction: several statements, one snapshot.
// Rolled back (cheap for a reader) when it goes out of scope.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(PgConnection& c) : c_(c) {
    c_.SendWithNextStatement("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  ~ReadSnapshot() {
    try {
      c_.Exec("ROLLBACK");
    } catch (const PgError&) {
      // The connection failed; the pool drops it.
    }
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  PgConnection& c_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PgUserStore>> PgUserStore::Open(
    const PgOptions& options) {
  // Private constructor: make_unique cannot reach it.
  auto store = absl::WrapUnique(new PgUserStore(options));
  {
    auto lease = store->pool_.Acquire();
    if (!lease.ok()) {
      return lease.status();
    }
    absl::Status migrated = MigratePg(**lease);
    if (!migrated.ok()) {
      return migrated;
    }
    auto latest =
        PgGuarded("reading the event log", [&]() -> absl::StatusOr<int64_t> {
          return (**lease)
              .Exec("SELECT last_sequence FROM event_log")
              .Int(0, 0);
        });
    if (!latest.ok()) {
      return latest.status();
    }
    absl::MutexLock lock(&store->listener_mu_);
    store->published_ = *latest;
  }
  if (pipe(store->wake_fds_) != 0) {
    return absl::InternalError("cannot create the listener's wake-up pipe");
  }
  store->listener_thread_ = std::thread([s = store.get()] { s->ListenLoop(); });
  return store;
}

namespace {
// Ids in one read batch at most: a statement's array stays small.
constexpr int kMaxReadBatch = 64;

absl::string_view UserIdOf(const UserRecord& user) { return user.id; }
absl::string_view SessionIdOf(const SessionAndUser& found) {
  return found.session.id;
}
}  // namespace

PgUserStore::PgUserStore(PgOptions options)
    : options_(std::move(options)),
      pool_(options_.dsn, options_.max_connections, options_.acquire_timeout),
      write_queue_(options_.max_batch_writes),
      reads_(
          "user", options_.read_batches_in_flight, kMaxReadBatch,
          [this](absl::Span<const std::string> ids) { return ReadUsers(ids); },
          &UserIdOf),
      session_reads_(
          "session", options_.read_batches_in_flight, kMaxReadBatch,
          [this](absl::Span<const std::string> ids) {
            return ReadSessionsAndUsers(ids);
          },
          &SessionIdOf),
      list_reads_(std::make_unique<PgReadPipeline>(
          options_.list_pipelines, kMaxReadBatch,
          [this](absl::Span<const PgStatement* const> statements) {
            return WithConnection(
                "listing users",
                [&](PgConnection& c)
                    -> absl::StatusOr<std::vector<absl::StatusOr<PgResult>>> {
                  auto results = RunEachFannedIn(c, statements);
                  for (auto& result : results) {
                    if (!result.ok()) {
                      result =
                          absl::Status(result.status().code(),
                                       absl::StrCat("listing users: ",
                                                    result.status().message()));
                    }
                  }
                  return results;
                });
          })) {}

PgUserStore::~PgUserStore() {
  {
    absl::MutexLock lock(&listener_mu_);
    stopping_ = true;
  }
  if (wake_fds_[1] >= 0) {
    const char byte = 0;
    (void)!write(wake_fds_[1], &byte, 1);
  }
  if (listener_thread_.joinable()) {
    listener_thread_.join();
  }
  for (int fd : wake_fds_) {
    if (fd >= 0) {
      close(fd);
    }
  }
}

template <typename Fn>
auto PgUserStore::WithConnection(absl::string_view what, Fn&& fn, PgPlans plans)
    -> decltype(fn(std::declval<PgConnection&>())) {
  auto lease = pool_.Acquire(plans);
  if (!lease.ok()) {
    return lease.status();
  }
  return PgGuarded(what, [&] { return fn(**lease); });
}

absl::StatusOr<UserRecord> PgUserStore::GetUser(absl::string_view user_id) {
  return reads_.Get(user_id);
}

void PgUserStore::GetUserAsync(absl::string_view user_id, GetUserDone done) {
  reads_.GetAsync(user_id, std::move(done));
}

absl::StatusOr<std::vector<UserRecord>> PgUserStore::ReadUsers(
    absl::Span<const std::string> ids) {
  return WithConnection(
      "reading users",
      [&](PgConnection& c) -> absl::StatusOr<std::vector<UserRecord>> {
        return LoadPgUsers(c, ids);
      },
      PgPlans::kGeneric);
}

absl::StatusOr<std::vector<SessionAndUser>> PgUserStore::ReadSessionsAndUsers(
    absl::Span<const std::string> ids) {
  return WithConnection(
      "reading sessions",
      [&](PgConnection& c) -> absl::StatusOr<std::vector<SessionAndUser>> {
        return LoadPgSessionsAndUsers(c, ids);
      },
      PgPlans::kGeneric);
}

absl::StatusOr<UserPage> PgUserStore::ListUsers(const UserPageQuery& query) {
  return WithConnection(
      "listing users", [&](PgConnection& c) -> absl::StatusOr<UserPage> {
        const PgStatement statement = UserPageStatement(query);
        UserPage page;
        if (!ReadUserPage(query, c.Run(statement.sql, statement.params),
                          page)) {
          const PgStatement count = CountUsersStatement(query.filter);
          page.total_count = c.Run(count.sql, count.params).Int(0, 0);
        }
        return page;
      });
}

void PgUserStore::ListUsersAsync(const UserPageQuery& query,
                                 ListUsersDone done) {
  // The query outlives this call: ReadUserPage reads it on the pipeline's
  // thread, and a page past the end queues its count there.
  auto call = std::make_shared<std::pair<UserPageQuery, ListUsersDone>>(
      query, std::move(done));
  list_reads_->Run(
      UserPageStatement(call->first),
      [this, call](absl::StatusOr<PgResult> rows) {
        if (!rows.ok()) {
          std::move(call->second)(rows.status());
          return;
        }
        auto page = std::make_shared<UserPage>();
        bool counted = false;
        absl::Status read = PgGuarded("listing users", [&]() -> absl::Status {
          counted = ReadUserPage(call->first, *rows, *page);
          return absl::OkStatus();
        });
        if (!read.ok() || counted) {
          std::move(call->second)(
              read.ok() ? absl::StatusOr<UserPage>(std::move(*page)) : read);
          return;
        }
        list_reads_->Run(CountUsersStatement(call->first.filter),
                         [call, page](absl::StatusOr<PgResult> count) {
                           if (!count.ok()) {
                             std::move(call->second)(count.status());
                             return;
                           }
                           page->total_count = count->Int(0, 0);
                           std::move(call->second)(std::move(*page));
                         });
      });
}

PgReadBatchStats PgUserStore::GetListPipelineStats() const {
  return list_reads_->stats();
}

absl::StatusOr<int64_t> PgUserStore::CountUsers(const UserFilter& filter) {
  return WithConnection("counting users",
                        [&](PgConnection& c) -> absl::StatusOr<int64_t> {
                          const PgStatement count = CountUsersStatement(filter);
                          return c.Run(count.sql, count.params).Int(0, 0);
                        });
}

absl::StatusOr<SessionRecord> PgUserStore::GetSession(
    absl::string_view session_id) {
  return WithConnection("reading a session", [&](PgConnection& c) {
    return LoadPgSession(c, session_id);
  });
}

absl::StatusOr<SessionAndUser> PgUserStore::GetSessionAndUser(
    absl::string_view session_id) {
  return session_reads_.Get(session_id);
}

void PgUserStore::GetSessionAndUserAsync(absl::string_view session_id,
                                         GetSessionAndUserDone done) {
  session_reads_.GetAsync(session_id, std::move(done));
}

absl::StatusOr<std::vector<SessionRecord>> PgUserStore::ListSessions(
    absl::string_view user_id) {
  return WithConnection(
      "listing sessions",
      [&](PgConnection& c) -> absl::StatusOr<std::vector<SessionRecord>> {
        return LoadPgSessions(c, user_id);
      });
}

absl::StatusOr<std::string> PgUserStore::GetIdentifierOwner(
    absl::string_view identifier_id) {
  return WithConnection(
      "finding an identifier",
      [&](PgConnection& c) -> absl::StatusOr<std::string> {
        static const std::string* const kSql =
            new std::string(IdentifierOwnerSql(SqlDialect::kPostgres));
        PgResult r = c.Run(*kSql, PgParams().Add(identifier_id));
        if (r.rows() == 0) {
          return absl::NotFoundError("identifier not found");
        }
        return r.Text(0, 0);
      });
}

absl::StatusOr<std::optional<std::string>> PgUserStore::FindUserIdByIdentifier(
    IdentifierKind kind, absl::string_view value) {
  return WithConnection(
      "looking up an identifier",
      [&](PgConnection& c) -> absl::StatusOr<std::optional<std::string>> {
        return FindPgIdentifierHolder(c, kind, value);
      });
}

absl::StatusOr<ImageRecord> PgUserStore::GetImage(absl::string_view image_id) {
  return WithConnection("reading an image", [&](PgConnection& c) {
    return LoadPgImage(c, image_id);
  });
}

absl::StatusOr<InvitationPage> PgUserStore::ListInvitations(
    const InvitationQuery& query) {
  auto lease = pool_.Acquire();
  if (!lease.ok()) {
    return lease.status();
  }
  PgConnection& c = **lease;
  return PgGuarded(
      "listing invitations", [&]() -> absl::StatusOr<InvitationPage> {
        ReadSnapshot snapshot(c);
        InvitationPage page;
        const SqlClause rows = InvitationPageSql(query);
        PgParams row_params;
        BindAll(row_params, rows.params);
        PgResult r = c.Run(NumberPlaceholders(rows.sql), row_params);
        page.invitations.reserve(static_cast<size_t>(r.rows()));
        for (int row = 0; row < r.rows(); ++row) {
          page.invitations.push_back(ReadInvitationColumns(PgRow{r, row}));
        }
        const SqlClause count = InvitationCountSql(query);
        PgParams count_params;
        BindAll(count_params, count.params);
        page.total_count =
            c.Run(NumberPlaceholders(count.sql), count_params).Int(0, 0);
        return page;
      });
}

absl::StatusOr<EventBatch> PgUserStore::ReadEvents(const EventQuery& query) {
  auto lease = pool_.Acquire();
  if (!lease.ok()) {
    return lease.status();
  }
  PgConnection& c = **lease;
  return PgGuarded("reading events", [&]() -> absl::StatusOr<EventBatch> {
    ReadSnapshot snapshot(c);
    EventBatch batch;
    PgResult bounds =
        c.Run("SELECT pruned_through, last_sequence FROM event_log");
    batch.pruned_through = bounds.Int(0, 0);
    batch.latest = bounds.Int(0, 1);
    const SqlClause events = EventsSql(query);
    PgParams p;
    BindAll(p, events.params);
    PgResult r = c.Run(NumberPlaceholders(events.sql), p);
    for (int row = 0; row < r.rows(); ++row) {
      batch.events.push_back(ReadEventRow(PgRow{r, row}));
    }
    return batch;
  });
}

void PgUserStore::SetCommitListener(
    std::function<void(int64_t latest_sequence)> listener) {
  absl::MutexLock lock(&listener_mu_);
  commit_listener_ = std::move(listener);
}

absl::StatusOr<std::vector<std::string>> PgUserStore::ListDataKeyIds() {
  return WithConnection(
      "listing data key ids",
      [&](PgConnection& c) -> absl::StatusOr<std::vector<std::string>> {
        PgResult r = c.Run(
            "SELECT totp_key_id FROM users WHERE totp_key_id <> '' UNION "
            "SELECT key_id FROM oauth_tokens");
        std::vector<std::string> ids;
        ids.reserve(static_cast<size_t>(r.rows()));
        for (int row = 0; row < r.rows(); ++row) {
          ids.push_back(r.Text(row, 0));
        }
        return ids;
      });
}

absl::Status PgUserStore::CheckReachable() {
  return WithConnection("checking the database", [&](PgConnection& c) {
    c.Run("SELECT 1");
    return absl::OkStatus();
  });
}

void PgUserStore::Publish(int64_t latest) {
  absl::MutexLock lock(&listener_mu_);
  if (latest <= published_) {
    return;
  }
  published_ = latest;
  if (commit_listener_) {
    commit_listener_(latest);
  }
}

void PgUserStore::ListenLoop() {
  std::unique_ptr<PgConnection> c;
  while (true) {
    {
      absl::MutexLock lock(&listener_mu_);
      if (stopping_) {
        return;
      }
    }
    if (c == nullptr || !c->ok()) {
      c.reset();
      auto opened = PgConnection::Open(options_.dsn);
      if (opened.ok()) {
        c = *std::move(opened);
        absl::Status listening = PgGuarded("listening", [&] {
          c->Exec("LISTEN roster_events");
          return absl::OkStatus();
        });
        if (!listening.ok()) {
          c.reset();
        }
      }
    }
    // Wait for a notification, the poll interval, or the wake-up pipe.
    pollfd fds[2] = {{wake_fds_[0], POLLIN, 0}, {-1, POLLIN, 0}};
    if (c != nullptr) {
      fds[1].fd = PQsocket(c->raw());
    }
    const int waited = poll(
        fds, 2,
        static_cast<int>(absl::ToInt64Milliseconds(options_.poll_interval)));
    if (waited > 0 && (fds[0].revents & POLLIN) != 0) {
      continue;  // Woken to stop.
    }
    if (c == nullptr) {
      continue;
    }
    int64_t latest = 0;
    if (PQconsumeInput(c->raw()) == 0) {
      c.reset();  // Reconnect next round; the poll below catches up then.
      continue;
    }
    while (PGnotify* n = PQnotifies(c->raw())) {
      int64_t sequence = 0;
      if (absl::SimpleAtoi(n->extra, &sequence)) {
        latest = std::max(latest, sequence);
      }
      PQfreemem(n);
    }
    if (waited == 0) {
      // Quiet for a while: read the counter itself, in case a notification
      // was lost while this connection was down.
      auto polled =
          PgGuarded("polling the event log", [&]() -> absl::StatusOr<int64_t> {
            return c->Run("SELECT last_sequence FROM event_log").Int(0, 0);
          });
      if (polled.ok()) {
        latest = std::max(latest, *polled);
      }
    }
    if (latest > 0) {
      Publish(latest);
    }
  }
}

}  // namespace roster::storage

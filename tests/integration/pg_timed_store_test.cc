// TimedUserStore wraps the store in every server. Over PostgreSQL each of its
// *Async calls must reach PgUserStore's own, which answers on the store's
// thread: UserStore's default answers by blocking, which would hold one of
// gRPC's two callback threads for a round trip. Runs in the .postgres
// variant of the suites.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/notification.h"
#include "server/api/metrics.h"
#include "server/app/timed_user_store.h"
#include "storage/postgres/pg_user_store.h"
#include "tests/testing/postgres.h"

namespace roster {
namespace {

using storage::PgReadBatchStats;

// Runs `call(done)` and waits for `done`; returns the status it was given.
template <typename Result, typename Call>
absl::Status AnswerOf(Call call) {
  absl::Status status;
  absl::Notification answered;
  call([&](Result result) {
    status = result.status();
    answered.Notify();
  });
  answered.WaitForNotification();
  return status;
}

TEST(PgTimedStoreTest, AsyncCallsTakeTheStoresOwnAsyncPaths) {
  ROSTER_REQUIRE_POSTGRES();
  testing::ScratchPgDatabase db;
  storage::PgOptions options;
  options.dsn = db.dsn();
  auto opened = storage::PgUserStore::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const storage::PgUserStore& pg = **opened;
  api::Metrics metrics;
  app::TimedUserStore timed(*std::move(opened), &metrics);
  const auto reads = [](const PgReadBatchStats& stats) { return stats.reads; };

  const int64_t pages = reads(pg.GetListPipelineStats());
  EXPECT_TRUE(AnswerOf<absl::StatusOr<storage::UserPage>>([&](auto done) {
                timed.ListUsersAsync(storage::UserPageQuery(), std::move(done));
              }).ok());
  EXPECT_EQ(reads(pg.GetListPipelineStats()), pages + 1)
      << "ListUsersAsync blocked instead";

  const int64_t users = reads(pg.GetReadBatchStats());
  EXPECT_TRUE(absl::IsNotFound(AnswerOf<absl::StatusOr<storage::UserRecord>>(
      [&](auto done) { timed.GetUserAsync("user_absent", std::move(done)); })));
  EXPECT_EQ(reads(pg.GetReadBatchStats()), users + 1);

  const int64_t sessions = reads(pg.GetSessionReadBatchStats());
  EXPECT_TRUE(absl::IsNotFound(
      AnswerOf<absl::StatusOr<storage::SessionAndUser>>([&](auto done) {
        timed.GetSessionAndUserAsync("sess_absent", std::move(done));
      })));
  EXPECT_EQ(reads(pg.GetSessionReadBatchStats()), sessions + 1);

  // And each was timed.
  const std::string rendered = metrics.Render();
  for (const char* operation :
       {"list_users", "get_user", "get_session_and_user"}) {
    EXPECT_NE(rendered.find(absl::StrCat("operation=\"", operation, "\"")),
              std::string::npos)
        << operation << " missing from\n"
        << rendered;
  }
}

}  // namespace
}  // namespace roster

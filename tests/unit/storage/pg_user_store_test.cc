// What is particular to PgUserStore: several stores (replicas) on one
// database, its migrations, and a database that goes away. The UserStore
// contract itself runs on both adapters in user_store_test.cc.
#include "storage/postgres/pg_user_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "storage/postgres/pg_connection.h"
#include "storage/postgres/pg_fan_in.h"
#include "storage/postgres/pg_migrations.h"
#include "storage/postgres/pg_user_pages.h"
#include "tests/testing/postgres.h"
#include "tests/testing/status_matchers.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

UserRecord MakeUser(const std::string& id) {
  UserRecord user;
  user.id = id;
  user.created_at = user.updated_at = 1;
  user.version = 1;
  return user;
}

std::string EmailOf(int i) { return absl::StrCat("u", i, "@example.com"); }

// user_<i>, whose only (primary) email address is EmailOf(i).
UserRecord MakeUserWithEmail(int i) {
  UserRecord user = MakeUser(absl::StrCat("user_", i));
  EmailAddressRecord email;
  email.id = absl::StrCat("idn_", i);
  email.user_id = user.id;
  email.email_address = EmailOf(i);
  email.created_at = email.updated_at = 1;
  user.email_addresses.push_back(email);
  user.primary_email_address_id = email.id;
  return user;
}

EventRecord MakeEvent(const std::string& id, const std::string& user_id,
                      const std::string& payload) {
  EventRecord event;
  event.id = id;
  event.type = "user.updated";
  event.user_id = user_id;
  event.created_at = 1;
  event.payload = payload;
  return event;
}

class PgUserStoreTest : public ::testing::Test {
 protected:
  // Inserts MakeUserWithEmail(0) … MakeUserWithEmail(n - 1).
  static void InsertUsersWithEmails(PgUserStore& store, int n) {
    for (int i = 0; i < n; ++i) {
      UserRecord user = MakeUserWithEmail(i);
      ASSERT_THAT(store.Write([&](WriteTransaction& txn) {
        return txn.InsertUser(user,
                              MakeEvent(absl::StrCat("evt_", i), user.id, ""));
      }),
                  IsOk());
    }
  }

  void SetUp() override {
    ROSTER_REQUIRE_POSTGRES();
    db_ = std::make_unique<testing::ScratchPgDatabase>();
  }

  std::unique_ptr<PgUserStore> OpenReplica() {
    PgOptions options;
    options.dsn = db_->dsn();
    options.poll_interval = absl::Milliseconds(200);
    auto store = PgUserStore::Open(options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::unique_ptr<testing::ScratchPgDatabase> db_;
};

TEST_F(PgUserStoreTest, ReplicasStartingTogetherMigrateExactlyOnce) {
  constexpr int kReplicas = 6;
  std::vector<std::unique_ptr<PgUserStore>> stores(kReplicas);
  std::vector<std::thread> starting;
  starting.reserve(kReplicas);
  for (int i = 0; i < kReplicas; ++i) {
    starting.emplace_back(
        [&, i] { stores[static_cast<size_t>(i)] = OpenReplica(); });
  }
  for (auto& t : starting) {
    t.join();
  }
  for (const auto& store : stores) {
    ASSERT_NE(store, nullptr);
  }
  EXPECT_EQ(testing::PgScalar(db_->dsn(), "SELECT COUNT(*) FROM roster_schema"),
            "1");
  EXPECT_EQ(testing::PgScalar(db_->dsn(), "SELECT version FROM roster_schema"),
            absl::StrCat(LatestPgSchemaVersion()));
  // One event_log row: the schema ran once, not once per replica.
  EXPECT_EQ(testing::PgScalar(db_->dsn(), "SELECT COUNT(*) FROM event_log"),
            "1");
}

TEST_F(PgUserStoreTest, NewerSchemaIsFailedPrecondition) {
  ASSERT_NE(OpenReplica(), nullptr);
  ASSERT_EQ(
      testing::PgCommand(db_->dsn(), "UPDATE roster_schema SET version = 999"),
      "");
  PgOptions options;
  options.dsn = db_->dsn();
  EXPECT_THAT(PgUserStore::Open(options),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(PgUserStoreTest,
       AnUnreachableServerIsUnavailableAndThePasswordStaysOut) {
  PgOptions options;
  options.dsn = "postgres://roster:hunter2-secret@127.0.0.1:1/roster";
  auto store = PgUserStore::Open(options);
  EXPECT_THAT(store, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(store.status().message()),
              ::testing::Not(::testing::HasSubstr("hunter2")));
}

TEST_F(PgUserStoreTest, AWatcherOnOneReplicaHearsCommitsThroughAnother) {
  auto a = OpenReplica();
  auto b = OpenReplica();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  absl::Mutex mu;
  int64_t heard = 0;
  b->SetCommitListener([&](int64_t latest) {
    absl::MutexLock lock(&mu);
    heard = std::max(heard, latest);
  });
  for (int i = 1; i <= 3; ++i) {
    const std::string id = absl::StrCat("user_", i);
    ASSERT_THAT(a->Write([&](WriteTransaction& txn) {
      return txn.InsertUser(MakeUser(id), MakeEvent("evt_" + id, id, "x"));
    }),
                IsOk());
  }
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(
      mu.AwaitWithTimeout(absl::Condition(
                              +[](int64_t* h) { return *h == 3; }, &heard),
                          absl::Seconds(10)))
      << "heard " << heard;
}

// The multi-replica invariants at the storage layer: read-modify-writes of one
// row from two stores are exact, and event sequences follow commit order with
// no gaps. Each write bumps a counter and records the new value in its event;
// read in sequence order, the values must be 1, 2, 3, … exactly.
TEST_F(PgUserStoreTest, RacingReplicasKeepCountersExactAndEventsInCommitOrder) {
  auto a = OpenReplica();
  auto b = OpenReplica();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(a->Write([](WriteTransaction& txn) {
    return txn.UpdateSignInState("none", {}).ok()
               ? absl::InternalError("updated a missing user")
               : txn.InsertUser(MakeUser("user_x"),
                                MakeEvent("evt_0", "user_x", "0"));
  }),
              IsOk());
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> writers;
  writers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      PgUserStore& store = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kPerThread; ++i) {
        const std::string event_id = absl::StrCat("evt_", t, "_", i);
        EXPECT_THAT(store.Write([&](WriteTransaction& txn) -> absl::Status {
          auto user = txn.GetUser("user_x");
          if (!user.ok()) {
            return user.status();
          }
          user->failed_password_attempts += 1;
          user->version += 1;
          return txn.UpdateUser(
              *user, MakeEvent(event_id, "user_x",
                               absl::StrCat(user->failed_password_attempts)));
        }),
                    IsOk());
      }
    });
  }
  for (auto& w : writers) {
    w.join();
  }
  auto user = a->GetUser("user_x");
  ASSERT_THAT(user, IsOk());
  EXPECT_EQ(user->failed_password_attempts, kThreads * kPerThread);
  EventQuery query;
  query.limit = 1000;
  auto events = b->ReadEvents(query);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->events.size(), size_t{kThreads * kPerThread + 1});
  EXPECT_EQ(events->latest, kThreads * kPerThread + 1);
  for (size_t i = 0; i < events->events.size(); ++i) {
    EXPECT_EQ(events->events[i].sequence, static_cast<int64_t>(i + 1));
    EXPECT_EQ(events->events[i].payload, absl::StrCat(i)) << "at " << i;
  }
}

// GetUserAsync's answer, waited for.
absl::StatusOr<UserRecord> GetUserAsyncAndWait(UserStore& store,
                                               const std::string& id) {
  absl::StatusOr<UserRecord> result;
  absl::Notification answered;
  store.GetUserAsync(id, [&](absl::StatusOr<UserRecord> user) {
    result = std::move(user);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

// Many threads read at once, half blocking (GetUser) and half not
// (GetUserAsync), so their calls share statements and either kind leads
// batches: each call still gets its own user with its own identifiers, or
// NotFound, and a read made after a commit sees it.
TEST_F(PgUserStoreTest, ConcurrentReadsShareStatementsAndEachGetsItsOwnUser) {
  auto store = OpenReplica();
  ASSERT_NE(store, nullptr);
  constexpr int kUsers = 12, kThreads = 12, kReadsPerThread = 80;
  ASSERT_NO_FATAL_FAILURE(InsertUsersWithEmails(*store, kUsers));
  std::vector<std::thread> readers;
  readers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&, t] {
      const std::string own = absl::StrCat("user_", t);
      const auto get = [&](const std::string& id) {
        return t % 2 == 0 ? store->GetUser(id)
                          : GetUserAsyncAndWait(*store, id);
      };
      for (int k = 0; k < kReadsPerThread; ++k) {
        if (k % 8 == 0) {
          // Each thread renames its own user, then reads the new name back.
          const std::string name = absl::StrCat("name ", k);
          EXPECT_THAT(store->Write([&](WriteTransaction& txn) -> absl::Status {
            auto user = txn.GetUser(own);
            if (!user.ok()) {
              return user.status();
            }
            user->first_name = name;
            user->version += 1;
            return txn.UpdateUser(
                *user, MakeEvent(absl::StrCat("evt_", t, "_", k), own, ""));
          }),
                      IsOk());
          auto read = get(own);
          ASSERT_THAT(read, IsOk());
          EXPECT_EQ(read->first_name, name);
          continue;
        }
        const int i = (t * 7 + k) % (kUsers + 1);  // kUsers: no such user.
        auto user = get(absl::StrCat("user_", i));
        if (i == kUsers) {
          EXPECT_THAT(user, StatusIs(absl::StatusCode::kNotFound));
          continue;
        }
        ASSERT_THAT(user, IsOk());
        EXPECT_EQ(user->id, absl::StrCat("user_", i));
        ASSERT_EQ(user->email_addresses.size(), 1u);
        EXPECT_EQ(user->email_addresses[0].email_address, EmailOf(i));
        EXPECT_EQ(user->email_addresses[0].user_id, user->id);
      }
    });
  }
  for (auto& r : readers) {
    r.join();
  }
  const PgReadBatchStats stats = store->GetReadBatchStats();
  EXPECT_EQ(stats.reads, kThreads * kReadsPerThread);
  EXPECT_LT(stats.batches, stats.reads) << "no two reads shared a statement";
}

// Calls that must not block, queued faster than they are answered, are each
// answered once with their own user; those still queued when the store closes
// are answered before it is gone.
TEST_F(PgUserStoreTest, QueuedAsyncReadsAreEachAnsweredOnceEvenAtClose) {
  auto store = OpenReplica();
  ASSERT_NE(store, nullptr);
  constexpr int kUsers = 5;
  constexpr size_t kReads = 2000;
  for (int i = 0; i < kUsers; ++i) {
    UserRecord user = MakeUser(absl::StrCat("user_", i));
    ASSERT_THAT(store->Write([&](WriteTransaction& txn) {
      return txn.InsertUser(user,
                            MakeEvent(absl::StrCat("evt_", i), user.id, ""));
    }),
                IsOk());
  }
  std::vector<int> answers(kReads, 0);
  std::atomic<int> wrong{0};
  for (size_t k = 0; k < kReads; ++k) {
    const int i = static_cast<int>(k % (kUsers + 1));  // kUsers: no such user.
    store->GetUserAsync(
        absl::StrCat("user_", i), [&, k, i](absl::StatusOr<UserRecord> user) {
          ++answers[k];  // Each call's own slot: no two threads share one.
          const bool right =
              i == kUsers ? absl::IsNotFound(user.status())
                          : user.ok() && user->id == absl::StrCat("user_", i);
          if (!right) {
            ++wrong;
          }
        });
  }
  store.reset();  // Returns once every queued call is answered.
  EXPECT_EQ(wrong.load(), 0);
  for (size_t k = 0; k < kReads; ++k) {
    ASSERT_EQ(answers[k], 1) << "call " << k;
  }
}

// The ids, total and cursor of a page: what two reads of it must agree on.
std::string Summary(const absl::StatusOr<UserPage>& page) {
  if (!page.ok()) {
    return page.status().ToString();
  }
  std::string out = absl::StrCat("total=", page->total_count, " users=");
  for (const UserRecord& user : page->users) {
    absl::StrAppend(&out, user.id, "(", user.email_addresses.size(), ") ");
  }
  if (page->next.has_value()) {
    absl::StrAppend(&out, "next=", page->next->id);
  }
  return out;
}

// Pages queued faster than they are answered share round trips
// (PgReadPipeline), and each is the page a blocking ListUsers returns: a
// lookup by email, one with no match, a first page with a successor, and a
// page past the end, whose count takes a statement of its own.
TEST_F(PgUserStoreTest, AsyncPagesShareRoundTripsAndMatchBlockingPages) {
  auto store = OpenReplica();
  ASSERT_NE(store, nullptr);
  constexpr int kUsers = 12;
  ASSERT_NO_FATAL_FAILURE(InsertUsersWithEmails(*store, kUsers));
  std::vector<UserPageQuery> queries(4);
  queries[0].filter.email_addresses = {EmailOf(3)};
  queries[1].filter.email_addresses = {"nobody@example.com"};
  queries[2].limit = 5;
  queries[3].offset = kUsers + 5;
  std::vector<std::string> expected;
  expected.reserve(queries.size());
  for (const UserPageQuery& query : queries) {
    expected.push_back(Summary(store->ListUsers(query)));
  }
  EXPECT_EQ(expected[0], "total=1 users=user_3(1) ");
  EXPECT_EQ(expected[1], "total=0 users=");
  EXPECT_EQ(expected[3], absl::StrCat("total=", kUsers, " users="));

  constexpr size_t kCalls = 400;
  const PgReadBatchStats before = store->GetListPipelineStats();
  absl::Mutex mu;
  std::vector<std::string> answers(kCalls);
  std::vector<int> times_answered(kCalls, 0);
  size_t answered = 0;
  for (size_t k = 0; k < kCalls; ++k) {
    store->ListUsersAsync(queries[k % queries.size()],
                          [&, k](const absl::StatusOr<UserPage>& page) {
                            absl::MutexLock lock(&mu);
                            answers[k] = Summary(page);
                            ++times_answered[k];
                            ++answered;
                          });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](size_t* n) { return *n >= kCalls; }, &answered));
  }
  for (size_t k = 0; k < kCalls; ++k) {
    ASSERT_EQ(times_answered[k], 1) << "call " << k;
    EXPECT_EQ(answers[k], expected[k % queries.size()]) << "call " << k;
  }
  const PgReadBatchStats stats = store->GetListPipelineStats();
  // One statement a call, and one more for each page past the end.
  EXPECT_EQ(stats.reads - before.reads,
            static_cast<int64_t>(kCalls + kCalls / 4));
  EXPECT_LT(stats.batches - before.batches, (stats.reads - before.reads) / 2)
      << "the calls did not share round trips";
}

// Every shape of page a filter, an order or a cursor makes can be fanned in
// (pg_fan_in.h): its parameters' types fit the columns they are compared with,
// so no shape falls back to a statement per page, and each member reads the
// page it reads alone.
TEST_F(PgUserStoreTest, EveryPageShapeFansInAndReadsThePageItReadsAlone) {
  auto store = OpenReplica();
  ASSERT_NE(store, nullptr);
  ASSERT_NO_FATAL_FAILURE(InsertUsersWithEmails(*store, 6));
  std::vector<UserPageQuery> queries(18);
  queries[0].filter.email_addresses = {EmailOf(1), EmailOf(4)};
  queries[1].filter.phone_numbers = {"+15555550100"};
  queries[2].filter.usernames = {"someone"};
  queries[3].filter.external_ids = {"ext"};
  queries[4].filter.user_ids = {"user_2", "user_3"};
  queries[5].filter.query = "u3@";
  queries[6].filter.email_address_query = "example";
  queries[7].filter.phone_number_query = "555";
  queries[8].filter.username_query = "some";
  queries[9].filter.name_query = "ada";
  queries[10].filter.banned = false;
  queries[11].filter.created_at_after = 0;
  queries[11].filter.last_sign_in_at_before = 5;
  queries[11].filter.last_active_at_after = 1;
  MetadataFilter plan;
  plan.path = {"plan"};
  plan.value.kind = JsonScalar::Kind::kString;
  plan.value.string_value = "pro";
  queries[12].filter.metadata_filters = {plan};
  plan.value.kind = JsonScalar::Kind::kNumber;
  plan.value.number_value = 2.5;
  queries[13].filter.metadata_filters = {plan};
  queries[14].order = {UserOrderKey::kEmailAddress, false};
  queries[14].filter.email_address_query = "u";
  queries[15].after = UserCursor{int64_t{1}, "user_4"};
  queries[16].order = {UserOrderKey::kUsername, true};
  queries[16].after = UserCursor{std::string("m"), "user_9"};
  queries[17].offset = 2;
  queries[17].filter.email_address_query = "u";

  auto c = PgConnection::Open(db_->dsn());
  ASSERT_TRUE(c.ok()) << c.status();
  for (size_t q = 0; q < queries.size(); ++q) {
    SCOPED_TRACE(absl::StrCat("query ", q));
    const PgStatement page = UserPageStatement(queries[q]);
    const auto fanned = FanInStatement({&page, &page});
    if (page.params.size() == 0) {
      EXPECT_FALSE(fanned.has_value()) << "nothing to fan in";
      continue;
    }
    ASSERT_TRUE(fanned.has_value());
    absl::StatusOr<PgResult> rows = PgGuarded("fanned in", [&] {
      return absl::StatusOr<PgResult>((*c)->Run(fanned->sql, fanned->params));
    });
    ASSERT_THAT(rows, IsOk()) << fanned->sql;
    const auto split = SplitFannedIn(*rows, 2);
    ASSERT_TRUE(split.has_value());
    for (const PgResult& member : *split) {
      UserPage read;
      if (!ReadUserPage(queries[q], member, read)) {
        read.total_count = *store->CountUsers(queries[q].filter);
      }
      EXPECT_EQ(Summary(read), Summary(store->ListUsers(queries[q])));
    }
  }
}

// The plan of UserPageStatement(query) as EXPLAIN ANALYZE runs it.
std::string AnalyzedPlan(PgConnection& c, const UserPageQuery& query) {
  const PgStatement page = UserPageStatement(query);
  const PgResult plan = c.Run(
      absl::StrCat("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ",
                   page.sql),
      page.params);
  std::string text;
  for (int row = 0; row < plan.rows(); ++row) {
    absl::StrAppend(&text, plan.Text(row, 0), "\n");
  }
  return text;
}

// A first page that does not fill implies its total, so its statement never
// runs the count (EXPLAIN ANALYZE marks the count's aggregate "never
// executed"); a page that fills, or one after a cursor, still counts. Each
// reads the right total either way.
TEST_F(PgUserStoreTest, TheCountRunsOnlyWhenThePageDoesNotImplyIt) {
  auto store = OpenReplica();
  ASSERT_NE(store, nullptr);
  ASSERT_NO_FATAL_FAILURE(InsertUsersWithEmails(*store, 6));
  auto c = PgConnection::Open(db_->dsn());
  ASSERT_TRUE(c.ok()) << c.status();
  UserPageQuery query;
  query.filter.email_addresses = {EmailOf(1), EmailOf(4)};
  const auto expect = [&](bool count_runs, size_t users,
                          const std::string& what) {
    SCOPED_TRACE(what);
    absl::StatusOr<std::string> plan = PgGuarded("explaining", [&] {
      return absl::StatusOr<std::string>(AnalyzedPlan(**c, query));
    });
    ASSERT_THAT(plan, IsOk());
    EXPECT_EQ(absl::StrContains(*plan, "Aggregate (never executed)"),
              !count_runs)
        << *plan;
    absl::StatusOr<UserPage> page = store->ListUsers(query);
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->total_count, 2);
    EXPECT_EQ(page->users.size(), users);
  };
  query.limit = 10;
  expect(false, 2, "a first page with room to spare");
  query.limit = 2;
  expect(false, 2, "a first page filled exactly");
  query.limit = 1;
  expect(true, 1, "a first page with a successor");
  query.limit = 10;
  query.after = UserCursor{int64_t{1}, "user_9"};  // Both sort after it.
  expect(true, 2, "a page after a cursor");
}

TEST_F(PgUserStoreTest, ConnectionsKilledByTheServerAreReplaced) {
  auto store = OpenReplica();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Write([](WriteTransaction& txn) {
    return txn.InsertUser(MakeUser("user_1"), MakeEvent("evt_1", "user_1", ""));
  }),
              IsOk());
  ASSERT_EQ(db_->TerminateConnections(), "");
  // The pooled connection is dead: the first call may fail Unavailable (never
  // anything else), and the pool then opens a fresh one.
  auto first = store->GetUser("user_1");
  if (!first.ok()) {
    EXPECT_THAT(first, StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_THAT(store->GetUser("user_1"), IsOk());
  EXPECT_THAT(store->CheckReachable(), IsOk());
}

}  // namespace
}  // namespace roster::storage

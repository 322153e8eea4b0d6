// How UserStore writes commit, against both adapters: a failed body rolls
// back alone, batched bodies run in order and fail alone, readers run while
// writes commit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

// UserStoreTest is instantiated for both adapters in user_store_test.cc.

TEST_P(UserStoreTest, FailedBodyRollsBackEverything) {
  absl::Status status = store_->Write([](WriteTransaction& txn) {
    absl::Status inserted = txn.InsertUser(MakeUser("u1", 1), EventFor("u1"));
    EXPECT_THAT(inserted, IsOk());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(store_->GetUser("u1"), StatusIs(absl::StatusCode::kNotFound));
  // The writer is usable again afterwards.
  EXPECT_THAT(Insert(MakeUser("u1", 1)), IsOk());
}

// WriteEach runs its bodies in order, each on its own: a later body sees an
// earlier one's writes, and a failing body undoes only its own. The batch
// shares group commits, so 40 bodies take far fewer than 40 commits.
TEST_P(UserStoreTest, WriteEachRunsBodiesInOrderAndFailsThemAlone) {
  std::atomic<int> commits{0};
  store_->SetCommitListener([&](int64_t) { ++commits; });
  constexpr int kBodies = 40;
  std::vector<std::function<absl::Status(WriteTransaction&)>> writers;
  writers.reserve(kBodies);
  for (int i = 0; i < kBodies; ++i) {
    writers.push_back([i](WriteTransaction& txn) -> absl::Status {
      const std::string id = absl::StrCat("u", i);
      if (i > 0) {
        // The previous body's user is visible unless that body failed.
        auto previous = txn.GetUser(absl::StrCat("u", i - 1));
        const bool previous_failed = (i - 1) % 5 == 3;
        EXPECT_EQ(previous.ok(), !previous_failed) << i;
      }
      absl::Status inserted = txn.InsertUser(MakeUser(id, i), EventFor(id));
      if (!inserted.ok()) {
        return inserted;
      }
      return i % 5 == 3 ? absl::AbortedError("refused") : absl::OkStatus();
    });
  }
  std::vector<absl::FunctionRef<absl::Status(WriteTransaction&)>> bodies(
      writers.begin(), writers.end());
  const std::vector<absl::Status> results = store_->WriteEach(bodies);
  ASSERT_EQ(results.size(), static_cast<size_t>(kBodies));
  int stored = 0;
  for (int i = 0; i < kBodies; ++i) {
    const bool refused = i % 5 == 3;
    const absl::Status& result = results[static_cast<size_t>(i)];
    EXPECT_EQ(result.ok(), !refused) << i << ": " << result;
    EXPECT_EQ(store_->GetUser(absl::StrCat("u", i)).ok(), !refused) << i;
    stored += refused ? 0 : 1;
  }
  EventQuery query;
  query.limit = 1000;
  ASSERT_OK_AND_ASSIGN(events, store_->ReadEvents(query));
  ASSERT_EQ(static_cast<int>(events.events.size()), stored);
  for (size_t i = 0; i < events.events.size(); ++i) {
    EXPECT_EQ(events.events[i].sequence, static_cast<int64_t>(i + 1));
  }
  EXPECT_LT(commits.load(), stored);
}

// In one batch, a body whose statement fails (a duplicate id), a body that
// fails before it writes anything, and a validate-only style rollback each
// undo only themselves; the bodies around them commit with their events.
TEST_P(UserStoreTest, WriteEachSurvivesFailedStatementsInsideTheBatch) {
  ASSERT_THAT(Insert(MakeUser("taken", 1)), IsOk());
  enum class Kind { kInsert, kDuplicate, kRefuseEarly, kCancelAfterWrite };
  const std::vector<Kind> kinds = {
      Kind::kInsert,      Kind::kDuplicate,   Kind::kInsert,
      Kind::kRefuseEarly, Kind::kInsert,      Kind::kCancelAfterWrite,
      Kind::kDuplicate,   Kind::kRefuseEarly, Kind::kInsert};
  std::vector<std::function<absl::Status(WriteTransaction&)>> writers;
  writers.reserve(kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    writers.push_back([&, i](WriteTransaction& txn) -> absl::Status {
      const std::string id = absl::StrCat("w", i);
      switch (kinds[i]) {
        case Kind::kInsert:
          return txn.InsertUser(MakeUser(id, static_cast<int>(i) + 2),
                                EventFor(id));
        case Kind::kDuplicate:
          return txn.InsertUser(MakeUser("taken", static_cast<int>(i) + 2),
                                EventFor("taken"));
        case Kind::kRefuseEarly:
          return absl::InvalidArgumentError("refused before any write");
        case Kind::kCancelAfterWrite: {
          absl::Status inserted = txn.InsertUser(
              MakeUser(id, static_cast<int>(i) + 2), EventFor(id));
          return inserted.ok() ? absl::CancelledError("validate only")
                               : inserted;
        }
      }
      return absl::InternalError("unreachable");
    });
  }
  std::vector<absl::FunctionRef<absl::Status(WriteTransaction&)>> bodies(
      writers.begin(), writers.end());
  const std::vector<absl::Status> results = store_->WriteEach(bodies);
  ASSERT_EQ(results.size(), kinds.size());
  int stored = 0;
  for (size_t i = 0; i < kinds.size(); ++i) {
    const std::string id = absl::StrCat("w", i);
    switch (kinds[i]) {
      case Kind::kInsert:
        EXPECT_THAT(results[i], IsOk()) << i;
        EXPECT_THAT(store_->GetUser(id), IsOk()) << i;
        ++stored;
        break;
      case Kind::kDuplicate:
        EXPECT_THAT(results[i], StatusIs(absl::StatusCode::kAlreadyExists))
            << i;
        break;
      case Kind::kRefuseEarly:
        EXPECT_THAT(results[i], StatusIs(absl::StatusCode::kInvalidArgument))
            << i;
        break;
      case Kind::kCancelAfterWrite:
        EXPECT_THAT(results[i], StatusIs(absl::StatusCode::kCancelled)) << i;
        EXPECT_THAT(store_->GetUser(id), StatusIs(absl::StatusCode::kNotFound))
            << i;
        break;
    }
  }
  EventQuery query;
  query.limit = 1000;
  ASSERT_OK_AND_ASSIGN(events, store_->ReadEvents(query));
  // "taken"'s own insert, then one event per stored body, numbered in order.
  ASSERT_EQ(static_cast<int>(events.events.size()), 1 + stored);
  for (size_t i = 0; i < events.events.size(); ++i) {
    EXPECT_EQ(events.events[i].sequence, static_cast<int64_t>(i + 1));
    EXPECT_NE(events.events[i].user_id, "w5");
  }
  // The store goes on writing afterwards.
  EXPECT_THAT(Insert(MakeUser("after", 99)), IsOk());
}

TEST_P(UserStoreTest, AFailedStatementDoesNotPoisonItsCachedStatement) {
  ASSERT_THAT(Insert(MakeUser("u1", 1)), IsOk());
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(Insert(MakeUser("u1", 1)),
                StatusIs(absl::StatusCode::kAlreadyExists));
  }
  EXPECT_THAT(Insert(MakeUser("u2", 2)), IsOk());
}

TEST_P(UserStoreTest, ReadersRunWhileWritesCommit) {
  ASSERT_THAT(Insert(MakeUser("u0", 0)), IsOk());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  readers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        auto user = store_->GetUser("u0");
        EXPECT_THAT(user, IsOk());
        ++reads;
      }
    });
  }
  for (int i = 1; i <= 50; ++i) {
    ASSERT_THAT(Insert(MakeUser(absl::StrCat("u", i), i)), IsOk());
  }
  done = true;
  for (auto& t : readers) {
    t.join();
  }
  EXPECT_GT(reads.load(), 0);
  ASSERT_OK_AND_ASSIGN(count, store_->CountUsers({}));
  EXPECT_EQ(count, 51);
}

// Group commit: concurrent writes share transactions, yet each one is
// all-or-nothing on its own and the event log stays gap-free.
TEST_P(UserStoreTest, ConcurrentWritesCommitTogetherButFailAlone) {
  std::atomic<int> commits{0};
  store_->SetCommitListener([&](int64_t) { ++commits; });
  constexpr int kThreads = 16, kPerThread = 40;
  std::atomic<int> succeeded{0};
  std::vector<std::thread> writers;
  writers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat("user_", t, "_", i);
        const bool fail = (t + i) % 7 == 0;
        absl::Status status =
            store_->Write([&](WriteTransaction& txn) -> absl::Status {
              absl::Status inserted =
                  txn.InsertUser(MakeUser(id, t * 1000 + i), EventFor(id));
              if (!inserted.ok()) {
                return inserted;
              }
              // A failing body rolls back its own insert and event only.
              return fail ? absl::AbortedError("refused") : absl::OkStatus();
            });
        EXPECT_EQ(status.ok(), !fail) << status;
        if (status.ok()) {
          ++succeeded;
        }
      }
    });
  }
  for (auto& w : writers) {
    w.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const bool failed = (t + i) % 7 == 0;
      EXPECT_EQ(store_->GetUser(absl::StrCat("user_", t, "_", i)).ok(),
                !failed);
    }
  }
  EventQuery query;
  query.limit = 1000;
  auto events = store_->ReadEvents(query);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(static_cast<int>(events->events.size()), succeeded.load());
  for (size_t i = 0; i < events->events.size(); ++i) {
    EXPECT_EQ(events->events[i].sequence, static_cast<int64_t>(i + 1));
  }
  EXPECT_LE(commits.load(), succeeded.load());
  std::cout << succeeded.load() << " writes in " << commits.load()
            << " commits\n";
}

}  // namespace
}  // namespace roster::storage

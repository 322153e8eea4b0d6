// SqliteUserStore's group commit under a small batch bound, on a real file:
// leadership passes from batch to batch (to another caller, or back to a
// caller whose own writes did not fit one batch) without losing, repeating or
// reordering a write, and without leaving a caller waiting.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;

constexpr size_t kBatchBound = 3;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOptions options{dir_.File("users.db")};
    options.max_batch_writes = kBatchBound;
    auto store = SqliteUserStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  // Inserts user `id` with its event; refused (and so rolled back) when
  // `refuse`. Records the order in which bodies ran.
  absl::Status InsertBody(WriteTransaction& txn, const std::string& id,
                          bool refuse) {
    {
      absl::MutexLock lock(&ran_mu_);
      ran_.push_back(id);
    }
    UserRecord user;
    user.id = id;
    user.version = 1;
    EventRecord event;
    event.id = absl::StrCat("evt_", id);
    event.type = "user.created";
    event.user_id = id;
    absl::Status inserted = txn.InsertUser(user, event);
    if (!inserted.ok()) {
      return inserted;
    }
    return refuse ? absl::AbortedError("refused") : absl::OkStatus();
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteUserStore> store_;
  absl::Mutex ran_mu_;
  std::vector<std::string> ran_ ABSL_GUARDED_BY(ran_mu_);
};

TEST_F(GroupCommitTest, EveryWriteRunsOnceInOrderAcrossManyBatches) {
  std::atomic<int> commits{0};
  store_->SetCommitListener([&](int64_t) { ++commits; });
  // Half the callers queue more writes than one batch holds, so a leader
  // often hands the lead back to itself; the rest write one at a time.
  constexpr int kCallers = 8, kRounds = 5, kPerCall = 7;
  std::atomic<int> stored{0};
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int caller = 0; caller < kCallers; ++caller) {
    callers.emplace_back([&, caller] {
      for (int round = 0; round < kRounds; ++round) {
        const int count = caller % 2 == 0 ? kPerCall : 1;
        std::vector<std::function<absl::Status(WriteTransaction&)>> writers;
        for (int i = 0; i < count; ++i) {
          const std::string id = absl::StrCat("u_", caller, "_", round, "_", i);
          const bool refuse = i % 3 == 2;
          writers.push_back([this, id, refuse](WriteTransaction& txn) {
            return InsertBody(txn, id, refuse);
          });
        }
        std::vector<absl::FunctionRef<absl::Status(WriteTransaction&)>> bodies(
            writers.begin(), writers.end());
        const std::vector<absl::Status> results = store_->WriteEach(bodies);
        ASSERT_EQ(results.size(), static_cast<size_t>(count));
        for (int i = 0; i < count; ++i) {
          const bool refused = i % 3 == 2;
          EXPECT_EQ(results[static_cast<size_t>(i)].ok(), !refused)
              << results[static_cast<size_t>(i)];
          stored += refused ? 0 : 1;
        }
      }
    });
  }
  for (std::thread& caller : callers) {
    caller.join();
  }

  absl::MutexLock lock(&ran_mu_);
  constexpr int kCalls = kCallers * kRounds;
  const int expected_bodies = kCalls / 2 * kPerCall + kCalls / 2;
  ASSERT_EQ(static_cast<int>(ran_.size()), expected_bodies);
  // Each body once, each caller's bodies in the order it gave them.
  for (int caller = 0; caller < kCallers; ++caller) {
    std::vector<std::string> mine;
    for (const std::string& id : ran_) {
      if (absl::StartsWith(id, absl::StrCat("u_", caller, "_"))) {
        mine.push_back(id);
      }
    }
    std::vector<std::string> expected;
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < (caller % 2 == 0 ? kPerCall : 1); ++i) {
        expected.push_back(absl::StrCat("u_", caller, "_", round, "_", i));
      }
    }
    EXPECT_EQ(mine, expected) << "caller " << caller;
  }
  for (const std::string& id : ran_) {
    const bool refused = (id.back() - '0') % 3 == 2;  // The last digit is i.
    EXPECT_EQ(store_->GetUser(id).ok(), !refused) << id;
  }
  // No batch held more than the bound: every commit covers at most three.
  EXPECT_GE(commits.load(), (stored.load() + 2) / 3);
  EventQuery query;
  query.limit = 1000;
  auto events = store_->ReadEvents(query);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(static_cast<int>(events->events.size()), stored.load());
}

}  // namespace
}  // namespace roster::storage

// The event log of the UserStore contract on both adapters: gap-free
// sequences in commit order with their change, nothing left by a rollback,
// the commit listener, filtered reads, and pruning a prefix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;
using ::testing::ElementsAre;

std::vector<int64_t> Sequences(const EventBatch& batch) {
  std::vector<int64_t> sequences;
  for (const auto& e : batch.events) {
    sequences.push_back(e.sequence);
  }
  return sequences;
}

TEST_P(UserStoreTest, EventsGetGapFreeSequencesInCommitOrderWithTheirChange) {
  ASSERT_THAT(Insert(MakeUser("u1", 1)), IsOk());
  ASSERT_THAT(Insert(MakeUser("u2", 2)), IsOk());
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.UpdateUser(MakeUser("u1", 1), EventFor("u1", "user.updated"));
  }),
              IsOk());
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("u2", EventFor("u2", "user.deleted"));
  }),
              IsOk());
  ASSERT_OK_AND_ASSIGN(batch, store_->ReadEvents({}));
  EXPECT_THAT(Sequences(batch), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(batch.latest, 4);
  EXPECT_EQ(batch.pruned_through, 0);
  EXPECT_EQ(batch.events[3].type, "user.deleted");
  EXPECT_EQ(batch.events[3].user_id, "u2");
  EXPECT_EQ(batch.events[0].payload, std::string("\0payload", 8));
}

TEST_P(UserStoreTest, RolledBackChangeLeavesNoEventAndNoGap) {
  ASSERT_THAT(Insert(MakeUser("u1", 1)), IsOk());
  UserRecord clash = MakeUser("u1", 2);  // Same id: the insert fails.
  EXPECT_THAT(Insert(clash), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Write([](WriteTransaction& txn) {
    EXPECT_THAT(txn.InsertUser(MakeUser("u9", 9), EventFor("u9")), IsOk());
    return absl::AbortedError("rolled back after appending");
  }),
              StatusIs(absl::StatusCode::kAborted));
  ASSERT_THAT(Insert(MakeUser("u2", 2)), IsOk());
  ASSERT_OK_AND_ASSIGN(batch, store_->ReadEvents({}));
  EXPECT_THAT(Sequences(batch), ElementsAre(1, 2));
  EXPECT_EQ(batch.events[1].user_id, "u2");
}

TEST_P(UserStoreTest, CommitListenerHearsEachCommitWithEventsOnly) {
  std::vector<int64_t> heard;
  store_->SetCommitListener([&](int64_t latest) { heard.push_back(latest); });
  ASSERT_THAT(Insert(MakeUser("u1", 1)), IsOk());
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.PutIdempotencyKey({"r", "h", "u1", 1});
  }),
              IsOk());
  EXPECT_THAT(Insert(MakeUser("u1", 1)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(Insert(MakeUser("u2", 2)), IsOk());
  EXPECT_THAT(heard, ElementsAre(1, 2));
}

TEST_P(UserStoreTest, ReadEventsFiltersByTypeUserAndPosition) {
  ASSERT_THAT(Insert(MakeUser("u1", 1)), IsOk());
  ASSERT_THAT(Insert(MakeUser("u2", 2)), IsOk());
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("u1", EventFor("u1", "user.deleted"));
  }),
              IsOk());
  EventQuery by_type;
  by_type.types = {"user.deleted"};
  ASSERT_OK_AND_ASSIGN(deleted, store_->ReadEvents(by_type));
  EXPECT_THAT(Sequences(deleted), ElementsAre(3));
  EXPECT_EQ(deleted.latest, 3);
  EventQuery by_user;
  by_user.user_id = "u1";
  ASSERT_OK_AND_ASSIGN(about_u1, store_->ReadEvents(by_user));
  EXPECT_THAT(Sequences(about_u1), ElementsAre(1, 3));
  EventQuery after;
  after.after_sequence = 1;
  after.limit = 1;
  ASSERT_OK_AND_ASSIGN(one, store_->ReadEvents(after));
  EXPECT_THAT(Sequences(one), ElementsAre(2));
}

TEST_P(UserStoreTest, PruningDeletesAPrefixAndSequencesNeverRestart) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_THAT(Insert(MakeUser(absl::StrCat("u", i), i)), IsOk());
  }
  ASSERT_OK_AND_ASSIGN(all, store_->ReadEvents({}));
  const Micros third = all.events[2].created_at;
  int64_t deleted = 0;
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
    auto pruned = txn.PruneEvents(third + 1, 1000);
    deleted = pruned.ok() ? *pruned : -1;
    return pruned.status();
  }),
              IsOk());
  EXPECT_EQ(deleted, 3);
  ASSERT_OK_AND_ASSIGN(kept, store_->ReadEvents({}));
  EXPECT_THAT(Sequences(kept), ElementsAre(4, 5));
  EXPECT_EQ(kept.pruned_through, 3);
  // Prune everything; the next event still continues the sequence.
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.PruneEvents(std::numeric_limits<Micros>::max(), 1000).status();
  }),
              IsOk());
  Reopen();
  ASSERT_THAT(Insert(MakeUser("u6", 6)), IsOk());
  ASSERT_OK_AND_ASSIGN(after, store_->ReadEvents({}));
  EXPECT_THAT(Sequences(after), ElementsAre(6));
  EXPECT_EQ(after.pruned_through, 5);
}

}  // namespace
}  // namespace roster::storage

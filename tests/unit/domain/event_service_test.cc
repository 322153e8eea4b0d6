#include "server/domain/event_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/user_service.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "tests/testing/fakes.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/text_event_encoder.h"

namespace roster::domain {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::IsOkAndHolds;
using ::roster::testing::StatusIs;
using ::testing::ElementsAre;

std::vector<int64_t> Sequences(
    const std::vector<storage::EventRecord>& events) {
  std::vector<int64_t> out;
  out.reserve(events.size());
  for (const auto& e : events) {
    out.push_back(e.sequence);
  }
  return out;
}

class EventServiceTest : public ::testing::Test {
 protected:
  EventServiceTest() : ids_(&clock_, &random_) {
    auto store = storage::SqliteUserStore::Open({dir_.File("events.db")});
    EXPECT_THAT(store, IsOk());
    store_ = *std::move(store);
    users_ = std::make_unique<UserServices>(store_.get(), &clock_, &ids_,
                                            &encoder_, UserServiceOptions{});
    events_ = std::make_unique<EventService>(store_.get(), &clock_);
  }

  // Creates a user (one user.created event) and returns its id.
  std::string NewUser() {
    auto user = users_->users.CreateUser({"secret_key:test", ""}, {});
    EXPECT_THAT(user, IsOk());
    return user->record.id;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  testing::SeededRandom random_{5};
  IdGenerator ids_;
  testing::TextEventEncoder encoder_;
  std::unique_ptr<storage::SqliteUserStore> store_;
  std::unique_ptr<UserServices> users_;
  std::unique_ptr<EventService> events_;
};

TEST_F(EventServiceTest, WatchStartsAtTheCursorAndRejectsBadOnes) {
  for (int i = 0; i < 3; ++i) {
    NewUser();
  }
  EXPECT_THAT(events_->StartWatch(0, {}), IsOkAndHolds(0));
  ASSERT_OK_AND_ASSIGN(at_two, events_->StartWatch(2, {}));
  EXPECT_EQ(at_two, 2);
  EXPECT_THAT(events_->StartWatch(3, {}), IsOk());
  absl::Status ahead = events_->StartWatch(4, {}).status();
  EXPECT_THAT(ahead, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(events_->StartWatch(-1, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(events_->StartWatch(0, {"user.exploded"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      events_->StartWatch(0, std::vector<std::string>(21, "user.created")),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(EventServiceTest, ScanSkipsOtherTypesAndReportsHowFarItLooked) {
  const std::string id = NewUser();                                 // 1 created
  ASSERT_THAT(users_->users.SetBanned({}, id, true, ""), IsOk());   // 2 updated
  ASSERT_THAT(users_->users.SetBanned({}, id, false, ""), IsOk());  // 3 updated
  NewUser();                                                        // 4 created
  ASSERT_OK_AND_ASSIGN(created, events_->Scan(0, {"user.created"}, 100));
  EXPECT_THAT(Sequences(created.events), ElementsAre(1, 4));
  EXPECT_EQ(created.scanned_through, 4);
  ASSERT_OK_AND_ASSIGN(deleted, events_->Scan(0, {"user.deleted"}, 100));
  EXPECT_TRUE(deleted.events.empty());
  EXPECT_EQ(deleted.scanned_through, 4);  // Nothing to wait for below 4.
  ASSERT_OK_AND_ASSIGN(first_two, events_->Scan(0, {}, 2));
  EXPECT_THAT(Sequences(first_two.events), ElementsAre(1, 2));
  EXPECT_EQ(first_two.scanned_through, 2);  // A full batch: more may follow.
}

TEST_F(EventServiceTest, RetentionPrunesOldEventsAndExpiresTheirCursors) {
  NewUser();
  NewUser();
  clock_.Advance(absl::Hours(2));
  NewUser();  // 3, recent.
  ASSERT_OK_AND_ASSIGN(pruned, events_->Prune(absl::Hours(1)));
  EXPECT_EQ(pruned, 2);
  absl::Status expired = events_->StartWatch(1, {}).status();
  EXPECT_THAT(expired, StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(ReasonOf(expired), "CURSOR_EXPIRED");
  EXPECT_THAT(events_->StartWatch(0, {}), IsOkAndHolds(2));
  EXPECT_THAT(events_->StartWatch(2, {}), IsOkAndHolds(2));
  EXPECT_THAT(events_->Scan(1, {}, 10),
              StatusIs(absl::StatusCode::kOutOfRange));
  EventListParams list;
  list.after_sequence = 1;
  EXPECT_THAT(events_->ListEvents(list),
              StatusIs(absl::StatusCode::kOutOfRange));
  list.after_sequence = 0;
  ASSERT_OK_AND_ASSIGN(page, events_->ListEvents(list));
  EXPECT_THAT(Sequences(page.events), ElementsAre(3));
}

TEST_F(EventServiceTest, PruneWorksInBatchesUntilDone) {
  for (int i = 0; i < 25; ++i) {
    NewUser();
  }
  clock_.Advance(absl::Hours(2));
  ASSERT_OK_AND_ASSIGN(pruned, events_->Prune(absl::Hours(1), /*batch=*/10));
  EXPECT_EQ(pruned, 25);
}

TEST_F(EventServiceTest, ListEventsPagesByTokenAndOffsetAndFilters) {
  std::vector<std::string> ids;
  ids.reserve(7);
  for (int i = 0; i < 7; ++i) {
    ids.push_back(NewUser());  // 1..7
  }
  ASSERT_THAT(users_->users.SetBanned({}, ids[0], true, ""),
              IsOk());  // 8, about ids[0]
  EventListParams params;
  params.limit = 3;
  std::vector<int64_t> seen;
  while (true) {
    ASSERT_OK_AND_ASSIGN(page, events_->ListEvents(params));
    for (auto s : Sequences(page.events)) {
      seen.push_back(s);
    }
    if (page.next_page_token.empty()) {
      break;
    }
    params.page_token = page.next_page_token;
  }
  EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8));

  EventListParams offset;
  offset.limit = 2;
  offset.offset = 5;
  ASSERT_OK_AND_ASSIGN(at_offset, events_->ListEvents(offset));
  EXPECT_THAT(Sequences(at_offset.events), ElementsAre(6, 7));

  EventListParams about;
  about.user_id = ids[0];
  ASSERT_OK_AND_ASSIGN(about_first, events_->ListEvents(about));
  EXPECT_THAT(Sequences(about_first.events), ElementsAre(1, 8));
  about.types = {"user.updated"};
  ASSERT_OK_AND_ASSIGN(updates, events_->ListEvents(about));
  EXPECT_THAT(Sequences(updates.events), ElementsAre(8));

  EventListParams bad;
  bad.limit = 501;
  bad.user_id = "nope";
  bad.types = {"user.nope"};
  absl::Status invalid = events_->ListEvents(bad).status();
  EXPECT_THAT(invalid, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldViolationsOf(invalid).size(), 3u);
  EventListParams other_query = params;
  other_query.user_id = ids[1];
  EXPECT_THAT(events_->ListEvents(other_query),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace roster::domain

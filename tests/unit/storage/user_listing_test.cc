// Listing users on both adapters: keyset paging over tied sort values, exact
// totals on every kind of page, and metadata filters that compare numbers
// exactly and keep types apart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::IsOkAndHolds;
using ::roster::testing::StatusIs;

TEST_P(UserStoreTest, KeysetPagingWithTiedSortValuesVisitsEveryUserOnce) {
  // 25 users share 5 first names, so the id tie-breaker decides order within
  // each name.
  for (int i = 0; i < 25; ++i) {
    UserRecord user = MakeUser(absl::StrCat("u", 100 + i), i);
    user.first_name = absl::StrCat("name", i % 5);
    ASSERT_THAT(Insert(user), IsOk());
  }
  for (bool descending : {false, true}) {
    UserPageQuery query;
    query.order = {UserOrderKey::kFirstName, descending};
    query.limit = 4;
    std::vector<std::string> seen;
    while (true) {
      ASSERT_OK_AND_ASSIGN(page, store_->ListUsers(query));
      EXPECT_EQ(page.total_count, 25);
      for (const auto& u : page.users) {
        seen.push_back(u.first_name + "/" + u.id);
      }
      if (!page.next.has_value()) {
        break;
      }
      query.after = page.next;
    }
    ASSERT_EQ(seen.size(), 25u);
    std::vector<std::string> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    if (descending) {
      std::reverse(sorted.begin(), sorted.end());
    }
    EXPECT_EQ(seen, sorted);
  }
}

// A final page reached by offset implies the total without a COUNT; every
// other page counts. Both must give the same number.
TEST_P(UserStoreTest, TotalCountIsExactOnEveryKindOfPage) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_THAT(Insert(MakeUser(absl::StrCat("u", 100 + i), i)), IsOk());
  }
  struct Case {
    int32_t limit;
    int64_t offset;
    size_t page_size;
  };
  for (const Case& c : {Case{10, 0, 7}, Case{3, 0, 3}, Case{3, 6, 1},
                        Case{3, 4, 3}, Case{3, 7, 0}, Case{3, 50, 0}}) {
    UserPageQuery query;
    query.limit = c.limit;
    query.offset = c.offset;
    ASSERT_OK_AND_ASSIGN(page, store_->ListUsers(query));
    EXPECT_EQ(page.users.size(), c.page_size)
        << "limit " << c.limit << " offset " << c.offset;
    EXPECT_EQ(page.total_count, 7)
        << "limit " << c.limit << " offset " << c.offset;
  }
  // Deletes and rolled-back inserts keep the unfiltered total exact.
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("u101", EventFor("u101", "user.deleted"));
  }),
              IsOk());
  EXPECT_THAT(store_->Write([](WriteTransaction& txn) {
    EXPECT_THAT(txn.InsertUser(MakeUser("u200", 200), EventFor("u200")),
                IsOk());
    return absl::AbortedError("changed my mind");
  }),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(store_->CountUsers(UserFilter()), IsOkAndHolds(6));
  UserPageQuery first_of_two;
  first_of_two.limit = 3;
  ASSERT_OK_AND_ASSIGN(counted, store_->ListUsers(first_of_two));
  EXPECT_EQ(counted.total_count, 6);
  UserPageQuery one;
  one.filter.user_ids = {"u103"};
  ASSERT_OK_AND_ASSIGN(found, store_->ListUsers(one));
  EXPECT_EQ(found.total_count, 1);
  one.filter.user_ids = {"missing"};
  ASSERT_OK_AND_ASSIGN(none, store_->ListUsers(one));
  EXPECT_EQ(none.total_count, 0);
}

TEST_P(UserStoreTest, MetadataFiltersCompareNumbersExactlyAndKeepTypesApart) {
  UserRecord exact = MakeUser("u1", 1);
  exact.public_metadata = R"({"score":1234567.125,"note":"x"})";
  UserRecord close = MakeUser("u2", 2);
  close.public_metadata = R"({"score":1234567.0})";
  UserRecord text = MakeUser("u3", 3);
  text.public_metadata = R"({"score":"1234567.125"})";
  for (const auto& user : {exact, close, text}) {
    ASSERT_THAT(Insert(user), IsOk());
  }
  UserFilter filter;
  MetadataFilter score;
  score.path = {"score"};
  score.value.kind = JsonScalar::Kind::kNumber;
  score.value.number_value = 1234567.125;
  filter.metadata_filters = {score};
  EXPECT_THAT(store_->CountUsers(filter), IsOkAndHolds(1));
  score.value.kind = JsonScalar::Kind::kString;
  score.value.string_value = "1234567.125";
  filter.metadata_filters = {score};
  UserPageQuery query;
  query.filter = filter;
  ASSERT_OK_AND_ASSIGN(page, store_->ListUsers(query));
  ASSERT_EQ(page.users.size(), 1u);
  EXPECT_EQ(page.users[0].id, "u3");
}

}  // namespace
}  // namespace roster::storage

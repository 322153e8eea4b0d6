// The user cache's identifier lookups ("this address names this one user"):
// on UserCache alone, then through SqliteUserStore's ListUsers on a real file,
// where every write that could change a lookup's answer must end it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "storage/sqlite/user_cache.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;

std::shared_ptr<const UserRecord> CachedUser(const std::string& id) {
  auto user = std::make_shared<UserRecord>();
  user->id = id;
  user->version = 1;
  return user;
}

const std::string kAdaKey =
    LookupKey(IdentifierKind::kEmailAddress, "ada@example.com");

TEST(UserCacheLookupTest, ALookupLivesBesideItsUsersRecord) {
  UserCache cache(1 << 20);
  cache.InsertLookup(kAdaKey, "u1", cache.generation());
  EXPECT_EQ(cache.FindLookup(kAdaKey), nullptr);  // No record to name.

  cache.Insert(CachedUser("u1"), cache.generation());
  const size_t record_bytes = cache.bytes();
  cache.InsertLookup(kAdaKey, "u1", cache.generation());
  ASSERT_NE(cache.FindLookup(kAdaKey), nullptr);
  EXPECT_EQ(cache.FindLookup(kAdaKey)->id, "u1");
  EXPECT_GT(cache.bytes(), record_bytes);
  EXPECT_EQ(cache.lookup_hits(), 2);

  cache.BeginCommit({"u1"});  // The user changes: its lookups go with it.
  EXPECT_EQ(cache.FindLookup(kAdaKey), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
  cache.EndCommit();
}

TEST(UserCacheLookupTest, KeepsNoLookupOfACommitsIdentifiersUntilItEnds) {
  UserCache cache(1 << 20);
  cache.Insert(CachedUser("u1"), cache.generation());
  cache.InsertLookup(kAdaKey, "u1", cache.generation());
  const uint64_t before_commit = cache.generation();

  // Another user's row takes the address; u1 itself is unchanged.
  cache.BeginCommit({"u2"}, {kAdaKey});
  EXPECT_EQ(cache.FindLookup(kAdaKey), nullptr);
  EXPECT_NE(cache.Find("u1"), nullptr);
  // A read in the window may have seen either side of the commit.
  cache.InsertLookup(kAdaKey, "u1", cache.generation());
  EXPECT_EQ(cache.FindLookup(kAdaKey), nullptr);
  cache.EndCommit();
  // A read begun before the commit is not kept either.
  cache.InsertLookup(kAdaKey, "u1", before_commit);
  EXPECT_EQ(cache.FindLookup(kAdaKey), nullptr);

  cache.InsertLookup(kAdaKey, "u1", cache.generation());
  EXPECT_NE(cache.FindLookup(kAdaKey), nullptr);
}

TEST(UserCacheLookupTest, EvictingAUserDropsItsLookups) {
  const size_t budget = 4 * UserCache::ApproximateBytes(*CachedUser("u0"));
  UserCache cache(budget);
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("u", i);
    cache.Insert(CachedUser(id), cache.generation());
    cache.InsertLookup(LookupKey(IdentifierKind::kUsername, id), id,
                       cache.generation());
  }
  EXPECT_LE(cache.bytes(), budget);
  int kept = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("u", i);
    auto named = cache.FindLookup(LookupKey(IdentifierKind::kUsername, id));
    if (named != nullptr) {
      ++kept;
      EXPECT_EQ(named->id, id);
      EXPECT_NE(cache.Find(id), nullptr);
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, 20);
}

class SqliteLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteUserStore::Open({dir_.File("users.db")});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    UserRecord ada = User("u1", 1);
    ada.username = "ada";
    ada.external_id = "ext-1";
    ada.email_addresses = {Email("e1", "u1", "ada@example.com")};
    ada.primary_email_address_id = "e1";
    PhoneNumberRecord phone;
    phone.id = "p1";
    phone.user_id = "u1";
    phone.phone_number = "+14155550100";
    ada.phone_numbers = {phone};
    ASSERT_THAT(InsertUser(ada), IsOk());
  }

  static UserRecord User(const std::string& id, int64_t created_at) {
    UserRecord user;
    user.id = id;
    user.created_at = created_at;
    user.version = 1;
    return user;
  }

  static EmailAddressRecord Email(const std::string& id,
                                  const std::string& user_id,
                                  const std::string& address) {
    EmailAddressRecord email;
    email.id = id;
    email.user_id = user_id;
    email.email_address = address;
    return email;  // Unverified: other users may claim it too.
  }

  absl::Status InsertUser(const UserRecord& user) {
    return store_->Write([&](WriteTransaction& txn) {
      return txn.InsertUser(user, Event(user.id));
    });
  }

  EventRecord Event(const std::string& user_id) {
    EventRecord event;
    event.id = absl::StrCat("evt_", ++events_);
    event.type = "user.changed";
    event.user_id = user_id;
    return event;
  }

  absl::StatusOr<UserPage> List(const UserFilter& filter) {
    UserPageQuery query;
    query.filter = filter;
    return store_->ListUsers(query);
  }

  static UserFilter ByEmail(const std::string& address) {
    UserFilter filter;
    filter.email_addresses = {address};
    return filter;
  }

  int64_t LookupHits() { return store_->GetUserCacheStats()->lookup_hits; }

  // The ids listed, in order.
  std::vector<std::string> Ids(const UserFilter& filter) {
    auto page = List(filter);
    EXPECT_THAT(page, IsOk());
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const UserRecord& user : page->users) {
        ids.push_back(user.id);
      }
      EXPECT_EQ(page->total_count, static_cast<int64_t>(ids.size()));
    }
    return ids;
  }

  // Lists by `filter` until the answer comes from a kept lookup.
  void KeepLookup(const UserFilter& filter) {
    ASSERT_THAT(List(filter), IsOk());
    const int64_t hits = LookupHits();
    ASSERT_THAT(List(filter), IsOk());
    ASSERT_EQ(LookupHits(), hits + 1);
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteUserStore> store_;
  int events_ = 0;
};

TEST_F(SqliteLookupTest, ARepeatedLookupByEachIdentifierReadsNothing) {
  std::vector<UserFilter> filters(4);
  filters[0].email_addresses = {"ada@example.com"};
  filters[1].phone_numbers = {"+14155550100"};
  filters[2].usernames = {"ada"};
  filters[3].external_ids = {"ext-1"};
  for (const UserFilter& filter : filters) {
    ASSERT_OK_AND_ASSIGN(first, List(filter));
    const int64_t hits = LookupHits();
    ASSERT_OK_AND_ASSIGN(second, List(filter));
    EXPECT_EQ(LookupHits(), hits + 1);
    ASSERT_EQ(second.users.size(), 1u);
    EXPECT_EQ(second.users[0].id, "u1");
    EXPECT_EQ(second.users[0].phone_numbers.size(), 1u);
    EXPECT_EQ(second.total_count, 1);
    EXPECT_FALSE(second.next.has_value());
    EXPECT_EQ(first.users.size(), 1u);
  }
}

TEST_F(SqliteLookupTest, OnlyAQueryForOneIdentifierAloneIsAnsweredByALookup) {
  KeepLookup(ByEmail("ada@example.com"));
  const int64_t hits = LookupHits();
  UserFilter banned = ByEmail("ada@example.com");
  banned.banned = true;
  EXPECT_THAT(Ids(banned), ::testing::IsEmpty());
  UserFilter two_lists = ByEmail("ada@example.com");
  two_lists.usernames = {"someone-else"};
  EXPECT_THAT(Ids(two_lists), ::testing::IsEmpty());
  UserPageQuery second_page;
  second_page.filter = ByEmail("ada@example.com");
  second_page.offset = 1;
  ASSERT_OK_AND_ASSIGN(past_the_end, store_->ListUsers(second_page));
  EXPECT_TRUE(past_the_end.users.empty());
  EXPECT_EQ(LookupHits(), hits);
}

// The named user is unchanged, but another user's row now holds the address:
// only the commit's identifier values can tell the cache.
TEST_F(SqliteLookupTest, AnotherUserClaimingTheAddressEndsItsLookup) {
  KeepLookup(ByEmail("ada@example.com"));
  UserRecord other = User("u2", 2);
  other.email_addresses = {Email("e2", "u2", "ada@example.com")};
  ASSERT_THAT(InsertUser(other), IsOk());
  EXPECT_THAT(Ids(ByEmail("ada@example.com")),
              ::testing::ElementsAre("u2", "u1"));

  // Given up again, the address names u1 alone once more.
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.DeleteUser("u2", Event("u2"));
  }),
              IsOk());
  EXPECT_THAT(Ids(ByEmail("ada@example.com")), ::testing::ElementsAre("u1"));
  KeepLookup(ByEmail("ada@example.com"));
}

TEST_F(SqliteLookupTest, ARenamedOrDeletedUserEndsItsLookups) {
  UserFilter by_username;
  by_username.usernames = {"ada"};
  KeepLookup(by_username);
  KeepLookup(ByEmail("ada@example.com"));
  ASSERT_OK_AND_ASSIGN(ada, store_->GetUser("u1"));
  ada.username = "grace";
  ada.version = 2;
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.UpdateUser(ada, Event("u1"));
  }),
              IsOk());
  EXPECT_THAT(Ids(by_username), ::testing::IsEmpty());
  by_username.usernames = {"grace"};
  EXPECT_THAT(Ids(by_username), ::testing::ElementsAre("u1"));
  ASSERT_OK_AND_ASSIGN(page, List(ByEmail("ada@example.com")));
  ASSERT_EQ(page.users.size(), 1u);
  EXPECT_EQ(page.users[0].username, "grace");

  KeepLookup(ByEmail("ada@example.com"));
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.DeleteUser("u1", Event("u1"));
  }),
              IsOk());
  EXPECT_THAT(Ids(ByEmail("ada@example.com")), ::testing::IsEmpty());
}

TEST_F(SqliteLookupTest, ACommitThatDoesNotTouchTheAddressKeepsItsLookup) {
  KeepLookup(ByEmail("ada@example.com"));
  UserRecord other = User("u2", 2);
  other.email_addresses = {Email("e2", "u2", "grace@example.com")};
  ASSERT_THAT(InsertUser(other), IsOk());
  const int64_t hits = LookupHits();
  EXPECT_THAT(Ids(ByEmail("ada@example.com")), ::testing::ElementsAre("u1"));
  EXPECT_EQ(LookupHits(), hits + 1);
}

}  // namespace
}  // namespace roster::storage

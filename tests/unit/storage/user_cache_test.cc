// UserCache on its own, then SqliteUserStore's GetUser staying exact through
// every write path that changes a user, on a real file.
#include "storage/user_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/sqlite_user_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

std::shared_ptr<const UserRecord> Record(const std::string& id,
                                         int64_t version = 1) {
  auto user = std::make_shared<UserRecord>();
  user->id = id;
  user->version = version;
  return user;
}

TEST(UserCacheTest, KeepsWhatWasInsertedUntilACommitChangesIt) {
  UserCache cache(1 << 20);
  EXPECT_EQ(cache.Find("u1"), nullptr);
  cache.Insert(Record("u1"), cache.generation());
  auto found = cache.Find("u1");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->id, "u1");

  cache.BeginCommit({"u1"});
  EXPECT_EQ(cache.Find("u1"), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
  cache.EndCommit();
}

TEST(UserCacheTest, RefusesAReadThatACommitOverlapped) {
  UserCache cache(1 << 20);
  const uint64_t before_read = cache.generation();
  // A commit begins while the read is under way: what the read returns may
  // predate it, whichever user the commit touched.
  cache.BeginCommit({"someone_else"});
  cache.Insert(Record("u1"), before_read);
  EXPECT_EQ(cache.Find("u1"), nullptr);
  cache.EndCommit();
  cache.Insert(Record("u1"), before_read);
  EXPECT_EQ(cache.Find("u1"), nullptr);

  cache.Insert(Record("u1"), cache.generation());
  EXPECT_NE(cache.Find("u1"), nullptr);
}

// Readers may already see the commit while it is in progress, or not yet:
// none of its users is kept until it ends, whenever the read began.
TEST(UserCacheTest, KeepsNoneOfACommitsUsersUntilItEnds) {
  UserCache cache(1 << 20);
  cache.Insert(Record("u2"), cache.generation());
  cache.BeginCommit({"u1", "u2"});
  EXPECT_EQ(cache.Find("u2"), nullptr);
  cache.Insert(Record("u1"), cache.generation());
  EXPECT_EQ(cache.Find("u1"), nullptr);
  cache.Insert(Record("u3"), cache.generation());  // Not the commit's.
  EXPECT_NE(cache.Find("u3"), nullptr);
  cache.EndCommit();
  cache.Insert(Record("u1"), cache.generation());
  EXPECT_NE(cache.Find("u1"), nullptr);
}

TEST(UserCacheTest, FindAsOfRefusesOnceACommitHasBegunSince) {
  UserCache cache(1 << 20);
  cache.Insert(Record("u1"), cache.generation());
  const uint64_t before_snapshot = cache.generation();
  EXPECT_NE(cache.FindAsOf("u1", before_snapshot), nullptr);
  // A commit touching someone else: u1 is still cached and current, but a
  // snapshot begun before the commit may show the world before it, so the
  // two must not be paired.
  cache.BeginCommit({"someone_else"});
  EXPECT_EQ(cache.FindAsOf("u1", before_snapshot), nullptr);
  cache.EndCommit();
  EXPECT_EQ(cache.FindAsOf("u1", before_snapshot), nullptr);
  EXPECT_NE(cache.FindAsOf("u1", cache.generation()), nullptr);
}

TEST(UserCacheTest, StaysWithinBudgetAndGivesRecentlyReadUsersASecondChance) {
  const size_t one = UserCache::ApproximateBytes(*Record("u0"));
  UserCache cache(4 * one);  // Room for four.
  for (int i = 0; i < 4; ++i) {
    cache.Insert(Record(absl::StrCat("u", i)), cache.generation());
  }
  ASSERT_NE(cache.Find("u0"), nullptr);  // u0 is read again.
  cache.Insert(Record("u4"), cache.generation());
  EXPECT_LE(cache.bytes(), 4 * one);
  EXPECT_NE(cache.Find("u0"), nullptr);
  EXPECT_EQ(cache.Find("u1"), nullptr);  // The oldest unread one went.
  EXPECT_NE(cache.Find("u4"), nullptr);
}

TEST(UserCacheTest, ARecordTooLargeForItsShareIsNotKept) {
  auto big = std::make_shared<UserRecord>();
  big->id = "u1";
  big->public_metadata.assign(64 << 10, 'x');
  UserCache cache(128 << 10);
  cache.Insert(big, cache.generation());
  EXPECT_EQ(cache.Find("u1"), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(UserCacheTest, ABudgetOfZeroKeepsNothing) {
  UserCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.Insert(Record("u1"), cache.generation());
  EXPECT_EQ(cache.Find("u1"), nullptr);
}

TEST(UserCacheTest, ChangingAndReadingOneUserAgainCountsItsBytesOnce) {
  const size_t one = UserCache::ApproximateBytes(*Record("u1"));
  UserCache cache(1 << 20);
  for (int i = 0; i < 10000; ++i) {
    cache.Insert(Record("u1", i), cache.generation());
    cache.BeginCommit({"u1"});
    cache.EndCommit();
  }
  cache.Insert(Record("u1"), cache.generation());
  EXPECT_EQ(cache.bytes(), one);
}

// The store, with the cache on (its default).
class SqliteUserCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteUserStore::Open({dir_.File("users.db")});
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    UserRecord user;
    user.id = "u1";
    user.first_name = "Ada";
    user.password_hash = "old-hash";
    user.version = 1;
    EmailAddressRecord email;
    email.id = "e1";
    email.user_id = "u1";
    email.email_address = "ada@example.com";
    email.verification.status = VerificationStatus::kVerified;
    user.email_addresses = {email};
    user.primary_email_address_id = "e1";
    ASSERT_THAT(Write([&](WriteTransaction& txn) {
                  return txn.InsertUser(user, Event("user.created"));
                }),
                IsOk());
    ASSERT_THAT(Cached(), IsOk());  // Now it is cached.
  }

  absl::Status Write(absl::FunctionRef<absl::Status(WriteTransaction&)> body) {
    return store_->Write(body);
  }

  EventRecord Event(const std::string& type) {
    EventRecord event;
    event.id = absl::StrCat("evt_", ++events_);
    event.type = type;
    event.user_id = "u1";
    return event;
  }

  // Two reads: the second one is answered from the cache when it can be.
  absl::StatusOr<UserRecord> Cached() {
    auto first = store_->GetUser("u1");
    if (!first.ok()) {
      return first;
    }
    return store_->GetUser("u1");
  }

  // Reopens the file with `hook` run in every commit's window (see
  // SqliteOptions::after_commit_for_testing). The cache starts empty.
  void ReopenWithCommitHook(std::function<void()> hook) {
    store_.reset();
    SqliteOptions options{dir_.File("users.db")};
    options.after_commit_for_testing = std::move(hook);
    auto reopened = SqliteUserStore::Open(options);
    ASSERT_THAT(reopened, IsOk());
    store_ = *std::move(reopened);
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteUserStore> store_;
  int events_ = 0;
};

TEST_F(SqliteUserCacheTest, AnUpdateIsReadBackAtOnce) {
  ASSERT_OK_AND_ASSIGN(user, Cached());
  auto update = [&] {
    return Write([&](WriteTransaction& txn) {
      return txn.UpdateUser(user, Event("user.updated"));
    });
  };
  user.first_name = "Grace";
  user.version = 2;
  ASSERT_THAT(update(), IsOk());
  ASSERT_OK_AND_ASSIGN(row_changed, Cached());
  EXPECT_EQ(row_changed.first_name, "Grace");
  EXPECT_EQ(row_changed.version, 2);

  // Only identifier rows change from here on: the user row is not written.
  EmailAddressRecord second;
  second.id = "e2";
  second.user_id = "u1";
  second.email_address = "grace@example.com";
  second.created_at = 1;
  user.email_addresses.push_back(second);
  ASSERT_THAT(update(), IsOk());
  ASSERT_OK_AND_ASSIGN(email_added, Cached());
  ASSERT_EQ(email_added.email_addresses.size(), 2u);
  EXPECT_EQ(email_added.email_addresses[1].email_address, "grace@example.com");

  PhoneNumberRecord phone;
  phone.id = "p1";
  phone.user_id = "u1";
  phone.phone_number = "+14155550100";
  user.phone_numbers = {phone};
  ASSERT_THAT(update(), IsOk());
  ASSERT_OK_AND_ASSIGN(phone_added, Cached());
  EXPECT_EQ(phone_added.phone_numbers.size(), 1u);

  ExternalAccountRecord account;
  account.id = "a1";
  account.user_id = "u1";
  account.provider = "github";
  account.provider_user_id = "42";
  user.external_accounts = {account};
  ASSERT_THAT(update(), IsOk());
  ASSERT_OK_AND_ASSIGN(account_added, Cached());
  EXPECT_EQ(account_added.external_accounts.size(), 1u);
}

TEST_F(SqliteUserCacheTest, BookkeepingThatBumpsNoVersionIsReadBackAtOnce) {
  ASSERT_THAT(Write([](WriteTransaction& txn) {
                return txn.UpdateSignInState("u1", 3, 500, 400, 450);
              }),
              IsOk());
  ASSERT_OK_AND_ASSIGN(signed_in, Cached());
  EXPECT_EQ(signed_in.failed_password_attempts, 3);
  EXPECT_EQ(signed_in.locked_until, 500);
  EXPECT_EQ(signed_in.last_sign_in_at, 400);
  EXPECT_EQ(signed_in.version, 1);

  ASSERT_THAT(Write([](WriteTransaction& txn) {
                return txn.ReplacePasswordHash("u1", "old-hash", "new-hash");
              }),
              IsOk());
  ASSERT_OK_AND_ASSIGN(rehashed, Cached());
  EXPECT_EQ(rehashed.password_hash, "new-hash");

  SessionRecord session;
  session.id = "sess_1";
  session.user_id = "u1";
  session.secret_digest = "digest";
  session.created_at = session.last_active_at = 100;
  session.expire_at = 1'000'000;
  ASSERT_THAT(Write([&](WriteTransaction& txn) {
                return txn.InsertSession(session, Event("session.created"));
              }),
              IsOk());
  ASSERT_THAT(Cached(), IsOk());
  ASSERT_THAT(Write([](WriteTransaction& txn) {
                return txn.TouchSession("sess_1", 9000);
              }),
              IsOk());
  ASSERT_OK_AND_ASSIGN(touched, Cached());
  EXPECT_EQ(touched.last_active_at, 9000);
}

TEST_F(SqliteUserCacheTest, ADeletedUserIsNotFoundAtOnce) {
  ASSERT_THAT(Write([&](WriteTransaction& txn) {
                return txn.DeleteUser("u1", Event("user.deleted"));
              }),
              IsOk());
  EXPECT_THAT(store_->GetUser("u1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SqliteUserCacheTest, AChangeRolledBackLeavesTheCommittedUser) {
  ASSERT_OK_AND_ASSIGN(user, Cached());
  user.first_name = "Never";
  user.version = 2;
  EXPECT_THAT(
      Write([&](WriteTransaction& txn) {
        absl::Status updated = txn.UpdateUser(user, Event("user.updated"));
        return updated.ok() ? absl::AbortedError("changed my mind") : updated;
      }),
      StatusIs(absl::StatusCode::kAborted));
  ASSERT_OK_AND_ASSIGN(read, Cached());
  EXPECT_EQ(read.first_name, "Ada");
  EXPECT_EQ(read.version, 1);
}

// After a commit became visible and before the cache heard that it ended, a
// read that does not use the cache already sees the new version; a GetUser
// after it must not go back to a cached older one.
TEST_F(SqliteUserCacheTest, AReadAfterOneThatSawACommitNeverGoesBack) {
  ASSERT_OK_AND_ASSIGN(user, Cached());
  std::vector<std::pair<int64_t, int64_t>> seen_in_window;
  ReopenWithCommitHook([&] {
    auto listed = store_->ListUsers(UserPageQuery{});  // Not from the cache.
    auto read = store_->GetUser("u1");
    if (listed.ok() && listed->users.size() == 1 && read.ok()) {
      seen_in_window.emplace_back(listed->users[0].version, read->version);
    }
  });
  ASSERT_THAT(Cached(), IsOk());
  user.version = 2;
  ASSERT_THAT(Write([&](WriteTransaction& txn) {
                return txn.UpdateUser(user, Event("user.updated"));
              }),
              IsOk());
  ASSERT_EQ(seen_in_window.size(), 1u);
  EXPECT_EQ(seen_in_window[0].first, 2);
  EXPECT_EQ(seen_in_window[0].second, 2);
}

// Readers hammer the user while it is updated: each reader's versions never
// go back, and the writer always reads its own acknowledged write. A reader
// that read before a commit and cached after it would break both.
TEST_F(SqliteUserCacheTest, ConcurrentReadersNeverSeeAnOlderVersion) {
  std::atomic<bool> done{false};
  std::atomic<int> regressions{0};
  constexpr int kReaders = 3;
  std::vector<std::thread> readers;
  readers.reserve(kReaders);
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!done.load()) {
        auto user = store_->GetUser("u1");
        if (!user.ok() || user->version < last) {
          ++regressions;
          return;
        }
        last = user->version;
      }
    });
  }
  ASSERT_OK_AND_ASSIGN(user, Cached());
  int stale_own_reads = 0;
  for (int64_t version = 2; version <= 300; ++version) {
    user.version = version;
    ASSERT_THAT(Write([&](WriteTransaction& txn) {
                  return txn.UpdateUser(user, Event("user.updated"));
                }),
                IsOk());
    auto read = store_->GetUser("u1");
    if (!read.ok() || read->version != version) {
      ++stale_own_reads;
    }
  }
  done = true;
  for (auto& reader : readers) {
    reader.join();
  }
  EXPECT_EQ(stale_own_reads, 0);
  EXPECT_EQ(regressions.load(), 0);
}

}  // namespace
}  // namespace roster::storage

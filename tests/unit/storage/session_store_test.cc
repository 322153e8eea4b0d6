// GetSessionAndUser, what a session check reads, on both adapters: the session
// with its user and the user's identifiers, as committed by the time of the
// call; NotFound when the session is gone; the non-blocking form answers the
// same; and concurrent checks, which PostgreSQL batches into shared
// statements, each get their own session.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/adapters.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;

class SessionStoreTest : public UserStoreTest {
 protected:
  static SessionRecord MakeSession(const std::string& id,
                                   const std::string& user_id) {
    SessionRecord session;
    session.id = id;
    session.user_id = user_id;
    session.secret_digest = absl::StrCat("digest of ", id);
    session.created_at = 100;
    session.last_active_at = 200;
    session.expire_at = 300;
    session.updated_at = 400;
    return session;
  }

  absl::Status Put(const SessionRecord& session) {
    return store_->Write([&](WriteTransaction& txn) {
      return txn.InsertSession(session,
                               EventFor(session.user_id, "session.created"));
    });
  }

  // GetSessionAndUserAsync's answer, waited for.
  absl::StatusOr<SessionAndUser> GetAsync(const std::string& session_id) {
    absl::StatusOr<SessionAndUser> result;
    absl::Notification answered;
    store_->GetSessionAndUserAsync(session_id,
                                   [&](absl::StatusOr<SessionAndUser> found) {
                                     result = std::move(found);
                                     answered.Notify();
                                   });
    answered.WaitForNotification();
    return result;
  }

  // Both forms' answers.
  std::vector<absl::StatusOr<SessionAndUser>> GetBoth(const std::string& id) {
    return {store_->GetSessionAndUser(id), GetAsync(id)};
  }
};

INSTANTIATE_TEST_SUITE_P(Adapters, SessionStoreTest, AdapterNames(),
                         AdapterName);

TEST_P(SessionStoreTest, ASessionReadsBackWithItsUserAndTheUsersIdentifiers) {
  UserRecord ada = MakeUser("u1", 10);
  ada.username = "ada";
  ada.email_addresses = {MakeEmail("e2", "b@example.com"),
                         MakeEmail("e1", "a@example.com")};
  ada.email_addresses[0].created_at = 6;
  ada.email_addresses[1].created_at = 5;
  PhoneNumberRecord phone;
  phone.id = "p1";
  phone.phone_number = "+14155550100";
  ada.phone_numbers = {phone};
  UserRecord bob = MakeUser("u2", 20);
  bob.email_addresses = {MakeEmail("e3", "c@example.com")};
  ASSERT_THAT(Insert(ada), IsOk());
  ASSERT_THAT(Insert(bob), IsOk());
  SessionRecord first = MakeSession("s1", "u1");
  SessionRecord other = MakeSession("s2", "u1");
  other.status = SessionStatus::kRevoked;
  ASSERT_THAT(Put(first), IsOk());
  ASSERT_THAT(Put(other), IsOk());
  ASSERT_THAT(Put(MakeSession("s3", "u2")), IsOk());

  for (const auto& found : GetBoth("s1")) {
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->session.id, "s1");
    EXPECT_EQ(found->session.user_id, "u1");
    EXPECT_EQ(found->session.secret_digest, "digest of s1");
    EXPECT_EQ(found->session.status, SessionStatus::kActive);
    EXPECT_EQ(found->session.created_at, 100);
    EXPECT_EQ(found->session.last_active_at, 200);
    EXPECT_EQ(found->session.expire_at, 300);
    EXPECT_EQ(found->session.updated_at, 400);
    EXPECT_EQ(found->user.id, "u1");
    EXPECT_EQ(found->user.username, "ada");
    EXPECT_THAT(found->user.email_addresses,
                ElementsAre(Field(&EmailAddressRecord::id, "e1"),
                            Field(&EmailAddressRecord::id, "e2")));
    ASSERT_EQ(found->user.phone_numbers.size(), 1u);
    EXPECT_EQ(found->user.phone_numbers[0].phone_number, "+14155550100");
  }
  for (const auto& found : GetBoth("s2")) {
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->session.status, SessionStatus::kRevoked);
    EXPECT_EQ(found->user.id, "u1");
  }
  for (const auto& found : GetBoth("s3")) {
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->user.id, "u2");
    EXPECT_THAT(found->user.email_addresses,
                ElementsAre(Field(&EmailAddressRecord::id, "e3")));
    EXPECT_TRUE(found->user.phone_numbers.empty());
  }
}

TEST_P(SessionStoreTest, ChangesToTheSessionOrItsUserAreReadAtOnce) {
  ASSERT_THAT(Insert(MakeUser("u1", 10)), IsOk());
  SessionRecord session = MakeSession("s1", "u1");
  ASSERT_THAT(Put(session), IsOk());
  for (const auto& found : GetBoth("nobody's")) {
    EXPECT_THAT(found, StatusIs(absl::StatusCode::kNotFound));
  }

  session.status = SessionStatus::kRevoked;
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.UpdateSession(session, EventFor("u1", "session.revoked"));
  }),
              IsOk());
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
    auto user = txn.GetUser("u1");
    if (!user.ok()) {
      return user.status();
    }
    user->banned = true;
    user->version += 1;
    return txn.UpdateUser(*user, EventFor("u1", "user.banned"));
  }),
              IsOk());
  for (const auto& found : GetBoth("s1")) {
    ASSERT_THAT(found, IsOk());
    EXPECT_EQ(found->session.status, SessionStatus::kRevoked);
    EXPECT_TRUE(found->user.banned);
  }

  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("u1", EventFor("u1", "user.deleted"));
  }),
              IsOk());
  for (const auto& found : GetBoth("s1")) {
    EXPECT_THAT(found, StatusIs(absl::StatusCode::kNotFound));
  }
}

// Half the threads block (GetSessionAndUser), half do not (the async form),
// so either kind leads PostgreSQL's batches; each check still reads its own
// session and that session's user, or NotFound for a session that is not.
TEST_P(SessionStoreTest, ConcurrentChecksEachReadTheirOwnSessionAndUser) {
  constexpr int kUsers = 12, kThreads = 12, kChecksPerThread = 80;
  for (int i = 0; i < kUsers; ++i) {
    UserRecord user = MakeUser(absl::StrCat("user_", i), i);
    user.email_addresses = {MakeEmail(absl::StrCat("email_", i),
                                      absl::StrCat("u", i, "@example.com"))};
    ASSERT_THAT(Insert(user), IsOk());
    ASSERT_THAT(Put(MakeSession(absl::StrCat("sess_", i), user.id)), IsOk());
  }
  std::vector<std::thread> checkers;
  checkers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    checkers.emplace_back([&, t] {
      for (int k = 0; k < kChecksPerThread; ++k) {
        const int i = (t * 7 + k) % (kUsers + 1);  // kUsers: no such session.
        const std::string id = absl::StrCat("sess_", i);
        auto found = t % 2 == 0 ? store_->GetSessionAndUser(id) : GetAsync(id);
        if (i == kUsers) {
          EXPECT_THAT(found, StatusIs(absl::StatusCode::kNotFound));
          continue;
        }
        ASSERT_THAT(found, IsOk());
        EXPECT_EQ(found->session.id, id);
        EXPECT_EQ(found->user.id, absl::StrCat("user_", i));
        ASSERT_EQ(found->user.email_addresses.size(), 1u);
        EXPECT_EQ(found->user.email_addresses[0].email_address,
                  absl::StrCat("u", i, "@example.com"));
      }
    });
  }
  for (auto& checker : checkers) {
    checker.join();
  }
  if (postgres()) {
    const std::optional<ReadBatches> batches = SessionReadBatches(*store_);
    ASSERT_TRUE(batches.has_value());
    EXPECT_EQ(batches->reads, kThreads * kChecksPerThread);
    EXPECT_LT(batches->batches, batches->reads)
        << "no two checks shared a statement";
  }
}

}  // namespace
}  // namespace roster::storage

// PasswordService (user_passwords.cc): argon2id storage, attempts reserved
// against the lockout before the slow check, imported digests upgraded on
// success, and the lockout of identifiers no user holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/passwords.h"
#include "server/domain/sign_in.h"
#include "server/domain/user_service.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/domain/user_service_fixture.h"

namespace roster::domain {
namespace {

using ::roster::domain::fixtures::EventLines;
using ::roster::domain::fixtures::kCaller;
using ::roster::domain::fixtures::UserServiceTest;
using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

TEST_F(UserServiceTest, PasswordIsStoredOnlyAsArgon2idAndItsRulesApply) {
  CreateUserParams params;
  params.email_addresses = {"pw@example.com"};
  params.password = "PW@example.com";
  absl::Status matches = users_->users.CreateUser(kCaller, params).status();
  EXPECT_EQ(ReasonOf(matches), "PASSWORD_MATCHES_IDENTIFIER");
  params.password = "correct horse";
  UserView user = Create(params);
  EXPECT_TRUE(absl::StartsWith(user.record.password_hash, "$argon2id$"));
  ASSERT_OK_AND_ASSIGN(
      attempt, users_->passwords.BeginPasswordAttempt(kCaller, user.record.id));
  EXPECT_TRUE(VerifyPassword(attempt.password_hash, "correct horse"));
  EXPECT_THAT(users_->passwords.FinishPasswordAttempt(kCaller, user.record.id,
                                                      true, false),
              IsOk());
  ASSERT_OK_AND_ASSIGN(hashed, users_->passwords.HashPasswordForUser(
                                   user.record.id, "new secret!", false));
  UpdateUserParams update;
  update.user_id = user.record.id;
  update.password = "new secret!";
  update.password_hash = hashed;
  ASSERT_OK_AND_ASSIGN(updated, users_->users.UpdateUser(kCaller, update));
  EXPECT_TRUE(VerifyPassword(updated.record.password_hash, "new secret!"));
  EXPECT_EQ(
      users_->passwords.HashPasswordForUser(user.record.id, "short", false)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(UserServiceTest,
       AttemptsAreReservedBeforeTheCheckSoParallelGuessesCannotExceedTheLimit) {
  UserView user = Create({});
  const std::string& id = user.record.id;
  const size_t events_before = EventLines(*store_).size();
  int reserved = 0;
  int refused = 0;
  for (int i = 0; i < 12; ++i) {  // 12 guesses in flight at once.
    auto attempt = users_->passwords.BeginPasswordAttempt(kCaller, id);
    if (attempt.ok()) {
      ++reserved;
    } else {
      EXPECT_EQ(ReasonOf(attempt.status()), "USER_LOCKED");
      ++refused;
    }
  }
  EXPECT_EQ(reserved, 10);
  EXPECT_EQ(refused, 2);
  for (int i = 0; i < 10; ++i) {
    EXPECT_THAT(
        users_->passwords.FinishPasswordAttempt(kCaller, id, false, false),
        IsOk());
  }
  ASSERT_OK_AND_ASSIGN(locked, users_->users.GetUser(id));
  EXPECT_TRUE(locked.locked);
  EXPECT_EQ(locked.lockout_expires_in_seconds, 3600);
  EXPECT_EQ(EventLines(*store_).size(),
            events_before + 1);  // The lockout, once.
  EXPECT_EQ(
      ReasonOf(users_->passwords.BeginPasswordAttempt(kCaller, id).status()),
      "USER_LOCKED");
  clock_.Advance(absl::Hours(1));
  ASSERT_OK_AND_ASSIGN(fresh,
                       users_->passwords.BeginPasswordAttempt(kCaller, id));
  ASSERT_OK_AND_ASSIGN(after, users_->users.GetUser(id));
  EXPECT_EQ(after.verification_attempts_remaining,
            9);  // A fresh count, one reserved.
  ASSERT_OK_AND_ASSIGN(signed_in, users_->passwords.FinishPasswordAttempt(
                                      kCaller, id, true, true));
  EXPECT_EQ(signed_in.verification_attempts_remaining, 10);
  EXPECT_EQ(signed_in.record.last_sign_in_at, ToMicros(clock_.Now()));
  EXPECT_EQ(signed_in.etag,
            locked.etag);  // Sign-in bookkeeping is not a user change.
}

TEST_F(UserServiceTest, AnAttemptThatNeverFinishesLeavesALockoutThatRunsOut) {
  // A server killed mid-check never finishes its reservations.
  UserView user = Create({});
  const std::string& id = user.record.id;
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(users_->passwords.BeginPasswordAttempt(kCaller, id), IsOk());
  }
  ASSERT_OK_AND_ASSIGN(locked, users_->users.GetUser(id));
  EXPECT_TRUE(locked.locked);
  EXPECT_EQ(locked.lockout_expires_in_seconds, 3600);
  clock_.Advance(absl::Minutes(59));
  EXPECT_EQ(
      ReasonOf(users_->passwords.BeginPasswordAttempt(kCaller, id).status()),
      "USER_LOCKED");
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK_AND_ASSIGN(attempt,
                       users_->passwords.BeginPasswordAttempt(kCaller, id));
  ASSERT_OK_AND_ASSIGN(signed_in, users_->passwords.FinishPasswordAttempt(
                                      kCaller, id, true, true, attempt));
  EXPECT_FALSE(signed_in.locked);
  EXPECT_EQ(signed_in.verification_attempts_remaining, 10);
}

TEST_F(UserServiceTest, ARightPasswordOnTheLastAttemptLiftsOnlyItsOwnLockout) {
  UserView user = Create({});
  const std::string& id = user.record.id;
  for (int i = 0; i < 9; ++i) {
    ASSERT_OK_AND_ASSIGN(wrong,
                         users_->passwords.BeginPasswordAttempt(kCaller, id));
    ASSERT_THAT(users_->passwords.FinishPasswordAttempt(kCaller, id, false,
                                                        true, wrong),
                IsOk());
  }
  const size_t events_before = EventLines(*store_).size();
  ASSERT_OK_AND_ASSIGN(last,
                       users_->passwords.BeginPasswordAttempt(kCaller, id));
  ASSERT_OK_AND_ASSIGN(during, users_->users.GetUser(id));
  EXPECT_TRUE(during.locked);  // Locked while the last check runs.
  ASSERT_OK_AND_ASSIGN(right, users_->passwords.FinishPasswordAttempt(
                                  kCaller, id, true, true, last));
  EXPECT_FALSE(right.locked);
  EXPECT_EQ(right.verification_attempts_remaining, 10);
  EXPECT_EQ(EventLines(*store_).size(),
            events_before + 2);  // Locked, then lifted.

  // A lockout a backend set while the last check ran stays.
  for (int i = 0; i < 9; ++i) {
    ASSERT_OK_AND_ASSIGN(wrong,
                         users_->passwords.BeginPasswordAttempt(kCaller, id));
    ASSERT_THAT(users_->passwords.FinishPasswordAttempt(kCaller, id, false,
                                                        true, wrong),
                IsOk());
  }
  ASSERT_OK_AND_ASSIGN(again,
                       users_->passwords.BeginPasswordAttempt(kCaller, id));
  clock_.Advance(absl::Seconds(1));
  ASSERT_THAT(users_->users.LockUser(kCaller, id, ""), IsOk());
  ASSERT_OK_AND_ASSIGN(still, users_->passwords.FinishPasswordAttempt(
                                  kCaller, id, true, true, again));
  EXPECT_TRUE(still.locked);
}

TEST_F(UserServiceTest,
       AnImportedDigestIsUpgradedToArgon2idOnTheFirstSuccessfulCheck) {
  CreateUserParams params;
  params.password_digest =
      "7c6a180b36896a0a8c02787eeafb0e4c";  // md5("password1")
  params.password_hasher = "md5";
  UserView user = Create(params);
  EXPECT_EQ(user.record.password_hash, "md5$7c6a180b36896a0a8c02787eeafb0e4c");
  ASSERT_OK_AND_ASSIGN(
      wrong,
      CheckPasswordAttempt(*users_, kCaller, user.record.id, "nope", false));
  EXPECT_FALSE(wrong);
  ASSERT_OK_AND_ASSIGN(
      right, CheckPasswordAttempt(*users_, kCaller, user.record.id, "password1",
                                  true));
  EXPECT_TRUE(right);
  ASSERT_OK_AND_ASSIGN(after, users_->users.GetUser(user.record.id));
  EXPECT_TRUE(absl::StartsWith(after.record.password_hash,
                               "$argon2id$v=19$m=19456,t=3,p=1$"));
  EXPECT_EQ(after.etag,
            user.etag);  // A representation change, not a user change.
  ASSERT_OK_AND_ASSIGN(
      again, CheckPasswordAttempt(*users_, kCaller, user.record.id, "password1",
                                  true));
  EXPECT_TRUE(again);
  params.password = "and a password";
  EXPECT_THAT(users_->users.CreateUser(kCaller, params),
              StatusIs(absl::StatusCode::kInvalidArgument));
  CreateUserParams junk;
  junk.password_digest = "$2b$99$x";
  junk.password_hasher = "bcrypt";
  EXPECT_EQ(ReasonOf(users_->users.CreateUser(kCaller, junk).status()),
            "PASSWORD_DIGEST_INVALID");
}

TEST_F(UserServiceTest, EveryImportedDigestKindSignsInAndIsUpgradedToArgon2id) {
  // The independent vectors of tests/data/password_digests (see the README
  // there).
  std::ifstream in(std::string(ROSTER_TEST_DATA_DIR) +
                   "/password_digests/vectors.tsv");
  std::string line;
  std::getline(in, line);
  std::set<std::string> hashers;
  while (std::getline(in, line)) {
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    if (cols.size() != 4 || cols[3] != "true") {
      continue;
    }
    CreateUserParams params;
    params.password_hasher = cols[0];
    params.password_digest = cols[2];
    UserView user = Create(params);
    ASSERT_OK_AND_ASSIGN(wrong,
                         CheckPasswordAttempt(*users_, kCaller, user.record.id,
                                              cols[1] + "x", true));
    EXPECT_FALSE(wrong) << cols[0];
    ASSERT_OK_AND_ASSIGN(
        right,
        CheckPasswordAttempt(*users_, kCaller, user.record.id, cols[1], true));
    EXPECT_TRUE(right) << cols[0];
    ASSERT_OK_AND_ASSIGN(after, users_->users.GetUser(user.record.id));
    EXPECT_TRUE(absl::StartsWith(after.record.password_hash,
                                 "$argon2id$v=19$m=19456,t=3,p=1$"))
        << cols[0];
    hashers.insert(cols[0]);
  }
  EXPECT_EQ(hashers.size(), 10u);  // Every kind the issues list.
}

TEST_F(UserServiceTest, BannedUsersCannotAttemptAPassword) {
  UserView user = Create({});
  ASSERT_THAT(users_->users.SetBanned(kCaller, user.record.id, true, ""),
              IsOk());
  absl::Status banned =
      users_->passwords.BeginPasswordAttempt(kCaller, user.record.id).status();
  EXPECT_THAT(banned, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(ReasonOf(banned), "USER_BANNED");
}

// An identifier no user holds counts failures by the same rules as a user
// (CountUnknownIdentifierAttempt beside BeginPasswordAttempt): locked after
// the same failures, for the same time, and forgetting them after a quiet
// lockout duration.
TEST_F(UserServiceTest, AnIdentifierNoUserHoldsCountsFailuresAsAUserDoes) {
  const std::string id = Create({}).record.id;
  auto user_answer = [&] {
    auto attempt = users_->passwords.BeginPasswordAttempt(kCaller, id);
    if (attempt.ok()) {
      EXPECT_THAT(users_->passwords.FinishPasswordAttempt(kCaller, id, false,
                                                          true, *attempt),
                  IsOk());
    }
    return attempt.status();
  };
  auto unknown_answer = [&] {
    return users_->passwords.CountUnknownIdentifierAttempt(
        storage::IdentifierKind::kEmailAddress, "nobody@example.com");
  };
  auto both = [&] {
    const absl::Status user = user_answer();
    const absl::Status unknown = unknown_answer();
    EXPECT_EQ(user.code(), unknown.code());
    EXPECT_EQ(ReasonOf(user), ReasonOf(unknown));
    return ReasonOf(unknown);
  };
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(both(), "") << i;
  }
  EXPECT_EQ(both(), "USER_LOCKED");
  clock_.Advance(absl::Minutes(59));
  EXPECT_EQ(both(), "USER_LOCKED");
  clock_.Advance(absl::Minutes(1));
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(both(), "") << i;  // A fresh count after the lockout.
  }
  clock_.Advance(absl::Hours(1) + absl::Microseconds(1));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(both(), "") << i;  // Nine, then quiet: forgotten.
  }
  ASSERT_OK_AND_ASSIGN(user, users_->users.GetUser(id));
  EXPECT_EQ(user.verification_attempts_remaining, 8);
}

}  // namespace
}  // namespace roster::domain

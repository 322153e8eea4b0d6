// Verification codes and image recognition over a real SQLite file, with a
// fake clock so expiry can be reached without waiting ten minutes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/image_types.h"
#include "server/domain/user_service.h"
#include "server/domain/verification_codes.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/domain/user_service_fixture.h"

namespace roster::domain {
namespace {

using ::roster::domain::fixtures::kCaller;
using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

// A user with a second email address, unverified, to verify.
class UserVerificationTest : public fixtures::UserServiceTest {
 protected:
  UserVerificationTest() {
    CreateUserParams params;
    params.email_addresses = {"ada@example.com"};
    auto user = users_->users.CreateUser(kCaller, params);
    EXPECT_THAT(user, IsOk());
    user_id_ = user->record.id;
    CreateIdentifierParams add;
    add.user_id = user_id_;
    add.value = "second@example.com";
    auto added = users_->identifiers.CreateIdentifier(
        kCaller, IdentifierType::kEmailAddress, add);
    EXPECT_THAT(added, IsOk());
    email_id_ = added->identifier_id;
  }

  // Prepares a code and returns it as the email.created event carried it.
  std::string Prepare() {
    EXPECT_THAT(
        users_->identifiers.PrepareVerification(
            kCaller, IdentifierType::kEmailAddress, user_id_, email_id_),
        IsOk());
    storage::EventQuery query;
    query.types = {"email.created"};
    query.limit = 1000;
    auto batch = store_->ReadEvents(query);
    EXPECT_THAT(batch, IsOk());
    const std::vector<std::string> words =
        absl::StrSplit(batch->events.back().payload, ' ');
    return words.back();  // "email <address> code <code>"
  }

  absl::Status Attempt(const std::string& code) {
    return users_->identifiers
        .AttemptVerification(kCaller, IdentifierType::kEmailAddress, user_id_,
                             email_id_, code)
        .status();
  }

  storage::VerificationRecord Stored() {
    auto user = store_->GetUser(user_id_);
    EXPECT_THAT(user, IsOk());
    return user->email_addresses.back().verification;
  }

  std::string user_id_;
  std::string email_id_;
};

TEST_F(UserVerificationTest, TheCodeIsStoredOnlyAsASaltedDigest) {
  const std::string code = Prepare();
  const storage::VerificationRecord v = Stored();
  EXPECT_EQ(v.strategy, "email_code");
  EXPECT_EQ(v.expire_at, ToMicros(clock_.Now() + absl::Minutes(10)));
  EXPECT_FALSE(v.code_digest.empty());
  EXPECT_FALSE(absl::StrContains(v.code_digest, code));
  EXPECT_TRUE(VerificationCodeMatches(code, v.code_digest));
  // The same code digests differently each time (a fresh salt).
  EXPECT_NE(DigestVerificationCode(code), DigestVerificationCode(code));
}

TEST_F(UserVerificationTest, AnExpiredCodeIsRefusedAndMarkedExpired) {
  const std::string code = Prepare();
  clock_.Advance(absl::Minutes(10));
  absl::Status expired = Attempt(code);
  EXPECT_THAT(expired, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReasonOf(expired), reason::kVerificationExpired);
  const storage::VerificationRecord v = Stored();
  EXPECT_EQ(v.status, storage::VerificationStatus::kExpired);
  EXPECT_TRUE(v.code_digest.empty());
  EXPECT_EQ(ReasonOf(Attempt(code)), reason::kNoVerificationPending);
  // A fresh code, used in time, verifies.
  const std::string fresh = Prepare();
  clock_.Advance(absl::Minutes(10) - absl::Microseconds(1));
  EXPECT_THAT(Attempt(fresh), IsOk());
  EXPECT_EQ(Stored().status, storage::VerificationStatus::kVerified);
}

TEST_F(UserVerificationTest, WrongGuessesAreCountedEvenThoughTheyFail) {
  const std::string code = Prepare();
  const std::string wrong = code == "000000" ? "000001" : "000000";
  EXPECT_EQ(ReasonOf(Attempt(wrong)), reason::kVerificationFailed);
  EXPECT_EQ(Stored().attempts, 1);
  EXPECT_EQ(ReasonOf(Attempt(wrong)), reason::kVerificationFailed);
  EXPECT_EQ(ReasonOf(Attempt(wrong)), reason::kVerificationFailed);
  EXPECT_EQ(Stored().status, storage::VerificationStatus::kFailed);
  EXPECT_EQ(ReasonOf(Attempt(code)), reason::kTooManyAttempts);
}

TEST_F(UserVerificationTest, TheRateLimitWindowReopensAfterAnHour) {
  for (int i = 0; i < 5; ++i) {
    Prepare();
  }
  absl::Status limited =
      users_->identifiers
          .PrepareVerification(kCaller, IdentifierType::kEmailAddress, user_id_,
                               email_id_)
          .status();
  EXPECT_THAT(limited, StatusIs(absl::StatusCode::kResourceExhausted));
  clock_.Advance(absl::Hours(1) + absl::Seconds(1));
  EXPECT_THAT(Attempt(Prepare()), IsOk());
}

TEST(VerificationCodesTest, CodesAreSixDigitsAndSpreadOut) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string code = NewVerificationCode();
    EXPECT_TRUE(IsWellFormedVerificationCode(code)) << code;
    seen.insert(code);
  }
  EXPECT_GT(seen.size(), 190u);  // Collisions among 200 of 10^6 are rare.
  EXPECT_FALSE(IsWellFormedVerificationCode("12345"));
  EXPECT_FALSE(IsWellFormedVerificationCode("１２３４５６"));
  EXPECT_FALSE(VerificationCodeMatches("123456", "not a digest"));
}

TEST(ImageTypesTest, RecognisesEachFormatByItsMagicBytesOnly) {
  EXPECT_EQ(SniffImageType(std::string("\x89PNG\r\n\x1a\n....", 12)),
            "image/png");
  EXPECT_EQ(SniffImageType("\xff\xd8\xff\xe0 rest"), "image/jpeg");
  EXPECT_EQ(SniffImageType("GIF87a..."), "image/gif");
  EXPECT_EQ(SniffImageType("GIF89a..."), "image/gif");
  EXPECT_EQ(SniffImageType(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)),
            "image/webp");
  EXPECT_EQ(SniffImageType(std::string("RIFF\x10\0\0\0WAVEfmt ", 16)), "");
  EXPECT_EQ(SniffImageType("<svg xmlns='http://www.w3.org/2000/svg'/>"), "");
  EXPECT_EQ(SniffImageType("\x89PN"), "");
  EXPECT_EQ(SniffImageType(""), "");
}

}  // namespace
}  // namespace roster::domain

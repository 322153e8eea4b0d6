#include "server/domain/passwords.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "server/domain/errors.h"
#include "tests/testing/status_matchers.h"

namespace roster::domain {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

TEST(PasswordsTest, HashIsArgon2idAtOrAboveOwaspAndVerifiesOnlyThePassword) {
  auto hash = HashPassword("correct horse battery");
  ASSERT_THAT(hash, IsOk());
  EXPECT_TRUE(absl::StartsWith(*hash, "$argon2id$v=19$m=19456,t=3,p=1$"))
      << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse battery"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse batterY"));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_NE(*hash, *HashPassword("correct horse battery"));  // Salted.
  EXPECT_FALSE(VerifyPassword("not a hash", "x"));
}

TEST(PasswordsTest, RulesForANewPassword) {
  const std::vector<std::string> identifiers = {"ada@example.com",
                                                "+14155550100", "ada_l"};
  EXPECT_THAT(CheckNewPassword("12345678", false, identifiers), IsOk());
  EXPECT_THAT(CheckNewPassword(std::string(256, 'p'), false, identifiers),
              IsOk());
  struct Case {
    std::string password;
    bool skip;
    const char* reason;
  };
  const Case cases[] = {
      {"1234567", false, reason::kPasswordTooShort},
      {"", true, reason::kPasswordTooShort},
      {std::string(257, 'p'), false, reason::kPasswordTooLong},
      {std::string(257, 'p'), true, reason::kPasswordTooLong},
      {"ADA@example.com", false, reason::kPasswordMatchesIdentifier},
      {"+14155550100", false, reason::kPasswordMatchesIdentifier},
      {"Ada_L", false, nullptr},  // 5 bytes: too short comes first.
  };
  for (const auto& c : cases) {
    absl::Status status = CheckNewPassword(c.password, c.skip, identifiers);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument))
        << c.password;
    if (c.reason != nullptr) {
      EXPECT_EQ(ReasonOf(status), c.reason) << c.password;
    }
    EXPECT_FALSE(c.password.size() > 3 &&
                 absl::StrContains(status.message(), c.password));
    ASSERT_EQ(FieldViolationsOf(status).size(), 1u);
    EXPECT_EQ(FieldViolationsOf(status)[0].field, "password");
  }
  EXPECT_THAT(CheckNewPassword("ADA@example.com", true, identifiers), IsOk());
  EXPECT_THAT(CheckNewPassword("short", true, identifiers), IsOk());
}

}  // namespace
}  // namespace roster::domain

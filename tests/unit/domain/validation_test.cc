#include "server/domain/validation.h"

#include <gtest/gtest.h>

#include "server/domain/sign_in.h"
#include "tests/testing/status_matchers.h"

namespace roster::domain {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

struct NormalizeCase {
  std::string input;
  std::string expected;  // Empty: must be rejected.
};

// Each case normalises to `expected`, or is INVALID_ARGUMENT when that is
// empty.
template <typename Normalize, size_t N>
void ExpectNormalizes(Normalize normalize, const NormalizeCase (&cases)[N]) {
  for (const auto& c : cases) {
    absl::StatusOr<std::string> result = normalize(c.input);
    if (c.expected.empty()) {
      EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument))
          << c.input;
    } else {
      ASSERT_THAT(result, IsOk()) << c.input;
      EXPECT_EQ(*result, c.expected);
    }
  }
}

TEST(NormalizeEmailAddressTest, TrimsLowerCasesAndValidates) {
  const NormalizeCase cases[] = {
      {"ada@example.com", "ada@example.com"},
      {"  Ada.Lovelace@Example.COM \t", "ada.lovelace@example.com"},
      {"first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"},
      {"o'brien@example.ie", "o'brien@example.ie"},
      {"x@a-b.io", "x@a-b.io"},
      {"", ""},
      {"   ", ""},
      {"no-at-sign", ""},
      {"@example.com", ""},
      {"ada@", ""},
      {"ada@localhost", ""},
      {"ada@@example.com", ""},
      {".ada@example.com", ""},
      {"ada.@example.com", ""},
      {"a..da@example.com", ""},
      {"ada lovelace@example.com", ""},
      {"ada@-example.com", ""},
      {"ada@example-.com", ""},
      {"ada@exa_mple.com", ""},
      {"ada@example..com", ""},
      {"adä@example.com", ""},
      {"ada@exämple.com", ""},
      {"\"quoted\"@example.com", ""},
      {std::string(65, 'a') + "@example.com", ""},
      {std::string(64, 'a') + "@example.com",
       std::string(64, 'a') + "@example.com"},
      {"a@" + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
           std::string(63, 'd') + "." + std::string(60, 'e'),
       "a@" + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
           std::string(63, 'd') + "." +
           std::string(60, 'e')},  // 254 bytes: the limit.
      {"a@" + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
           std::string(63, 'd') + "." + std::string(61, 'e'),
       ""},  // 255 bytes: one over.
  };
  ExpectNormalizes(NormalizeEmailAddress, cases);
}

TEST(NormalizePhoneNumberTest, AcceptsE164AfterRemovingSeparators) {
  const NormalizeCase cases[] = {
      {"+14155550100", "+14155550100"},
      {" +1 (415) 555-0100 ", "+14155550100"},
      {"+44.20.7946.0958", "+442079460958"},
      {"+12345678", "+12345678"},                // 8 digits: the minimum.
      {"+123456789012345", "+123456789012345"},  // 15 digits: the maximum.
      {"+1234567", ""},                          // 7 digits.
      {"+1234567890123456", ""},                 // 16 digits.
      {"14155550100", ""},
      {"+04155550100", ""},
      {"+1415555O100", ""},
      {"++14155550100", ""},
      {"", ""},
  };
  ExpectNormalizes(NormalizePhoneNumber, cases);
}

TEST(NormalizeUsernameTest,
     LowerCasesAndEnforcesLengthCharactersAndNotAllDigits) {
  const NormalizeCase cases[] = {
      {"ada", ""},
      {"adal", "adal"},
      {"Ada_Lovelace-1815", "ada_lovelace-1815"},
      {std::string(64, 'a'), std::string(64, 'a')},
      {std::string(65, 'a'), ""},
      {"1815", ""},
      {"18150", ""},
      {"1815a", "1815a"},
      {"ada.lovelace", ""},
      {"ada lovelace", ""},
      {"adä1", ""},
  };
  ExpectNormalizes(NormalizeUsername, cases);
}

TEST(NormalizeLocaleTest, AcceptsWellFormedBcp47InCanonicalCase) {
  const NormalizeCase cases[] = {
      {"en", "en"},
      {"EN", "en"},
      {"pt-br", "pt-BR"},
      {"zh-hant-tw", "zh-Hant-TW"},
      {"sr-latn-rs", "sr-Latn-RS"},
      {"es-419", "es-419"},
      {"de-CH-1996", "de-CH-1996"},
      {"sl-rozaj-biske", "sl-rozaj-biske"},
      {"zh-yue-HK", "zh-yue-HK"},
      {"en-US-u-ca-gregory", "en-US-u-ca-gregory"},
      {"en-a-bbb-x-a-ccc", "en-a-bbb-x-a-ccc"},
      {"de-x-private", "de-x-private"},
      {"", ""},
      {"e", ""},
      {"en_US", ""},
      {"en-", ""},
      {"-en", ""},
      {"en--US", ""},
      {"toolonglanguage", ""},
      {"english-language", "english-language"},  // A language and a variant.
      {"en-usa", "en-usa"},                      // A language and an extlang.
      {"en-US-USA", ""},
      {"en-12", ""},
      {"x-private", ""},
      {"en-a", ""},
      {"en-a-bb-a-cc", ""},
      {"en-x", ""},
      {"en-US-u-toolongsubtag", ""},
      {"en-Latn-Latn", ""},
      {"ça", ""},
      {"en-" + std::string(61, 'a'), ""},
  };
  ExpectNormalizes(NormalizeLocale, cases);
}

TEST(ValidateTextTest, EnforcesUtf8NoControlCharactersAndByteLimit) {
  EXPECT_THAT(ValidateText("Ada", kMaxNameBytes), IsOk());
  EXPECT_THAT(ValidateText("Zoë 李 🚀", kMaxNameBytes), IsOk());
  EXPECT_THAT(ValidateText(std::string(256, 'a'), kMaxNameBytes), IsOk());
  EXPECT_THAT(ValidateText(std::string(257, 'a'), kMaxNameBytes),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateText("a\nb", kMaxNameBytes),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateText(std::string("a\0b", 3), kMaxNameBytes),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateText("\xff", kMaxNameBytes),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IsValidUtf8Test, RejectsMalformedSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));           // é
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x9a\x80"));   // U+1F680
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // Surrogate U+D800.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // Above U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\x80"));              // Lone continuation byte.
}

TEST(ValidateRequestIdTest, AcceptsUuidsAndRejectsOthers) {
  EXPECT_THAT(ValidateRequestId("6f1c2a4e-9b7d-4c1e-8f2a-1b2c3d4e5f60"),
              IsOk());
  EXPECT_THAT(ValidateRequestId("import:batch-7.item_3"), IsOk());
  EXPECT_THAT(ValidateRequestId(std::string(128, 'a')), IsOk());
  EXPECT_THAT(ValidateRequestId(std::string(129, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateRequestId("has space"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateRequestId(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A sign-in attempt keeps the normalised identifier and reads its kind from it
// again, so parsing must be a fixed point that keeps the kind.
TEST(ParseSignInIdentifierTest, KindsAndAFixedPoint) {
  using Kind = storage::IdentifierKind;
  const struct {
    const char* input;
    Kind kind;
    const char* value;
  } cases[] = {
      {" Ann@Example.COM ", Kind::kEmailAddress, "ann@example.com"},
      {"+1 (555) 555-0100", Kind::kPhoneNumber, "+15555550100"},
      {"ann_b", Kind::kUsername, "ann_b"},
      {"1st_user", Kind::kUsername, "1st_user"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseSignInIdentifier(c.input);
    ASSERT_THAT(parsed, IsOk()) << c.input;
    EXPECT_EQ(parsed->kind, c.kind) << c.input;
    EXPECT_EQ(parsed->value, c.value) << c.input;
    auto again = ParseSignInIdentifier(parsed->value);
    ASSERT_THAT(again, IsOk()) << c.input;
    EXPECT_EQ(again->kind, parsed->kind) << c.input;
    EXPECT_EQ(again->value, parsed->value) << c.input;
  }
  EXPECT_FALSE(ParseSignInIdentifier("").ok());
  EXPECT_FALSE(ParseSignInIdentifier("no spaces allowed").ok());
}

}  // namespace
}  // namespace roster::domain

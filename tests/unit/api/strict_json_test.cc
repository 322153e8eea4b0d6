// QuotedBoolField on the API's own request types: a bool given as a string
// is found wherever it sits (top level, in a repeated message), and bools
// given as true, false or null, unknown members, metadata and string fields
// that read "true" pass.
#include "server/web/strict_json.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "roster/v1/backend_users.pb.h"
#include "roster/v1/frontend_users.pb.h"

namespace roster::web {
namespace {

template <typename Message>
std::optional<std::string> Quoted(const std::string& json) {
  return QuotedBoolField(*Message::descriptor(), json);
}

TEST(StrictJsonTest, FindsABoolGivenAsAStringWhereverItSits) {
  using v1::CreateSignUpRequest;
  for (const char* spelled :
       {R"("true")", R"("y")", R"("yes")", R"("1")", R"("false")", R"("no")"}) {
    EXPECT_EQ(Quoted<CreateSignUpRequest>(
                  absl::StrCat(R"({"legalAccepted":)", spelled, "}")),
              "legal_accepted")
        << spelled;
  }
  // In any case, and spelled with escapes, as the parser reads them.
  for (const char* spelled :
       {R"("TRUE")", R"("No")", R"("\u0079es")", R"("\u0031")"}) {
    EXPECT_EQ(Quoted<CreateSignUpRequest>(
                  absl::StrCat(R"({"legalAccepted":)", spelled, "}")),
              "legal_accepted")
        << spelled;
  }
  // In single quotes, which the parser takes too, and unquoted keys.
  for (const char* body :
       {R"({'legalAccepted':'yes'})", R"({legalAccepted:'t'})",
        R"({"firstName":"it's","legalAccepted":'1'})",
        R"({"firstName":'say "no"','legalAccepted':"true"})"}) {
    EXPECT_EQ(Quoted<CreateSignUpRequest>(body), "legal_accepted") << body;
  }
  // After a string whose escapes end in a quote and a backslash.
  EXPECT_EQ(Quoted<CreateSignUpRequest>(
                R"({"firstName":"a\"b\\","legalAccepted":"yes"})"),
            "legal_accepted");
  // The proto name is accepted as a key, so it is checked too.
  EXPECT_EQ(Quoted<CreateSignUpRequest>(R"({"legal_accepted":"yes"})"),
            "legal_accepted");
  EXPECT_EQ(Quoted<v1::ImportUsersRequest>(
                R"({"users":[{"skipPasswordChecks":true},)"
                R"({"firstName":"Ann","skipPasswordChecks":"y"}]})"),
            "users[1].skip_password_checks");
}

TEST(StrictJsonTest, PassesRealBoolsNullsUnknownMembersAndOtherStrings) {
  using v1::CreateSignUpRequest;
  EXPECT_EQ(Quoted<CreateSignUpRequest>(R"({"legalAccepted":true})"),
            std::nullopt);
  EXPECT_EQ(Quoted<CreateSignUpRequest>(R"({"legalAccepted":false})"),
            std::nullopt);
  EXPECT_EQ(Quoted<CreateSignUpRequest>(R"({"legalAccepted":null})"),
            std::nullopt);
  EXPECT_EQ(Quoted<CreateSignUpRequest>(
                R"({"emailAddress":"a@example.com","unknown":"yes"})"),
            std::nullopt);
  EXPECT_EQ(Quoted<v1::ImportUsersRequest>(
                R"({"users":[{"unsafeMetadata":{"agreed":"yes"}}]})"),
            std::nullopt);
  // Strings that only look like a word, or hold one, are no bool.
  EXPECT_EQ(
      Quoted<CreateSignUpRequest>(
          R"({"firstName":"true ","lastName":"yes\\","legalAccepted":true})"),
      std::nullopt);
  // A string field may read "true": only bool fields are held to bools.
  EXPECT_EQ(Quoted<CreateSignUpRequest>(R"({"firstName":"true"})"),
            std::nullopt);
}

}  // namespace
}  // namespace roster::web

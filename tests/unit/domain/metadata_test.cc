#include "server/domain/metadata.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/testing/status_matchers.h"

namespace roster::domain {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

struct MergeCase {
  const char* target;
  const char* patch;
  const char* expected;
};

// RFC 7396 Appendix A, every example.
constexpr MergeCase kRfc7396AppendixA[] = {
    {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
    {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
    {R"({"a":"b"})", R"({"a":null})", R"({})"},
    {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
    {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
    {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
    {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
    {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
    {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
    {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
    {R"({"a":"foo"})", R"(null)", R"(null)"},
    {R"({"a":"foo"})", R"("bar")", R"("bar")"},
    {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
    {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
    {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
};

class MergePatchAppendixATest : public ::testing::TestWithParam<MergeCase> {};

TEST_P(MergePatchAppendixATest, ProducesTheRfcResult) {
  const MergeCase& c = GetParam();
  auto merged = ApplyMergePatch(c.target, c.patch);
  ASSERT_THAT(merged, IsOk());
  EXPECT_EQ(nlohmann::json::parse(*merged), nlohmann::json::parse(c.expected))
      << c.target << " + " << c.patch << " gave " << *merged;
}

INSTANTIATE_TEST_SUITE_P(Rfc7396, MergePatchAppendixATest,
                         ::testing::ValuesIn(kRfc7396AppendixA));

TEST(MergePatchTest, InvalidJsonIsInvalidArgument) {
  EXPECT_THAT(ApplyMergePatch("{", "{}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ApplyMergePatch("{}", "{'a':1}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CompactJsonObjectTest, CompactsObjectsAndRejectsEverythingElse) {
  auto compact =
      CompactJsonObject("{ \"b\" : [1, 2.5, true],\n \"a\": {\"x\": null} }");
  ASSERT_THAT(compact, IsOk());
  EXPECT_EQ(*compact, R"({"a":{"x":null},"b":[1,2.5,true]})");
  EXPECT_EQ(*CompactJsonObject(R"({"name":"Zoë"})"), R"({"name":"Zoë"})");
  for (const char* not_object :
       {"[]", "1", "\"s\"", "null", "", "{", "{\"a\":\"\xff\"}"}) {
    EXPECT_THAT(CompactJsonObject(not_object),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << not_object;
  }
}

// PostgreSQL cannot take U+0000 in JSON it reads; neither adapter stores it.
TEST(CompactJsonObjectTest, RefusesNulAnywhereInKeysStringsAndArrays) {
  for (const char* with_nul :
       {R"({"a":"x\u0000y"})", R"({"a\u0000":1})", R"({"a":["ok","\u0000"]})",
        R"({"a":{"b":{"c":"\u0000"}}})"}) {
    EXPECT_THAT(CompactJsonObject(with_nul),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << with_nul;
    EXPECT_THAT(ApplyMergePatch("{}", with_nul),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << with_nul;
  }
  // A backslash followed by "u0000" as text is not a NUL.
  EXPECT_THAT(CompactJsonObject(R"({"a":"\\u0000"})"), IsOk());
}

}  // namespace
}  // namespace roster::domain

// JsonToStruct turns stored metadata into google.protobuf.Struct on every
// read: every JSON type, nesting, and what it does with text that is not an
// object.
#include "server/api/struct_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"

namespace roster::api {
namespace {

// The reference conversion: protobuf's own JSON parser.
google::protobuf::Struct ParsedByProtobuf(const std::string& json) {
  google::protobuf::Struct expected;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &expected).ok())
      << json;
  return expected;
}

TEST(JsonToStructTest, MatchesProtobufsParserOnEveryJsonType) {
  for (const std::string& json : std::vector<std::string>{
           R"({})",
           R"({"plan":"pro"})",
           std::string(R"({"a":null,"b":true,"c":false,"d":-12,)") +
               R"("e":18446744073709551615,"f":1234567.125,)" +
               R"("g":"caf\u00e9 \"q\""})",
           R"({"nested":{"deeper":{"list":[1,"two",[3,{"four":4}],null]}}})",
           R"({"empty_object":{},"empty_list":[],"last":[{}]})",
       }) {
    google::protobuf::Struct converted;
    JsonToStruct(json, converted);
    EXPECT_EQ(converted.DebugString(), ParsedByProtobuf(json).DebugString())
        << json;
  }
}

TEST(JsonToStructTest, AnythingButAnObjectBecomesEmpty) {
  for (const std::string json :
       {"", "[1,2]", "\"text\"", "42", "{\"a\":", "{\"a\":1}}", "nul"}) {
    google::protobuf::Struct converted;
    (*converted.mutable_fields())["stale"].set_bool_value(true);
    JsonToStruct(json, converted);
    EXPECT_EQ(converted.fields_size(), 0) << json;
  }
}

}  // namespace
}  // namespace roster::api

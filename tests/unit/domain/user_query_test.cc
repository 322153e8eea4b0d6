#include "server/domain/user_query.h"

#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace roster::domain {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;
using storage::UserOrderKey;

TEST(ParseOrderByTest, DefaultsToNewestFirstAndAcceptsEveryKeyBothWays) {
  ASSERT_OK_AND_ASSIGN(by_default, ParseOrderBy(""));
  EXPECT_EQ(by_default.key, UserOrderKey::kCreatedAt);
  EXPECT_TRUE(by_default.descending);
  for (const char* key : {"created_at", "updated_at", "last_sign_in_at",
                          "last_active_at", "username", "first_name",
                          "last_name", "email_address", "phone_number"}) {
    ASSERT_OK_AND_ASSIGN(ascending, ParseOrderBy(key));
    EXPECT_FALSE(ascending.descending);
    ASSERT_OK_AND_ASSIGN(plus, ParseOrderBy(std::string("+") + key));
    EXPECT_FALSE(plus.descending);
    ASSERT_OK_AND_ASSIGN(descending, ParseOrderBy(std::string("-") + key));
    EXPECT_TRUE(descending.descending);
    EXPECT_EQ(ascending.key, descending.key);
  }
  for (const char* bad :
       {"-", "created", "--created_at", "Created_At", "id", " username"}) {
    EXPECT_THAT(ParseOrderBy(bad), StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(PageTokenTest, RoundTripsTextAndTimeCursors) {
  const std::string id = "user_" + std::string(27, 'a');
  const storage::UserOrder by_name{UserOrderKey::kFirstName, false};
  const std::string fp = QueryFingerprint({}, by_name);
  storage::UserCursor text{std::string("O'Brien|x"), id};
  ASSERT_OK_AND_ASSIGN(
      decoded,
      DecodePageToken(EncodePageToken(fp, by_name, text), fp, by_name));
  EXPECT_EQ(std::get<std::string>(decoded.sort_value), "O'Brien|x");
  EXPECT_EQ(decoded.id, id);

  const storage::UserOrder by_time{UserOrderKey::kCreatedAt, true};
  const std::string fp_time = QueryFingerprint({}, by_time);
  storage::UserCursor time{int64_t{-5}, id};
  ASSERT_OK_AND_ASSIGN(decoded_time,
                       DecodePageToken(EncodePageToken(fp_time, by_time, time),
                                       fp_time, by_time));
  EXPECT_EQ(std::get<int64_t>(decoded_time.sort_value), -5);
}

TEST(PageTokenTest, TokenOfAnotherQueryOrGarbageIsInvalidArgument) {
  const std::string id = "user_" + std::string(27, 'a');
  const storage::UserOrder order{UserOrderKey::kCreatedAt, true};
  storage::UserFilter filter;
  filter.banned = true;
  const std::string token =
      EncodePageToken(QueryFingerprint(filter, order), order, {int64_t{1}, id});
  storage::UserFilter other = filter;
  other.banned = false;
  EXPECT_THAT(DecodePageToken(token, QueryFingerprint(other, order), order),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const storage::UserOrder ascending{UserOrderKey::kCreatedAt, false};
  EXPECT_THAT(
      DecodePageToken(token, QueryFingerprint(filter, ascending), ascending),
      StatusIs(absl::StatusCode::kInvalidArgument));
  for (const char* garbage : {"x", "!!!!", "MXx4fHg", ""}) {
    EXPECT_THAT(
        DecodePageToken(garbage, QueryFingerprint(filter, order), order),
        StatusIs(absl::StatusCode::kInvalidArgument))
        << garbage;
  }
}

TEST(NormalizeUserFilterTest, NormalisesValuesAndReportsEachInvalidOne) {
  storage::UserFilter filter;
  filter.email_addresses = {" Ada@Example.com", "not-an-email"};
  filter.usernames = {"ADA_L"};
  filter.user_ids = {"user_123"};
  filter.metadata_filters.push_back(
      {storage::MetadataTier::kPublic, {"plan", ""}, {}});
  Violations violations;
  NormalizeUserFilter(filter, violations);
  EXPECT_EQ(filter.email_addresses[0], "ada@example.com");
  EXPECT_EQ(filter.usernames[0], "ada_l");
  absl::Status status = violations.ToStatus();
  ASSERT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<std::string> fields;
  for (const auto& v : FieldViolationsOf(status)) {
    fields.push_back(v.field);
  }
  EXPECT_EQ(fields,
            (std::vector<std::string>{"email_addresses[1]", "user_ids[0]",
                                      "metadata_filters[0].path"}));
}

TEST(NormalizeUserFilterTest, MoreThanAHundredValuesIsInvalid) {
  storage::UserFilter filter;
  filter.external_ids.assign(101, "x");
  Violations violations;
  NormalizeUserFilter(filter, violations);
  EXPECT_FALSE(violations.empty());
  filter.external_ids.assign(100, "x");
  Violations none;
  NormalizeUserFilter(filter, none);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace roster::domain

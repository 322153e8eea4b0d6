// ListUsers and CountUsers end to end: every filter, every order, both paging
// styles.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

google::protobuf::Timestamp Year(int year) {
  google::protobuf::Timestamp t;
  t.set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilYear(year), absl::UTCTimeZone())));
  return t;
}

google::protobuf::Value StringValue(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}
google::protobuf::Value NumberValue(double d) {
  google::protobuf::Value v;
  v.set_number_value(d);
  return v;
}
google::protobuf::Value BoolValue(bool b) {
  google::protobuf::Value v;
  v.set_bool_value(b);
  return v;
}
google::protobuf::Value NullValue() {
  google::protobuf::Value v;
  v.set_null_value(google::protobuf::NULL_VALUE);
  return v;
}

// Five users with distinct fields, created in years 2020..2024.
class ListUsersFiltersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Add(2020, {"ada@example.com", "ada@work.io"}, {"+14155550100"}, "ada_l",
        "Ada", "Lovelace", "crm-1", R"({"plan":"pro","team":{"size":5}})",
        R"({"tier":"gold"})", "{}");
    Add(2021, {"bob@example.com"}, {}, "bob_b", "Bob", "Builder", "crm-2",
        R"({"plan":"free"})", "{}", R"({"beta":true})");
    Add(2022, {"carol@sample.org"}, {"+442079460958"}, "", "Carol", "Lovelace",
        "", R"({"plan":"pro","score":4.5})", "{}", "{}");
    Add(2023, {}, {"+14155550199"}, "zed_z", "", "", "", R"({"plan":null})",
        "{}", "{}");
    Add(2024, {"dave@example.com"}, {}, "", "Dave", "", "", "{}", "{}", "{}");
    BanUserRequest ban;
    ban.set_user_id(ids_[2]);
    User banned;
    ASSERT_TRUE(stub_->BanUser(Authed().get(), ban, &banned).ok());
  }

  void Add(int year, const std::vector<std::string>& emails,
           const std::vector<std::string>& phones, const std::string& username,
           const std::string& first, const std::string& last,
           const std::string& external_id, const std::string& public_json,
           const std::string& private_json, const std::string& unsafe_json) {
    CreateUserRequest create;
    for (const auto& e : emails) {
      create.add_email_addresses(e);
    }
    for (const auto& p : phones) {
      create.add_phone_numbers(p);
    }
    if (!username.empty()) {
      create.set_username(username);
    }
    if (!first.empty()) {
      create.set_first_name(first);
    }
    if (!last.empty()) {
      create.set_last_name(last);
    }
    if (!external_id.empty()) {
      create.set_external_id(external_id);
    }
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    public_json, create.mutable_public_metadata())
                    .ok());
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    private_json, create.mutable_private_metadata())
                    .ok());
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    unsafe_json, create.mutable_unsafe_metadata())
                    .ok());
    *create.mutable_created_at() = Year(year);
    User user;
    grpc::Status status = stub_->CreateUser(Authed().get(), create, &user);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ids_.push_back(user.id());
    users_.push_back(user);
  }

  // Indexes (into ids_) of the users `request` lists; also checks CountUsers
  // agrees.
  std::vector<int> Matching(ListUsersRequest request) {
    request.set_limit(500);
    ListUsersResponse response;
    grpc::Status status = stub_->ListUsers(Authed().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<int> found;
    for (const auto& user : response.users()) {
      found.push_back(static_cast<int>(
          std::find(ids_.begin(), ids_.end(), user.id()) - ids_.begin()));
    }
    std::sort(found.begin(), found.end());
    EXPECT_EQ(response.total_count(), static_cast<int64_t>(found.size()));
    CountUsersRequest count_request;
    std::string bytes = request.SerializeAsString();
    // CountUsersRequest shares field numbers 1-18 with ListUsersRequest.
    EXPECT_TRUE(count_request.ParseFromString(bytes));
    CountUsersResponse count;
    EXPECT_TRUE(stub_->CountUsers(Authed().get(), count_request, &count).ok());
    EXPECT_EQ(count.total_count(), static_cast<int64_t>(found.size()));
    return found;
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
  std::vector<std::string> ids_;
  std::vector<User> users_;
};

TEST_F(ListUsersFiltersTest, IdentifierFiltersMatchAnyOfTheirValues) {
  ListUsersRequest r;
  r.add_email_addresses("ada@work.io");
  EXPECT_THAT(Matching(r), ElementsAre(0));
  r.Clear();
  r.add_email_addresses("BOB@example.com");
  r.add_email_addresses(" carol@sample.org");
  EXPECT_THAT(Matching(r), ElementsAre(1, 2));
  r.Clear();
  r.add_phone_numbers("+1 415 555 0100");
  EXPECT_THAT(Matching(r), ElementsAre(0));
  r.Clear();
  r.add_usernames("BOB_B");
  r.add_usernames("zed_z");
  EXPECT_THAT(Matching(r), ElementsAre(1, 3));
  r.Clear();
  r.add_external_ids("crm-2");
  EXPECT_THAT(Matching(r), ElementsAre(1));
  r.Clear();
  r.add_user_ids(ids_[4]);
  r.add_user_ids(ids_[0]);
  EXPECT_THAT(Matching(r), ElementsAre(0, 4));
  r.Clear();
  r.add_email_addresses("nobody@example.com");
  EXPECT_THAT(Matching(r), ElementsAre());
}

TEST_F(ListUsersFiltersTest, SubstringQueriesAreCaseInsensitive) {
  ListUsersRequest r;
  r.set_query("LOVELACE");
  EXPECT_THAT(Matching(r), ElementsAre(0, 2));
  r.set_query("example.com");
  EXPECT_THAT(Matching(r), ElementsAre(0, 1, 4));
  r.set_query("415555");
  EXPECT_THAT(Matching(r), ElementsAre(0, 3));
  r.set_query(ids_[1].substr(5, 20));
  EXPECT_THAT(Matching(r), ElementsAre(1));
  // Not plain "zed": ids are random base62, so about one run in 300 another
  // user's id holds it case-insensitively. No id holds an underscore.
  r.set_query("zed_z");
  EXPECT_THAT(Matching(r), ElementsAre(3));
  r.set_query("100%_");  // LIKE wildcards are literal.
  EXPECT_THAT(Matching(r), ElementsAre());
  r.Clear();
  r.set_email_address_query("EXAMPLE");
  EXPECT_THAT(Matching(r), ElementsAre(0, 1, 4));
  r.Clear();
  r.set_phone_number_query("+44");
  EXPECT_THAT(Matching(r), ElementsAre(2));
  r.Clear();
  r.set_username_query("_B");
  EXPECT_THAT(Matching(r), ElementsAre(1));
  r.Clear();
  r.set_name_query("ada love");
  EXPECT_THAT(Matching(r), ElementsAre(0));
  r.set_name_query("love");
  EXPECT_THAT(Matching(r), ElementsAre(0, 2));
}

TEST_F(ListUsersFiltersTest, BannedAndTimeRangeFilters) {
  ListUsersRequest r;
  r.set_banned(true);
  EXPECT_THAT(Matching(r), ElementsAre(2));
  r.set_banned(false);
  EXPECT_THAT(Matching(r), ElementsAre(0, 1, 3, 4));
  r.Clear();
  *r.mutable_created_at_after() =
      Year(2021);  // Strictly after 2021-01-01T00:00:00Z.
  EXPECT_THAT(Matching(r), ElementsAre(2, 3, 4));
  *r.mutable_created_at_before() = Year(2024);
  EXPECT_THAT(Matching(r), ElementsAre(2, 3));
  r.Clear();
  *r.mutable_created_at_before() = Year(2021);
  EXPECT_THAT(Matching(r), ElementsAre(0));
  // Nobody has signed in or been active yet: those ranges match no one.
  r.Clear();
  *r.mutable_last_sign_in_at_after() = Year(1971);
  EXPECT_THAT(Matching(r), ElementsAre());
  r.Clear();
  *r.mutable_last_sign_in_at_before() = Year(9000);
  EXPECT_THAT(Matching(r), ElementsAre());
  r.Clear();
  *r.mutable_last_active_at_after() = Year(1971);
  EXPECT_THAT(Matching(r), ElementsAre());
  r.Clear();
  *r.mutable_last_active_at_before() = Year(9000);
  EXPECT_THAT(Matching(r), ElementsAre());
}

TEST_F(ListUsersFiltersTest, MetadataFiltersCompareValueAndTypeWithinOneTier) {
  auto with = [](MetadataFilter::Tier tier, const std::string& path,
                 const google::protobuf::Value& value) {
    ListUsersRequest r;
    auto* f = r.add_metadata_filters();
    f->set_tier(tier);
    f->set_path(path);
    *f->mutable_value() = value;
    return r;
  };
  EXPECT_THAT(
      Matching(with(MetadataFilter::TIER_PUBLIC, "plan", StringValue("pro"))),
      ElementsAre(0, 2));
  EXPECT_THAT(
      Matching(with(MetadataFilter::TIER_PUBLIC, "team.size", NumberValue(5))),
      ElementsAre(0));
  EXPECT_THAT(
      Matching(with(MetadataFilter::TIER_PUBLIC, "score", NumberValue(4.5))),
      ElementsAre(2));
  EXPECT_THAT(Matching(with(MetadataFilter::TIER_PUBLIC, "plan", NullValue())),
              ElementsAre(3));
  EXPECT_THAT(
      Matching(with(MetadataFilter::TIER_UNSAFE, "beta", BoolValue(true))),
      ElementsAre(1));
  EXPECT_THAT(
      Matching(with(MetadataFilter::TIER_UNSAFE, "beta", BoolValue(false))),
      ElementsAre());
  EXPECT_THAT(
      Matching(with(MetadataFilter::TIER_PRIVATE, "tier", StringValue("gold"))),
      ElementsAre(0));
  EXPECT_THAT(
      Matching(with(MetadataFilter::TIER_PUBLIC, "tier", StringValue("gold"))),
      ElementsAre());
  EXPECT_THAT(Matching(with(MetadataFilter::TIER_PUBLIC, "team.size",
                            StringValue("5"))),
              ElementsAre());
}

TEST_F(ListUsersFiltersTest, FiltersCombineWithAnd) {
  ListUsersRequest r;
  r.set_email_address_query("example");
  r.set_banned(false);
  auto* f = r.add_metadata_filters();
  f->set_tier(MetadataFilter::TIER_PUBLIC);
  f->set_path("plan");
  *f->mutable_value() = StringValue("pro");
  EXPECT_THAT(Matching(r), ElementsAre(0));
}

// The value `order` sorts by, as the API documents it (unset values lowest).
std::string SortKey(const User& u, const std::string& key) {
  auto micros = [](const google::protobuf::Timestamp& t) {
    return absl::StrFormat("%020d", t.seconds() * 1'000'000 + t.nanos() / 1000);
  };
  if (key == "created_at") {
    return micros(u.created_at());
  }
  if (key == "updated_at") {
    return micros(u.updated_at());
  }
  if (key == "last_sign_in_at") {
    return micros(u.last_sign_in_at());
  }
  if (key == "last_active_at") {
    return micros(u.last_active_at());
  }
  if (key == "username") {
    return u.username();
  }
  if (key == "first_name") {
    return absl::AsciiStrToLower(u.first_name());
  }
  if (key == "last_name") {
    return absl::AsciiStrToLower(u.last_name());
  }
  for (const auto& e : u.email_addresses()) {
    if (key == "email_address" && e.id() == u.primary_email_address_id()) {
      return e.email_address();
    }
  }
  for (const auto& p : u.phone_numbers()) {
    if (key == "phone_number" && p.id() == u.primary_phone_number_id()) {
      return p.phone_number();
    }
  }
  return "";
}

TEST_F(ListUsersFiltersTest, EveryOrderByInBothDirectionsWithIdBreakingTies) {
  std::vector<User> current;
  for (const auto& id : ids_) {
    GetUserRequest get;
    get.set_user_id(id);
    User user;
    ASSERT_TRUE(stub_->GetUser(Authed().get(), get, &user).ok());
    current.push_back(user);
  }
  for (const std::string key : {"created_at", "updated_at", "last_sign_in_at",
                                "last_active_at", "username", "first_name",
                                "last_name", "email_address", "phone_number"}) {
    for (bool descending : {false, true}) {
      std::vector<User> expected = current;
      std::sort(expected.begin(), expected.end(),
                [&](const User& a, const User& b) {
                  auto ka = std::make_pair(SortKey(a, key), a.id());
                  auto kb = std::make_pair(SortKey(b, key), b.id());
                  return descending ? kb < ka : ka < kb;
                });
      ListUsersRequest request;
      request.set_order_by((descending ? "-" : "") + key);
      request.set_limit(
          2);  // Several pages, so the keyset continues across ties.
      std::vector<std::string> got;
      while (true) {
        ListUsersResponse page;
        grpc::Status status = stub_->ListUsers(Authed().get(), request, &page);
        ASSERT_TRUE(status.ok()) << status.error_message();
        for (const auto& u : page.users()) {
          got.push_back(u.id());
        }
        if (page.next_page_token().empty()) {
          break;
        }
        request.set_page_token(page.next_page_token());
      }
      std::vector<std::string> want;
      want.reserve(expected.size());
      for (const auto& u : expected) {
        want.push_back(u.id());
      }
      EXPECT_EQ(got, want) << "order_by " << request.order_by();
    }
  }
}

TEST_F(ListUsersFiltersTest, DefaultOrderIsNewestFirstAndDefaultLimitIsTen) {
  ListUsersResponse page;
  ASSERT_TRUE(stub_->ListUsers(Authed().get(), ListUsersRequest(), &page).ok());
  ASSERT_EQ(page.users_size(), 5);
  EXPECT_EQ(page.users(0).id(), ids_[4]);
  EXPECT_EQ(page.users(4).id(), ids_[0]);
  EXPECT_TRUE(page.next_page_token().empty());
}

TEST_F(ListUsersFiltersTest, OutOfRangeValuesAreInvalidArgumentNeverClamped) {
  struct Case {
    std::function<void(ListUsersRequest&)> set;
    std::string field;
  };
  ListUsersResponse first_page;
  ListUsersRequest first;
  first.set_limit(1);
  ASSERT_TRUE(stub_->ListUsers(Authed().get(), first, &first_page).ok());
  const std::string token = first_page.next_page_token();
  ASSERT_FALSE(token.empty());
  const std::vector<Case> cases = {
      {[](auto& r) { r.set_limit(-1); }, "limit"},
      {[](auto& r) { r.set_limit(501); }, "limit"},
      {[](auto& r) { r.set_offset(-1); }, "offset"},
      {[](auto& r) { r.set_offset(1'000'001); }, "offset"},
      {[](auto& r) { r.set_order_by("password"); }, "order_by"},
      {[](auto& r) { r.set_page_token("garbage"); }, "page_token"},
      {[&](auto& r) {
         r.set_page_token(token);
         r.set_offset(3);
       },
       "page_token"},
      {[&](auto& r) {
         r.set_page_token(token);
         r.set_banned(true);
       },
       "page_token"},
      {[&](auto& r) {
         r.set_page_token(token);
         r.set_order_by("created_at");
       },
       "page_token"},
      {[](auto& r) {
         for (int i = 0; i < 101; ++i) {
           r.add_usernames(absl::StrCat("user", i));
         }
       },
       "usernames"},
      {[](auto& r) { r.add_email_addresses("nope"); }, "email_addresses[0]"},
      {[](auto& r) {
         auto* f = r.add_metadata_filters();
         f->set_path("plan");
         *f->mutable_value() = StringValue("pro");
       },
       "metadata_filters[0].tier"},
      {[](auto& r) {
         auto* f = r.add_metadata_filters();
         f->set_tier(MetadataFilter::TIER_PUBLIC);
         f->set_path("a..b");
         *f->mutable_value() = StringValue("pro");
       },
       "metadata_filters[0].path"},
      {[](auto& r) {
         auto* f = r.add_metadata_filters();
         f->set_tier(MetadataFilter::TIER_PUBLIC);
         f->set_path("plan");  // No value at all.
       },
       "metadata_filters[0].value"},
      {[](auto& r) {
         auto* f = r.add_metadata_filters();
         f->set_tier(MetadataFilter::TIER_PUBLIC);
         f->set_path("a");
         f->mutable_value()->mutable_list_value();
       },
       "metadata_filters[0].value"},
      {[](auto& r) { r.mutable_created_at_after()->set_nanos(-1); },
       "created_at_after"},
  };
  for (const auto& c : cases) {
    ListUsersRequest request;
    c.set(request);
    ListUsersResponse response;
    grpc::Status status = stub_->ListUsers(Authed().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(ViolatedFields(status), ElementsAre(c.field));
  }
  ListUsersRequest limit_500;
  limit_500.set_limit(500);
  ListUsersResponse ok;
  EXPECT_TRUE(stub_->ListUsers(Authed().get(), limit_500, &ok).ok());
}

TEST(ListUsersPagingTest,
     PagingThroughAThousandUsersByOffsetAndByTokenMissesAndRepeatsNone) {
  TestServer server;
  constexpr int kUsers = 1000;
  constexpr int kWriters = 4;
  std::vector<std::vector<std::string>> created(kWriters);
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto stub = server.Backend();
      for (int i = w; i < kUsers; i += kWriters) {
        CreateUserRequest create;
        create.set_username(absl::StrFormat("member%04d", (i * 7919) % kUsers));
        create.add_email_addresses(
            absl::StrFormat("m%04d@example.com", (i * 31) % kUsers));
        create.set_first_name(absl::StrCat("Name", i % 13));  // Many ties.
        User user;
        grpc::Status status = stub->CreateUser(Authed().get(), create, &user);
        ASSERT_TRUE(status.ok()) << status.error_message();
        created[static_cast<size_t>(w)].push_back(user.id());
      }
    });
  }
  for (auto& t : writers) {
    t.join();
  }
  std::vector<std::string> all;
  for (const auto& ids : created) {
    all.insert(all.end(), ids.begin(), ids.end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kUsers));

  auto stub = server.Backend();
  for (const std::string order_by :
       {"", "username", "-first_name", "email_address"}) {
    std::vector<std::string> by_token, by_offset;
    ListUsersRequest request;
    request.set_order_by(order_by);
    request.set_limit(37);
    while (true) {
      ListUsersResponse page;
      ASSERT_TRUE(stub->ListUsers(Authed().get(), request, &page).ok());
      EXPECT_EQ(page.total_count(), kUsers);
      for (const auto& u : page.users()) {
        by_token.push_back(u.id());
      }
      if (page.next_page_token().empty()) {
        break;
      }
      request.set_page_token(page.next_page_token());
    }
    ListUsersRequest offset_request;
    offset_request.set_order_by(order_by);
    offset_request.set_limit(37);
    for (int offset = 0; offset < kUsers; offset += 37) {
      offset_request.set_offset(offset);
      ListUsersResponse page;
      ASSERT_TRUE(stub->ListUsers(Authed().get(), offset_request, &page).ok());
      for (const auto& u : page.users()) {
        by_offset.push_back(u.id());
      }
    }
    EXPECT_EQ(std::set<std::string>(by_token.begin(), by_token.end()).size(),
              static_cast<size_t>(kUsers))
        << "order_by '" << order_by << "' repeated a user";
    EXPECT_THAT(by_token, UnorderedElementsAreArray(all)) << order_by;
    EXPECT_EQ(by_offset, by_token) << "order_by '" << order_by << "'";
  }
}

}  // namespace
}  // namespace roster

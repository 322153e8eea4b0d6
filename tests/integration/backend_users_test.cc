// BackendUsers end to end: a real RosterServer on loopback over a SQLite file,
// called through the generated stubs.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::testing::ElementsAre;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

google::protobuf::Struct JsonStruct(const std::string& json) {
  google::protobuf::Struct value;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &value).ok())
      << json;
  return value;
}

// Messages with maps (Struct) have no canonical byte or JSON order: compare
// them as messages.
::testing::AssertionResult SameMessage(const google::protobuf::Message& a,
                                       const google::protobuf::Message& b) {
  if (google::protobuf::util::MessageDifferencer::Equals(a, b)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << a.ShortDebugString() << "\n  vs\n"
                                       << b.ShortDebugString();
}

class BackendUsersTest : public ::testing::Test {
 protected:
  User CreateUser(const CreateUserRequest& request) {
    User user;
    grpc::Status status = stub_->CreateUser(Authed().get(), request, &user);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return user;
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
};

TEST_F(BackendUsersTest, EveryRpcHappyPath) {
  CreateUserRequest create;
  create.add_email_addresses("Ada@Example.com");
  create.add_phone_numbers("+1 415 555 0100");
  create.set_username("ada_l");
  create.set_first_name("Ada");
  create.set_last_name("Lovelace");
  create.set_external_id("crm-1815");
  *create.mutable_public_metadata() = JsonStruct(R"({"plan":"free"})");
  *create.mutable_private_metadata() = JsonStruct(R"({"stripe":"cus_1"})");
  User user = CreateUser(create);
  EXPECT_TRUE(absl::StartsWith(user.id(), "user_"));
  ASSERT_EQ(user.email_addresses_size(), 1);
  EXPECT_EQ(user.email_addresses(0).email_address(), "ada@example.com");
  EXPECT_EQ(user.email_addresses(0).verification().status(),
            Verification::STATUS_VERIFIED);
  EXPECT_EQ(user.primary_email_address_id(), user.email_addresses(0).id());
  EXPECT_EQ(user.phone_numbers(0).phone_number(), "+14155550100");
  EXPECT_EQ(user.username(), "ada_l");
  EXPECT_EQ(user.external_id(), "crm-1815");
  EXPECT_TRUE(SameMessage(user.private_metadata(),
                          JsonStruct(R"({"stripe":"cus_1"})")));
  EXPECT_FALSE(user.has_last_sign_in_at());
  EXPECT_TRUE(user.has_created_at());
  EXPECT_EQ(user.verification_attempts_remaining(), 10);

  GetUserRequest get;
  get.set_user_id(user.id());
  User fetched;
  ASSERT_TRUE(stub_->GetUser(Authed().get(), get, &fetched).ok());
  EXPECT_TRUE(SameMessage(fetched, user));

  UpdateUserRequest update;
  update.set_user_id(user.id());
  update.set_first_name("Augusta");
  update.set_etag(user.etag());
  User updated;
  ASSERT_TRUE(stub_->UpdateUser(Authed().get(), update, &updated).ok());
  EXPECT_EQ(updated.first_name(), "Augusta");
  EXPECT_EQ(updated.last_name(),
            "Lovelace");  // Absent from the request: untouched.
  EXPECT_NE(updated.etag(), user.etag());

  UpdateUserMetadataRequest merge;
  merge.set_user_id(user.id());
  *merge.mutable_public_metadata() = JsonStruct(R"({"plan":"pro","seats":3})");
  *merge.mutable_unsafe_metadata() = JsonStruct(R"({"theme":"dark"})");
  User merged;
  ASSERT_TRUE(stub_->UpdateUserMetadata(Authed().get(), merge, &merged).ok());
  EXPECT_TRUE(SameMessage(merged.public_metadata(),
                          JsonStruct(R"({"plan":"pro","seats":3})")));
  EXPECT_TRUE(SameMessage(merged.private_metadata(),
                          JsonStruct(R"({"stripe":"cus_1"})")));
  *merge.mutable_public_metadata() = JsonStruct(R"({"seats":null})");
  merge.clear_unsafe_metadata();
  ASSERT_TRUE(stub_->UpdateUserMetadata(Authed().get(), merge, &merged).ok());
  EXPECT_TRUE(
      SameMessage(merged.public_metadata(), JsonStruct(R"({"plan":"pro"})")));

  ReplaceUserMetadataRequest replace;
  replace.set_user_id(user.id());
  *replace.mutable_private_metadata() = JsonStruct(R"({"fresh":true})");
  User replaced;
  ASSERT_TRUE(
      stub_->ReplaceUserMetadata(Authed().get(), replace, &replaced).ok());
  EXPECT_TRUE(SameMessage(replaced.private_metadata(),
                          JsonStruct(R"({"fresh":true})")));
  EXPECT_TRUE(
      SameMessage(replaced.public_metadata(), JsonStruct(R"({"plan":"pro"})")));

  BanUserRequest ban;
  ban.set_user_id(user.id());
  User banned;
  ASSERT_TRUE(stub_->BanUser(Authed().get(), ban, &banned).ok());
  EXPECT_TRUE(banned.banned());
  UnbanUserRequest unban;
  unban.set_user_id(user.id());
  User unbanned;
  ASSERT_TRUE(stub_->UnbanUser(Authed().get(), unban, &unbanned).ok());
  EXPECT_FALSE(unbanned.banned());

  LockUserRequest lock;
  lock.set_user_id(user.id());
  User locked;
  ASSERT_TRUE(stub_->LockUser(Authed().get(), lock, &locked).ok());
  EXPECT_TRUE(locked.locked());
  EXPECT_GT(locked.lockout_expires_in_seconds(), 3500);
  EXPECT_LE(locked.lockout_expires_in_seconds(), 3600);
  UnlockUserRequest unlock;
  unlock.set_user_id(user.id());
  User unlocked;
  ASSERT_TRUE(stub_->UnlockUser(Authed().get(), unlock, &unlocked).ok());
  EXPECT_FALSE(unlocked.locked());
  EXPECT_FALSE(unlocked.has_lockout_expires_in_seconds());

  ListUsersRequest list;
  list.add_email_addresses("ADA@example.com");
  ListUsersResponse listed;
  ASSERT_TRUE(stub_->ListUsers(Authed().get(), list, &listed).ok());
  ASSERT_EQ(listed.users_size(), 1);
  EXPECT_EQ(listed.users(0).id(), user.id());
  EXPECT_EQ(listed.total_count(), 1);
  CountUsersRequest count;
  CountUsersResponse counted;
  ASSERT_TRUE(stub_->CountUsers(Authed().get(), count, &counted).ok());
  EXPECT_EQ(counted.total_count(), 1);

  DeleteUserRequest del;
  del.set_user_id(user.id());
  DeletedObject deleted;
  ASSERT_TRUE(stub_->DeleteUser(Authed().get(), del, &deleted).ok());
  EXPECT_EQ(deleted.id(), user.id());
  EXPECT_TRUE(deleted.deleted());
  EXPECT_EQ(deleted.external_id(), "crm-1815");
  grpc::Status gone = stub_->GetUser(Authed().get(), get, &fetched);
  EXPECT_EQ(gone.error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(ReasonOf(gone), "NOT_FOUND");
}

// Every BackendUsers RPC, called with a given context.
std::vector<std::pair<
    std::string,
    std::function<grpc::Status(BackendUsers::Stub&, grpc::ClientContext*)>>>
EveryRpc(const std::string& user_id) {
  return {
      {"CreateUser",
       [](auto& s, auto* c) {
         User r;
         return s.CreateUser(c, CreateUserRequest(), &r);
       }},
      {"GetUser",
       [=](auto& s, auto* c) {
         GetUserRequest q;
         q.set_user_id(user_id);
         User r;
         return s.GetUser(c, q, &r);
       }},
      {"ListUsers",
       [](auto& s, auto* c) {
         ListUsersResponse r;
         return s.ListUsers(c, ListUsersRequest(), &r);
       }},
      {"CountUsers",
       [](auto& s, auto* c) {
         CountUsersResponse r;
         return s.CountUsers(c, CountUsersRequest(), &r);
       }},
      {"UpdateUser",
       [=](auto& s, auto* c) {
         UpdateUserRequest q;
         q.set_user_id(user_id);
         q.set_first_name("Mallory");
         User r;
         return s.UpdateUser(c, q, &r);
       }},
      {"UpdateUserMetadata",
       [=](auto& s, auto* c) {
         UpdateUserMetadataRequest q;
         q.set_user_id(user_id);
         *q.mutable_private_metadata() = JsonStruct(R"({"owned":true})");
         User r;
         return s.UpdateUserMetadata(c, q, &r);
       }},
      {"ReplaceUserMetadata",
       [=](auto& s, auto* c) {
         ReplaceUserMetadataRequest q;
         q.set_user_id(user_id);
         *q.mutable_private_metadata() = JsonStruct(R"({"owned":true})");
         User r;
         return s.ReplaceUserMetadata(c, q, &r);
       }},
      {"DeleteUser",
       [=](auto& s, auto* c) {
         DeleteUserRequest q;
         q.set_user_id(user_id);
         DeletedObject r;
         return s.DeleteUser(c, q, &r);
       }},
      {"BanUser",
       [=](auto& s, auto* c) {
         BanUserRequest q;
         q.set_user_id(user_id);
         User r;
         return s.BanUser(c, q, &r);
       }},
      {"UnbanUser",
       [=](auto& s, auto* c) {
         UnbanUserRequest q;
         q.set_user_id(user_id);
         User r;
         return s.UnbanUser(c, q, &r);
       }},
      {"LockUser",
       [=](auto& s, auto* c) {
         LockUserRequest q;
         q.set_user_id(user_id);
         User r;
         return s.LockUser(c, q, &r);
       }},
      {"UnlockUser",
       [=](auto& s, auto* c) {
         UnlockUserRequest q;
         q.set_user_id(user_id);
         User r;
         return s.UnlockUser(c, q, &r);
       }},
      {"VerifyPassword",
       [=](auto& s, auto* c) {
         VerifyPasswordRequest q;
         q.set_user_id(user_id);
         q.set_password("guessing!");
         VerifyPasswordResponse r;
         return s.VerifyPassword(c, q, &r);
       }},
      {"ListEvents",
       [](auto& s, auto* c) {
         ListEventsResponse r;
         return s.ListEvents(c, ListEventsRequest(), &r);
       }},
  };
}

TEST_F(BackendUsersTest,
       EveryRpcWithoutOrWithAWrongKeyIsUnauthenticatedAndChangesNothing) {
  User victim = CreateUser(CreateUserRequest());
  const std::vector<std::pair<std::string, std::string>> bad_credentials = {
      {"no header", ""},
      {"malformed header", "sk_test_0123456789abcdefghijklmnopqrstuv"},
      {"wrong scheme", "Basic sk_test_0123456789abcdefghijklmnopqrstuv"},
      {"wrong key", "Bearer sk_test_0123456789abcdefghijklmnopqrstuX"},
  };
  for (const auto& [rpc, call] : EveryRpc(victim.id())) {
    for (const auto& [what, header] : bad_credentials) {
      grpc::ClientContext context;
      if (!header.empty()) {
        context.AddMetadata("authorization", header);
      }
      grpc::Status status = call(*stub_, &context);
      EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED)
          << rpc << " with " << what;
      EXPECT_EQ(ReasonOf(status), "UNAUTHENTICATED") << rpc << " with " << what;
    }
  }
  GetUserRequest get;
  get.set_user_id(victim.id());
  User after;
  ASSERT_TRUE(stub_->GetUser(Authed().get(), get, &after).ok());
  EXPECT_TRUE(SameMessage(after, victim));
  CountUsersResponse count;
  ASSERT_TRUE(
      stub_->CountUsers(Authed().get(), CountUsersRequest(), &count).ok());
  EXPECT_EQ(count.total_count(), 1);
}

TEST_F(BackendUsersTest, EveryRpcAcceptsTheRotationKeyToo) {
  User user = CreateUser(CreateUserRequest());
  for (const auto& [rpc, call] : EveryRpc(user.id())) {
    auto context = Authed("sk_test_second_key_for_rotation_000000");
    grpc::Status status = call(*stub_, context.get());
    EXPECT_NE(status.error_code(), grpc::UNAUTHENTICATED) << rpc;
  }
}

// A patch of nulls merges to nothing, so only a bound on the patch itself
// keeps it off the single writer (DESIGN §14).
TEST_F(BackendUsersTest, AMergePatchIsBoundedBeforeItIsMerged) {
  CreateUserRequest create;
  create.set_first_name("Ada");
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  const auto nulls = [](int keys) {
    google::protobuf::Struct patch;
    for (int i = 0; i < keys; ++i) {
      (*patch.mutable_fields())[absl::StrCat("key_", 100000 + i)]
          .set_null_value(google::protobuf::NULL_VALUE);
    }
    return patch;
  };
  // {"key_100000":null,…}: 18 bytes a key, so 900 keys is under 16 KiB and
  // 1,000 over it.
  UpdateUserMetadataRequest merge;
  merge.set_user_id(user.id());
  *merge.mutable_unsafe_metadata() = nulls(900);
  User merged;
  ASSERT_TRUE(stub_->UpdateUserMetadata(Authed().get(), merge, &merged).ok());
  *merge.mutable_unsafe_metadata() = nulls(1000);
  const grpc::Status status =
      stub_->UpdateUserMetadata(Authed().get(), merge, &merged);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "METADATA_TOO_LARGE");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("unsafe_metadata"));
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("merge patch"));
}

TEST_F(BackendUsersTest, InvalidFieldsComeBackAsBadRequestWithReason) {
  CreateUserRequest create;
  create.add_email_addresses("not-an-email");
  create.set_first_name(std::string(300, 'a'));
  User user;
  grpc::Status status = stub_->CreateUser(Authed().get(), create, &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "INVALID_ARGUMENT_FORMAT");
  EXPECT_THAT(ViolatedFields(status),
              ElementsAre("first_name", "email_addresses[0]"));

  CreateUserRequest bad_username;
  bad_username.set_username("no spaces allowed");
  status = stub_->CreateUser(Authed().get(), bad_username, &user);
  EXPECT_EQ(ReasonOf(status), "USERNAME_INVALID");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("username"));

  CreateUserRequest nan_metadata;
  (*nan_metadata.mutable_public_metadata()->mutable_fields())["x"]
      .set_number_value(std::numeric_limits<double>::quiet_NaN());
  status = stub_->CreateUser(Authed().get(), nan_metadata, &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("public_metadata"));

  CreateUserRequest large;
  (*large.mutable_unsafe_metadata()->mutable_fields())["k"].set_string_value(
      std::string(size_t{8} * 1024, 'x'));
  status = stub_->CreateUser(Authed().get(), large, &user);
  EXPECT_EQ(ReasonOf(status), "METADATA_TOO_LARGE");

  GetUserRequest get;
  get.set_user_id("user_nope");
  status = stub_->GetUser(Authed().get(), get, &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("user_id"));

  CountUsersResponse count;
  ASSERT_TRUE(
      stub_->CountUsers(Authed().get(), CountUsersRequest(), &count).ok());
  EXPECT_EQ(count.total_count(), 0);
}

TEST_F(BackendUsersTest, StaleEtagIsAborted) {
  User user = CreateUser(CreateUserRequest());
  BanUserRequest ban;
  ban.set_user_id(user.id());
  ban.set_etag(user.etag());
  User banned;
  ASSERT_TRUE(stub_->BanUser(Authed().get(), ban, &banned).ok());
  UpdateUserRequest update;
  update.set_user_id(user.id());
  update.set_first_name("Late");
  update.set_etag(user.etag());
  User ignored;
  grpc::Status status = stub_->UpdateUser(Authed().get(), update, &ignored);
  EXPECT_EQ(status.error_code(), grpc::ABORTED);
  EXPECT_EQ(ReasonOf(status), "ETAG_MISMATCH");
  update.set_etag(banned.etag());
  EXPECT_TRUE(stub_->UpdateUser(Authed().get(), update, &ignored).ok());
}

TEST_F(BackendUsersTest, RetriedRequestIdReturnsTheSameUser) {
  CreateUserRequest create;
  create.add_email_addresses("retry@example.com");
  create.set_request_id("5b0c8f0e-3c1a-4c0e-9d53-1f1c2a3b4c5d");
  User first = CreateUser(create);
  User second = CreateUser(create);
  EXPECT_EQ(second.id(), first.id());
  CountUsersResponse count;
  ASSERT_TRUE(
      stub_->CountUsers(Authed().get(), CountUsersRequest(), &count).ok());
  EXPECT_EQ(count.total_count(), 1);
}

TEST_F(BackendUsersTest,
       ConcurrentCreatesRacingForOneEmailHaveExactlyOneWinner) {
  constexpr int kRacers = 16;
  std::atomic<int> created{0}, clashed{0}, other{0};
  std::vector<std::thread> racers;
  racers.reserve(kRacers);
  for (int i = 0; i < kRacers; ++i) {
    racers.emplace_back([&, i] {
      auto stub = server_.Backend();
      CreateUserRequest create;
      // The same address, spelled differently by each racer.
      create.add_email_addresses(i % 2 == 0 ? "race@example.com"
                                            : " RACE@Example.com");
      User user;
      grpc::Status status = stub->CreateUser(Authed().get(), create, &user);
      if (status.ok()) {
        ++created;
      } else if (status.error_code() == grpc::ALREADY_EXISTS &&
                 ReasonOf(status) == "IDENTIFIER_EXISTS") {
        ++clashed;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : racers) {
    t.join();
  }
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(clashed.load(), kRacers - 1);
  EXPECT_EQ(other.load(), 0);
  CountUsersResponse count;
  ASSERT_TRUE(
      stub_->CountUsers(Authed().get(), CountUsersRequest(), &count).ok());
  EXPECT_EQ(count.total_count(), 1);
}

TEST_F(BackendUsersTest, UsersSurviveARestart) {
  CreateUserRequest create;
  create.add_email_addresses("durable@example.com");
  *create.mutable_public_metadata() = JsonStruct(R"({"kept":true})");
  User user = CreateUser(create);
  server_.Restart();
  stub_ = server_.Backend();
  GetUserRequest get;
  get.set_user_id(user.id());
  User after;
  ASSERT_TRUE(stub_->GetUser(Authed().get(), get, &after).ok());
  EXPECT_TRUE(SameMessage(after, user));
}

}  // namespace
}  // namespace roster

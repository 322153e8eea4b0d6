// The fields added through the field recipe (docs/architecture.md), end to
// end: `locale`, set by BackendUsers.UpdateUser and FrontendUsers.UpdateMe,
// and `legal_accepted_at`, set by CreateUser and UpdateUser.
#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::roster::testing::Authed;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::roster::testing::WithToken;
using ::testing::ElementsAre;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

constexpr char kProfilePassword[] = "correct horse battery";

class ProfileFieldsTest : public ::testing::Test {
 protected:
  grpc::Status Update(const UpdateUserRequest& request, User* user) {
    return backend_->UpdateUser(Authed().get(), request, user);
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
  std::unique_ptr<FrontendUsers::Stub> frontend_ =
      FrontendUsers::NewStub(server_.channel());
};

TEST_F(ProfileFieldsTest, LocaleIsStoredCanonicalClearedAndValidated) {
  User user;
  ASSERT_TRUE(
      backend_->CreateUser(Authed().get(), CreateUserRequest(), &user).ok());
  EXPECT_FALSE(user.has_locale());

  UpdateUserRequest update;
  update.set_user_id(user.id());
  update.set_locale("pt-br");
  User updated;
  ASSERT_TRUE(Update(update, &updated).ok());
  EXPECT_EQ(updated.locale(), "pt-BR");
  EXPECT_NE(updated.etag(), user.etag());
  GetUserRequest get;
  get.set_user_id(user.id());
  User read;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &read).ok());
  EXPECT_EQ(read.locale(), "pt-BR");

  // Bad tags are refused by field and change nothing.
  for (const char* bad : {"en_US", "x-private", "english-", "en-US-USA"}) {
    update.set_locale(bad);
    grpc::Status status = Update(update, &updated);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(ReasonOf(status), "INVALID_ARGUMENT_FORMAT") << bad;
    EXPECT_THAT(ViolatedFields(status), ElementsAre("locale")) << bad;
  }
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &read).ok());
  EXPECT_EQ(read.locale(), "pt-BR");

  update.set_locale("");
  ASSERT_TRUE(Update(update, &updated).ok());
  EXPECT_FALSE(updated.has_locale());
}

TEST_F(ProfileFieldsTest, TheSignedInUserSetsTheirOwnLocale) {
  CreateUserRequest create;
  create.add_email_addresses("locale@example.com");
  create.set_password(kProfilePassword);
  User user;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &user).ok());
  SignInRequest sign_in;
  sign_in.set_identifier("locale@example.com");
  sign_in.set_password(kProfilePassword);
  SignInResponse signed_in;
  grpc::ClientContext context;
  ASSERT_TRUE(frontend_->SignIn(&context, sign_in, &signed_in).ok());

  UpdateMeRequest update;
  update.set_locale("ZH-hant-tw");
  FrontendUser me;
  ASSERT_TRUE(
      frontend_
          ->UpdateMe(WithToken(signed_in.session_token()).get(), update, &me)
          .ok());
  EXPECT_EQ(me.locale(), "zh-Hant-TW");

  update.set_locale("not a tag");
  grpc::Status status = frontend_->UpdateMe(
      WithToken(signed_in.session_token()).get(), update, &me);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("locale"));

  GetUserRequest get;
  get.set_user_id(user.id());
  User read;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &read).ok());
  EXPECT_EQ(read.locale(), "zh-Hant-TW");
}

TEST_F(ProfileFieldsTest, LegalAcceptedAtIsSetAtCreationOrLaterAndNeverAhead) {
  const auto accepted = TimeUtil::SecondsToTimestamp(1'700'000'000);
  CreateUserRequest create;
  *create.mutable_legal_accepted_at() = accepted;
  User user;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &user).ok());
  EXPECT_EQ(user.legal_accepted_at(), accepted);

  User plain;
  ASSERT_TRUE(
      backend_->CreateUser(Authed().get(), CreateUserRequest(), &plain).ok());
  EXPECT_FALSE(plain.has_legal_accepted_at());
  UpdateUserRequest update;
  update.set_user_id(plain.id());
  const auto later = TimeUtil::SecondsToTimestamp(1'750'000'000);
  *update.mutable_legal_accepted_at() = later;
  User updated;
  ASSERT_TRUE(Update(update, &updated).ok());
  EXPECT_EQ(updated.legal_accepted_at(), later);

  // In the future, at the epoch, or no timestamp at all: refused by field.
  const google::protobuf::Timestamp refused[] = {
      TimeUtil::GetCurrentTime() + TimeUtil::SecondsToDuration(3600),
      TimeUtil::SecondsToTimestamp(0),
      [] {
        google::protobuf::Timestamp t;
        t.set_seconds(1'700'000'000);
        t.set_nanos(-1);
        return t;
      }(),
  };
  for (const auto& when : refused) {
    *update.mutable_legal_accepted_at() = when;
    grpc::Status status = Update(update, &updated);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT)
        << when.ShortDebugString();
    EXPECT_THAT(ViolatedFields(status), ElementsAre("legal_accepted_at"));
    *create.mutable_legal_accepted_at() = when;
    status = backend_->CreateUser(Authed().get(), create, &user);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT)
        << when.ShortDebugString();
    EXPECT_THAT(ViolatedFields(status), ElementsAre("legal_accepted_at"));
  }
  GetUserRequest get;
  get.set_user_id(plain.id());
  User read;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &read).ok());
  EXPECT_EQ(read.legal_accepted_at(), later);
}

}  // namespace
}  // namespace roster

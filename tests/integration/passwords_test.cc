// Passwords end to end: argon2id on CreateUser/UpdateUser, VerifyPassword and
// the lockout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "roster/v1/frontend_users.grpc.pb.h"
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

constexpr char kPassword[] = "tr0ub4dor&3-staple";

class PasswordsTest : public ::testing::Test {
 protected:
  grpc::Status Verify(const std::string& id, const std::string& password,
                      bool* verified) {
    VerifyPasswordRequest request;
    request.set_user_id(id);
    request.set_password(password);
    VerifyPasswordResponse response;
    auto stub = server_.Backend();
    grpc::Status status =
        stub->VerifyPassword(Authed().get(), request, &response);
    *verified = response.verified();
    return status;
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
};

TEST_F(PasswordsTest, CreateWithAPasswordThenVerifyItAndChangeIt) {
  CreateUserRequest create;
  create.add_email_addresses("pw@example.com");
  create.set_password(kPassword);
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  EXPECT_TRUE(user.password_enabled());
  bool verified = false;
  ASSERT_TRUE(Verify(user.id(), kPassword, &verified).ok());
  EXPECT_TRUE(verified);
  ASSERT_TRUE(Verify(user.id(), "wrong password", &verified).ok());
  EXPECT_FALSE(verified);

  UpdateUserRequest update;
  update.set_user_id(user.id());
  update.set_password("a brand new one");
  ASSERT_TRUE(stub_->UpdateUser(Authed().get(), update, &user).ok());
  ASSERT_TRUE(Verify(user.id(), "a brand new one", &verified).ok());
  EXPECT_TRUE(verified);
  ASSERT_TRUE(Verify(user.id(), kPassword, &verified).ok());
  EXPECT_FALSE(verified);

  CreateUserRequest no_password;
  User other;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), no_password, &other).ok());
  EXPECT_FALSE(other.password_enabled());
  ASSERT_TRUE(Verify(other.id(), kPassword, &verified).ok());
  EXPECT_FALSE(verified);
}

TEST_F(PasswordsTest, PasswordRulesAreInvalidArgumentWithTheirReasons) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"short", "PASSWORD_TOO_SHORT"},
      {std::string(257, 'x'), "PASSWORD_TOO_LONG"},
      {"RULES@example.com", "PASSWORD_MATCHES_IDENTIFIER"},
  };
  for (const auto& [password, reason] : cases) {
    CreateUserRequest create;
    create.add_email_addresses("rules@example.com");
    create.set_password(password);
    User user;
    grpc::Status status = stub_->CreateUser(Authed().get(), create, &user);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << reason;
    EXPECT_EQ(ReasonOf(status), reason);
    EXPECT_EQ(status.error_message().find(password), std::string::npos);
  }
  CountUsersResponse count;
  ASSERT_TRUE(
      stub_->CountUsers(Authed().get(), CountUsersRequest(), &count).ok());
  EXPECT_EQ(count.total_count(), 0);
}

TEST_F(PasswordsTest, ParallelWrongGuessesLockAfterExactlyTheLimit) {
  CreateUserRequest create;
  create.set_password(kPassword);
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  constexpr int kGuesses = 15;  // The limit is 10.
  std::atomic<int> checked{0}, refused{0}, other{0};
  std::vector<std::thread> guessers;
  guessers.reserve(kGuesses);
  for (int i = 0; i < kGuesses; ++i) {
    guessers.emplace_back([&, i] {
      bool verified = true;
      grpc::Status status =
          Verify(user.id(), "guess " + std::to_string(i), &verified);
      if (status.ok() && !verified) {
        ++checked;
      } else if (status.error_code() == grpc::PERMISSION_DENIED &&
                 ReasonOf(status) == "USER_LOCKED") {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : guessers) {
    t.join();
  }
  EXPECT_EQ(checked.load(), 10);
  EXPECT_EQ(refused.load(), kGuesses - 10);
  EXPECT_EQ(other.load(), 0);
  bool verified = false;
  grpc::Status locked = Verify(user.id(), kPassword, &verified);
  EXPECT_EQ(ReasonOf(locked), "USER_LOCKED");
  GetUserRequest get;
  get.set_user_id(user.id());
  ASSERT_TRUE(stub_->GetUser(Authed().get(), get, &user).ok());
  EXPECT_TRUE(user.locked());
  EXPECT_EQ(user.verification_attempts_remaining(), 0);
  UnlockUserRequest unlock;
  unlock.set_user_id(user.id());
  ASSERT_TRUE(stub_->UnlockUser(Authed().get(), unlock, &user).ok());
  ASSERT_TRUE(Verify(user.id(), kPassword, &verified).ok());
  EXPECT_TRUE(verified);
}

TEST_F(PasswordsTest, ThePasswordNeverAppearsInEventsOrResponses) {
  CreateUserRequest create;
  create.add_email_addresses("secret@example.com");
  create.set_password(kPassword);
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  EXPECT_EQ(user.SerializeAsString().find(kPassword), std::string::npos);
  ListEventsResponse events;
  ASSERT_TRUE(
      stub_->ListEvents(Authed().get(), ListEventsRequest(), &events).ok());
  ASSERT_EQ(events.events_size(), 1);
  const std::string bytes = events.SerializeAsString();
  EXPECT_EQ(bytes.find(kPassword), std::string::npos);
  EXPECT_EQ(bytes.find("$argon2id$"), std::string::npos);
  EXPECT_TRUE(events.events(0).user().password_enabled());
}

TEST_F(PasswordsTest, AnImportedBcryptDigestSignsInAndABadOneIsRefused) {
  // From tests/data/password_digests/vectors.tsv: htpasswd -B of "correct
  // horse".
  std::ifstream vectors(std::string(ROSTER_TEST_DATA_DIR) +
                        "/password_digests/vectors.tsv");
  std::string line, bcrypt;
  while (std::getline(vectors, line)) {
    if (absl::StartsWith(line, "bcrypt\tcorrect horse\t$2y$")) {
      bcrypt = line.substr(line.find("$2y$"), 60);
    }
  }
  ASSERT_EQ(bcrypt.size(), 60u);
  CreateUserRequest create;
  create.add_email_addresses("imported@example.com");
  create.set_password_digest(bcrypt);
  create.set_password_hasher("bcrypt");
  User user;
  grpc::Status status = stub_->CreateUser(Authed().get(), create, &user);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(user.password_enabled());
  auto frontend = FrontendUsers::NewStub(server_.channel());
  SignInRequest sign_in;
  sign_in.set_identifier("imported@example.com");
  sign_in.set_password("correct horse");
  SignInResponse signed_in;
  grpc::ClientContext context;
  status = frontend->SignIn(&context, sign_in, &signed_in);
  EXPECT_TRUE(status.ok()) << status.error_message();

  CreateUserRequest junk;
  junk.set_password_digest("$2b$10$nope");
  junk.set_password_hasher("bcrypt");
  status = stub_->CreateUser(Authed().get(), junk, &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "PASSWORD_DIGEST_INVALID");

  // A hasher without its digest would create a user without the password
  // meant for it.
  CreateUserRequest hasher_alone;
  hasher_alone.add_email_addresses("no-digest@example.com");
  hasher_alone.set_password_hasher("bcrypt");
  status = stub_->CreateUser(Authed().get(), hasher_alone, &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "PASSWORD_DIGEST_INVALID");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("password_hasher"));
}

}  // namespace
}  // namespace roster

// Runs the real binary through a full flow — passwords, sign-in, tokens,
// session secrets, verification codes — then greps everything it logged for
// each secret it was handed or handed out. None may appear.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::ServerProcess;
using ::roster::testing::TempDir;
using ::roster::testing::WithToken;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

// Whether `secret` occurs in `text` as a whole token (a numeric code must not
// match inside a longer run of digits such as a timestamp).
bool Contains(const std::string& text, const std::string& secret) {
  for (size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + 1)) {
    const bool digits = std::isdigit(static_cast<unsigned char>(secret[0]));
    const auto is_digit = [&](size_t i) {
      return std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    };
    if (!digits) {
      return true;
    }
    const bool before = at > 0 && is_digit(at - 1);
    const bool after =
        at + secret.size() < text.size() && is_digit(at + secret.size());
    if (!before && !after) {
      return true;
    }
  }
  return false;
}

TEST(LogScrubTest, NoSecretReachesTheLogs) {
  TempDir dir;
  ServerProcess server(dir, {"--dev", "--db=dev.db", "--listen=127.0.0.1:0"});
  const int port = server.WaitForPort();
  ASSERT_NE(port, 0) << server.Stderr();
  std::string key;
  std::getline(std::ifstream(dir.File("dev.db.secret_key")), key);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto backend = BackendUsers::NewStub(channel);
  auto frontend = FrontendUsers::NewStub(channel);
  std::vector<std::string> secrets = {
      key, "Tr0ub4dor&3-horse", "wrong-horse-battery", "scrub@example.com",
      "scrub2@example.com"};

  CreateUserRequest create;
  create.add_email_addresses("scrub@example.com");
  create.set_password("Tr0ub4dor&3-horse");
  User user;
  ASSERT_TRUE(backend->CreateUser(Authed(key).get(), create, &user).ok());
  VerifyPasswordRequest wrong;
  wrong.set_user_id(user.id());
  wrong.set_password("wrong-horse-battery");
  VerifyPasswordResponse verdict;
  ASSERT_TRUE(backend->VerifyPassword(Authed(key).get(), wrong, &verdict).ok());

  SignInRequest sign_in;
  sign_in.set_identifier("scrub@example.com");
  sign_in.set_password("Tr0ub4dor&3-horse");
  SignInResponse signed_in;
  ASSERT_TRUE(frontend->SignIn(WithToken("").get(), sign_in, &signed_in).ok());
  secrets.push_back(signed_in.session_secret());
  secrets.push_back(signed_in.session_token());
  RefreshSessionTokenRequest refresh;
  refresh.set_session_id(signed_in.session().id());
  refresh.set_session_secret(signed_in.session_secret());
  RefreshSessionTokenResponse refreshed;
  ASSERT_TRUE(
      frontend->RefreshSessionToken(WithToken("").get(), refresh, &refreshed)
          .ok());
  secrets.push_back(refreshed.session_token());
  const std::string token = refreshed.session_token();

  CreateMyEmailAddressRequest add;
  add.set_email_address("scrub2@example.com");
  EmailAddress email;
  ASSERT_TRUE(
      frontend->CreateMyEmailAddress(WithToken(token).get(), add, &email).ok());
  PrepareEmailAddressVerificationRequest prepare;
  prepare.set_email_address_id(email.id());
  ASSERT_TRUE(frontend
                  ->PrepareEmailAddressVerification(WithToken(token).get(),
                                                    prepare, &email)
                  .ok());
  ListEventsRequest list;
  list.add_types("email.created");
  ListEventsResponse events;
  ASSERT_TRUE(backend->ListEvents(Authed(key).get(), list, &events).ok());
  ASSERT_EQ(events.events_size(), 1);
  const std::string code = events.events(0).email().code();
  secrets.push_back(code);
  AttemptEmailAddressVerificationRequest attempt;
  attempt.set_email_address_id(email.id());
  attempt.set_code(code == "000000" ? "000001" : "000000");  // Wrong first.
  frontend->AttemptEmailAddressVerification(WithToken(token).get(), attempt,
                                            &email);
  attempt.set_code(code);
  ASSERT_TRUE(frontend
                  ->AttemptEmailAddressVerification(WithToken(token).get(),
                                                    attempt, &email)
                  .ok());
  // Credentials that fail must not be echoed either.
  GetMeRequest get_me;
  FrontendUser me;
  EXPECT_FALSE(frontend->GetMe(WithToken(token + "x").get(), get_me, &me).ok());
  EXPECT_FALSE(
      backend->GetUser(Authed(key + "x").get(), GetUserRequest(), &user).ok());

  // Close the channel (a finished ClientContext would keep it alive): an
  // idle sync channel acks the drain's GOAWAY ping only when polled.
  backend.reset();
  frontend.reset();
  channel.reset();
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  const std::string log = server.Stderr();
  EXPECT_THAT(log, ::testing::HasSubstr("\"msg\":\"rpc\""))
      << "the run logged its RPCs";
  for (const auto& secret : secrets) {
    ASSERT_FALSE(secret.empty());
    EXPECT_FALSE(Contains(log, secret)) << "logged: " << secret;
  }
}

}  // namespace
}  // namespace roster

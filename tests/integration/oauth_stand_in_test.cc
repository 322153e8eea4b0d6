// Social sign-in against a stand-in OpenID provider on loopback whose every
// answer the test decides: forged ID tokens, a rotated signing key (refetched,
// but at most once a minute), answers too large to read, sign-up closed, a
// second factor after the ticket, the events, the last-identifier rule and
// the terms a sign-up may require.
#include "tests/integration/oauth_stand_in.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/data_keys.h"
#include "server/domain/totp.h"
#include "tests/testing/error_details.h"
#include "tests/testing/oauth_helpers.h"
#include "tests/testing/openid_provider.h"
#include "tests/testing/provider_key.h"
#include "tests/testing/server_process.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"
#include "tests/testing/watcher.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::kStandInApp;
using ::roster::testing::kStandInEmail;
using ::roster::testing::kStandInProvider;
using ::roster::testing::NoCredentials;
using ::roster::testing::QueryValue;
using ::roster::testing::ReasonOf;
using ::roster::testing::StandInProviderTest;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using ::roster::testing::WithToken;
using namespace roster::v1;  // NOLINT: the API's request and response types.

// Each way a token can be wrong, one at a time, ends the sign-in with
// OAUTH_PROVIDER_ERROR and no ticket.
TEST_F(StandInProviderTest, EachWrongIdTokenIsRefusedAndTheRightOneAccepted) {
  const nlohmann::json header = {{"alg", "ES256"}, {"kid", "k1"}};
  const testing::ProviderKey other_key("ES256");
  const std::vector<
      std::pair<std::string, std::function<std::string(const std::string&)>>>
      forgeries = {
          {"another key", SignedBy(other_key, "k1")},
          {"expired",
           [&](const std::string& url) {
             nlohmann::json claims = Claims(url);
             claims["exp"] = absl::ToUnixSeconds(absl::Now()) - 120;
             return key_.Sign(header, claims);
           }},
          {"another audience",
           [&](const std::string& url) {
             nlohmann::json claims = Claims(url);
             claims["aud"] = "another-client";
             return key_.Sign(header, claims);
           }},
          {"a wrong nonce",
           [&](const std::string& url) {
             nlohmann::json claims = Claims(url);
             claims["nonce"] = "nonce-of-another-sign-in";
             return key_.Sign(header, claims);
           }},
          {"another issuer",
           [&](const std::string& url) {
             nlohmann::json claims = Claims(url);
             claims["iss"] = "https://evil.example.com";
             return key_.Sign(header, claims);
           }},
          {"alg none",
           [&](const std::string& url) {
             return absl::StrCat(testing::B64Url(R"({"alg":"none"})"), ".",
                                 testing::B64Url(Claims(url).dump()), ".");
           }},
      };
  for (const auto& [what, forge] : forgeries) {
    const std::string back = SignInWith(forge);
    EXPECT_EQ(QueryValue(back, "roster_error"), "OAUTH_PROVIDER_ERROR")
        << what << ": " << back;
    EXPECT_EQ(QueryValue(back, "roster_ticket"), "") << what;
  }
  // The control: the same provider, a right token.
  const std::string back = SignInWith(SignedBy(key_, "k1"));
  EXPECT_TRUE(absl::StartsWith(QueryValue(back, "roster_ticket"), "sit_"))
      << back;

  // This server has no --data_keys_file: the provider's tokens were not
  // kept, and asking for them says why.
  ListUsersRequest list;
  ListUsersResponse users;
  ASSERT_TRUE(backend_->ListUsers(Authed().get(), list, &users).ok());
  ASSERT_EQ(users.users_size(), 1);
  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(users.users(0).id());
  request.set_provider(kStandInProvider);
  OAuthAccessToken token;
  const grpc::Status status =
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &token);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "DATA_KEYS_MISSING");
  EXPECT_EQ(server_->database().Int("SELECT count(*) FROM oauth_tokens"), 0);
}

// A provider rotates its signing key: a token under the new kid makes Roster
// fetch the JWK Set again, but no more than once a minute, so tokens with
// made-up kids cannot make Roster hammer the provider.
TEST_F(StandInProviderTest, ARotatedKeyIsRefetchedAtMostOnceAMinute) {
  ASSERT_TRUE(absl::StartsWith(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"), "sit_"));
  EXPECT_EQ(JwksFetches(), 1);

  const testing::ProviderKey rotated("ES256");
  Publish({{"k2", &rotated}});
  // The keys were fetched moments ago: k2 is not looked for yet.
  EXPECT_EQ(QueryValue(SignInWith(SignedBy(rotated, "k2")), "roster_error"),
            "OAUTH_PROVIDER_ERROR");
  EXPECT_EQ(JwksFetches(), 1);

  server_->AdvanceClock(absl::Seconds(61));
  EXPECT_TRUE(absl::StartsWith(
      QueryValue(SignInWith(SignedBy(rotated, "k2")), "roster_ticket"), "sit_"))
      << "the rotated key is fetched and accepted";
  EXPECT_EQ(JwksFetches(), 2);

  // Unknown kids, one after another, within the minute: no fetch.
  const testing::ProviderKey unknown("ES256");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(QueryValue(SignInWith(SignedBy(unknown, absl::StrCat("x", i))),
                         "roster_error"),
              "OAUTH_PROVIDER_ERROR");
  }
  EXPECT_EQ(JwksFetches(), 2);
  // The retired key is gone from the set Roster holds.
  EXPECT_EQ(QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_error"),
            "OAUTH_PROVIDER_ERROR");
}

// Answers over the bound (64 KiB for tokens) are not read to the end: the
// sign-in fails cleanly and the server goes on serving.
TEST_F(StandInProviderTest, AnOversizedAnswerEndsTheSignInNotTheServer) {
  PadTokenAnswers(size_t{16} << 20);  // 16 MiB around right tokens.
  const absl::Time started = absl::Now();
  const std::string back = SignInWith(SignedBy(key_, "k1"));
  EXPECT_EQ(QueryValue(back, "roster_error"), "OAUTH_PROVIDER_ERROR") << back;
  EXPECT_LT(absl::Now() - started, absl::Seconds(10));
  EXPECT_EQ(Users(), 0);

  PadTokenAnswers(0);
  EXPECT_TRUE(absl::StartsWith(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"), "sit_"));
  EXPECT_EQ(Users(), 1);
}

// A sign-up through a provider tells consumers what any sign-up does
// (user.created, then session.created at the ticket), and an account that is
// a user's only way in cannot be removed by that user.
TEST_F(StandInProviderTest, ASocialSignUpIsAnnouncedAndItsOnlyAccountKept) {
  const std::string back = SignInWith(SignedBy(key_, "k1"));
  const SignInResponse signed_in =
      ExchangeTicket(QueryValue(back, "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE) << back;
  const std::string user_id = signed_in.user().id();

  testing::Watcher watcher(*backend_, 0, {"user.created", "session.created"});
  const std::vector<Event> events = watcher.Next(2);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].type(), "user.created");
  EXPECT_EQ(events[0].user_id(), user_id);
  EXPECT_FALSE(events[0].user().has_legal_accepted_at());  // Never asked.
  ASSERT_EQ(events[0].user().external_accounts_size(), 1);
  EXPECT_EQ(events[0].user().external_accounts(0).provider_user_id(),
            "forged-user");
  EXPECT_EQ(events[1].type(), "session.created");
  EXPECT_EQ(events[1].user_id(), user_id);
  EXPECT_EQ(events[1].session().id(), signed_in.session().id());

  FrontendUser me;
  ASSERT_TRUE(frontend_
                  ->GetMe(WithToken(signed_in.session_token()).get(),
                          GetMeRequest(), &me)
                  .ok());
  ASSERT_EQ(me.external_accounts_size(), 1);
  // The provider's address goes; the account is then all.
  ASSERT_EQ(me.email_addresses_size(), 1);
  DeleteMyEmailAddressRequest remove_email;
  remove_email.set_email_address_id(me.email_addresses(0).id());
  DeletedObject removed;
  ASSERT_TRUE(
      frontend_
          ->DeleteMyEmailAddress(WithToken(signed_in.session_token()).get(),
                                 remove_email, &removed)
          .ok());
  DeleteMyExternalAccountRequest remove;
  remove.set_external_account_id(me.external_accounts(0).id());
  DeletedObject after;
  const grpc::Status refused = frontend_->DeleteMyExternalAccount(
      WithToken(signed_in.session_token()).get(), remove, &after);
  EXPECT_EQ(refused.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(refused), "LAST_IDENTIFIER");
}

// The same provider, with --data_keys_file: TOTP secrets and the provider's
// tokens are kept.
class StandInWithDataKeysTest : public StandInProviderTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.data_keys = domain::DataKeys::NewFile();
  }
};

// An account's owner with an authenticator app: the ticket alone is the
// first factor, and the sign-in waits for the code (DESIGN §11: "second
// factors still apply").
TEST_F(StandInWithDataKeysTest, ASecondFactorIsAskedForAfterTheTicket) {
  CreateUserRequest create;
  create.add_email_addresses(kStandInEmail);
  User kim;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &kim).ok());
  const std::string token = testing::NewSessionToken(*backend_, kim.id());
  Totp totp;
  ASSERT_TRUE(
      frontend_
          ->CreateMyTotp(WithToken(token).get(), CreateMyTotpRequest(), &totp)
          .ok());
  const std::string secret = *domain::Base32Decode(totp.secret());
  VerifyMyTotpRequest verify;
  verify.set_code(domain::TotpCode(secret, domain::TotpStepAt(server_->Now())));
  ASSERT_TRUE(
      frontend_->VerifyMyTotp(WithToken(token).get(), verify, &totp).ok());

  const std::string back = SignInWith(SignedBy(key_, "k1"));
  const SignInResponse first =
      ExchangeTicket(QueryValue(back, "roster_ticket"));
  EXPECT_EQ(first.status(), SignInAttempt::STATUS_NEEDS_SECOND_FACTOR);
  EXPECT_TRUE(first.session_token().empty());
  EXPECT_FALSE(first.has_session());

  AttemptSignInFactorRequest attempt;
  attempt.set_sign_in_attempt_id(first.sign_in_attempt().id());
  attempt.set_strategy("totp");
  attempt.set_code(
      domain::TotpCode(secret, domain::TotpStepAt(server_->Now()) + 1));
  SignInResponse done;
  const grpc::Status status =
      frontend_->AttemptSignInFactor(NoCredentials().get(), attempt, &done);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(done.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_FALSE(done.session_token().empty());
  EXPECT_EQ(done.user().id(), kim.id());
}

// Backends asking for an expired access token at once share one refresh:
// the provider rotates refresh tokens, so a second refresh with the same
// token would be refused and the token lost.
TEST_F(StandInWithDataKeysTest, ConcurrentCallsShareOneRefresh) {
  HoldFirstRefresh();
  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  server_->AdvanceClock(absl::Minutes(2));  // Past the minute "at-0" lasts.

  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(signed_in.user().id());
  request.set_provider(kStandInProvider);
  constexpr size_t kCallers = 4;
  std::vector<OAuthAccessToken> tokens(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (size_t i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      statuses[i] = backend_->GetUserOAuthAccessToken(Authed().get(), request,
                                                      &tokens[i]);
    });
  }
  for (std::thread& caller : callers) {
    caller.join();
  }
  for (size_t i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(tokens[i].token(), "at-1") << i;
  }
  EXPECT_EQ(Refreshes(), 1);
}

// A refresh the provider refuses gives its lease back at once: the next call
// refreshes, where a lease left behind would hold every caller for 25 s.
TEST_F(StandInWithDataKeysTest, AFailedRefreshGivesItsLeaseBack) {
  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  server_->AdvanceClock(absl::Minutes(2));  // Past the minute "at-0" lasts.
  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(signed_in.user().id());
  request.set_provider(kStandInProvider);

  FailRefreshes(1);
  OAuthAccessToken token;
  grpc::Status status =
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &token);
  EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(status), "OAUTH_PROVIDER_ERROR");
  EXPECT_EQ(Refreshes(), 1);
  EXPECT_EQ(server_->database().Int(
                "SELECT count(*) FROM oauth_tokens WHERE refresh_lease_until "
                "<> 0"),
            0);

  // Well inside the lease the failed call would otherwise have left.
  auto context = Authed();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
  status = backend_->GetUserOAuthAccessToken(context.get(), request, &token);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(token.token(), "at-2");
  EXPECT_EQ(Refreshes(), 2);
}

// The user granted less than Roster asked for (openid email profile), and
// the refresh answer names no scope: RFC 6749 §6 makes that the scope first
// granted, not the one asked for.
TEST_F(StandInWithDataKeysTest, ARefreshWithoutScopeKeepsTheGrantedScopes) {
  GrantScope("openid email");
  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(signed_in.user().id());
  request.set_provider(kStandInProvider);
  OAuthAccessToken kept;
  ASSERT_TRUE(
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &kept).ok());
  EXPECT_EQ(kept.token(), "at-0");
  EXPECT_THAT(kept.scopes(), ::testing::ElementsAre("openid", "email"));

  server_->AdvanceClock(absl::Minutes(2));  // Past the minute "at-0" lasts.
  OAuthAccessToken refreshed;
  const grpc::Status status =
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &refreshed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(refreshed.token(), "at-1");
  EXPECT_THAT(refreshed.scopes(), ::testing::ElementsAre("openid", "email"));
}

class OAuthRestrictedSignUpTest : public StandInProviderTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.sign_up_mode = "restricted";
  }
};

// Under --sign_up_mode=restricted a provider account nobody holds makes no
// user; one whose verified email is a user's still links and signs in.
TEST_F(OAuthRestrictedSignUpTest, ANewAccountIsRefusedButAKnownEmailLinks) {
  const std::string refused = SignInWith(SignedBy(key_, "k1"));
  EXPECT_EQ(QueryValue(refused, "roster_error"), "SIGN_UP_RESTRICTED")
      << refused;
  EXPECT_EQ(QueryValue(refused, "roster_ticket"), "");
  EXPECT_EQ(Users(), 0);

  CreateUserRequest create;
  create.add_email_addresses(kStandInEmail);
  User invited;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &invited).ok());
  const std::string back = SignInWith(SignedBy(key_, "k1"));
  const SignInResponse signed_in =
      ExchangeTicket(QueryValue(back, "roster_ticket"));
  EXPECT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE) << back;
  EXPECT_EQ(signed_in.user().id(), invited.id());
  EXPECT_EQ(Users(), 1);
}

class OAuthLegalAcceptanceTest : public StandInProviderTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.sign_up_required = {"email_address", "legal_accepted"};
  }
};

// When sign-up requires the terms, a provider account nobody holds makes a
// user only if the person starting the sign-in accepted them, and the user
// records when; once the user exists, signing in asks nothing more.
TEST_F(OAuthLegalAcceptanceTest, ANewUserMustHaveAcceptedTheTerms) {
  const std::string refused = SignInWith(SignedBy(key_, "k1"));
  EXPECT_EQ(QueryValue(refused, "roster_error"), "SIGN_UP_INCOMPLETE")
      << refused;
  EXPECT_EQ(QueryValue(refused, "roster_ticket"), "");
  EXPECT_EQ(Users(), 0);

  const int64_t before = absl::ToUnixSeconds(absl::Now());
  const std::string accepted =
      SignInWith(SignedBy(key_, "k1"), /*legal_accepted=*/true);
  const SignInResponse signed_up =
      ExchangeTicket(QueryValue(accepted, "roster_ticket"));
  ASSERT_EQ(signed_up.status(), SignInAttempt::STATUS_COMPLETE) << accepted;
  GetUserRequest get;
  get.set_user_id(signed_up.user().id());
  User user;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &user).ok());
  ASSERT_TRUE(user.has_legal_accepted_at());
  EXPECT_GE(user.legal_accepted_at().seconds(), before);
  EXPECT_LE(user.legal_accepted_at().seconds(),
            absl::ToUnixSeconds(absl::Now()));

  const std::string again = SignInWith(SignedBy(key_, "k1"));
  EXPECT_EQ(ExchangeTicket(QueryValue(again, "roster_ticket")).user().id(),
            user.id())
      << again;
  EXPECT_EQ(Users(), 1);
}

}  // namespace
}  // namespace roster

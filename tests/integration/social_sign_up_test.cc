// A social sign-up that needs more than the provider gives (DESIGN §10–11):
// with --sign_up_required asking for a username, the provider's callback
// makes no user but a sign-up holding the account, and the person completes
// it with UpdateSignUp, as Clerk's missing_requirements sign-ups do.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/data_keys.h"
#include "tests/integration/oauth_stand_in.h"
#include "tests/testing/error_details.h"
#include "tests/testing/pending_sign_up.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::ErrorMetadataOf;
using ::roster::testing::kStandInEmail;
using ::roster::testing::kStandInProvider;
using ::roster::testing::NoCredentials;
using ::roster::testing::QueryValue;
using ::roster::testing::ReasonOf;
using ::roster::testing::StandInProviderTest;
using ::testing::ElementsAre;
using namespace roster::v1;  // NOLINT: the API's request and response types.

class SocialSignUpTest : public StandInProviderTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.sign_up_required = {"email_address", "password", "username"};
    config.data_keys = domain::DataKeys::NewFile();  // The tokens are kept.
  }

  // Signs in with the stand-in as a new account: the sign-up its ticket
  // names (SIGN_UP_INCOMPLETE), or "" with a failure.
  std::string PendingSignUp() {
    const std::string back = SignInWith(SignedBy(key_, "k1"));
    return testing::PendingSignUpOf(*frontend_,
                                    QueryValue(back, "roster_ticket"));
  }

  grpc::Status Update(const std::string& sign_up_id,
                      const std::string& username, SignUpResponse& response) {
    UpdateSignUpRequest request;
    request.set_sign_up_id(sign_up_id);
    request.set_username(username);
    return frontend_->UpdateSignUp(NoCredentials().get(), request, &response);
  }
};

// The provider gives a verified email but no username: no user until the
// person gives one, then a user with the account, the email as the provider
// verified it, the username, the provider's tokens and a session; signing in
// again with the provider asks nothing more.
TEST_F(SocialSignUpTest, AMissingUsernameIsAskedForBeforeTheUserExists) {
  const std::string back = SignInWith(SignedBy(key_, "k1"));
  const std::string ticket = QueryValue(back, "roster_ticket");
  ASSERT_TRUE(absl::StartsWith(ticket, "sit_")) << back;
  EXPECT_EQ(Users(), 0);
  SignInWithTicketRequest exchange;
  exchange.set_ticket(ticket);
  SignInResponse unused;
  const grpc::Status incomplete =
      frontend_->SignInWithTicket(NoCredentials().get(), exchange, &unused);
  ASSERT_EQ(incomplete.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(incomplete), "SIGN_UP_INCOMPLETE");
  const std::string sign_up_id = ErrorMetadataOf(incomplete, "sign_up_id");
  ASSERT_TRUE(absl::StartsWith(sign_up_id, "su_")) << sign_up_id;
  // Single use, as every ticket.
  const grpc::Status again =
      frontend_->SignInWithTicket(NoCredentials().get(), exchange, &unused);
  EXPECT_EQ(ReasonOf(again), "TICKET_INVALID");

  const SignUp pending = testing::ReadSignUp(*frontend_, sign_up_id);
  EXPECT_EQ(pending.status(), SignUp::STATUS_MISSING_REQUIREMENTS);
  // No password: the provider is the way in.
  EXPECT_THAT(pending.required_fields(),
              ElementsAre("email_address", "username"));
  EXPECT_THAT(pending.missing_fields(), ElementsAre("username"));
  EXPECT_THAT(pending.unverified_fields(), ::testing::IsEmpty());
  EXPECT_EQ(pending.email_address(), kStandInEmail);
  // It says whose account it holds, as Clerk's verifications.external_account.
  EXPECT_EQ(pending.external_account_verification().status(),
            Verification::STATUS_VERIFIED);
  EXPECT_EQ(pending.external_account_verification().strategy(),
            std::string("from_") + kStandInProvider);
  EXPECT_EQ(Users(), 0);

  SignUpResponse completed;
  ASSERT_TRUE(Update(sign_up_id, "forged_person", completed).ok());
  EXPECT_EQ(completed.sign_up().status(), SignUp::STATUS_COMPLETE);
  ASSERT_FALSE(completed.session_token().empty());
  const std::string user_id = completed.user().id();
  GetUserRequest get;
  get.set_user_id(user_id);
  User user;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &user).ok());
  EXPECT_EQ(user.username(), "forged_person");
  EXPECT_FALSE(user.password_enabled());
  ASSERT_EQ(user.email_addresses_size(), 1);
  EXPECT_EQ(user.email_addresses(0).email_address(), kStandInEmail);
  EXPECT_EQ(user.email_addresses(0).verification().strategy(),
            std::string("from_") + kStandInProvider);
  ASSERT_EQ(user.external_accounts_size(), 1);
  EXPECT_EQ(user.external_accounts(0).provider(), kStandInProvider);
  EXPECT_EQ(user.external_accounts(0).provider_user_id(), "forged-user");
  GetUserOAuthAccessTokenRequest tokens;
  tokens.set_user_id(user_id);
  tokens.set_provider(kStandInProvider);
  OAuthAccessToken token;
  ASSERT_TRUE(
      backend_->GetUserOAuthAccessToken(Authed().get(), tokens, &token).ok());
  EXPECT_EQ(token.token(), "at-0");
  EXPECT_EQ(token.external_account_id(), user.external_accounts(0).id());

  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  EXPECT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_EQ(signed_in.user().id(), user_id);
  EXPECT_EQ(Users(), 1);
}

// Two sign-ups of one provider account (say, two tabs): the first to complete
// makes the user, and the other cannot make a second.
TEST_F(SocialSignUpTest, TheFirstOfTwoSignUpsOfOneAccountWins) {
  const std::string first = PendingSignUp();
  const std::string second = PendingSignUp();
  ASSERT_FALSE(first.empty());
  ASSERT_NE(first, second);
  SignUpResponse completed;
  ASSERT_TRUE(Update(first, "first_tab", completed).ok());
  EXPECT_EQ(completed.sign_up().status(), SignUp::STATUS_COMPLETE);
  SignUpResponse refused;
  const grpc::Status status = Update(second, "second_tab", refused);
  EXPECT_EQ(status.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(status), "IDENTIFIER_EXISTS");
  EXPECT_EQ(Users(), 1);
}

// The address the provider verified, changed on the sign-up and changed back,
// is verified again without a code; another address needs one. A sign-up
// that no provider started holds no provider account.
TEST_F(SocialSignUpTest, TheProvidersAddressChangedBackNeedsNoCode) {
  const std::string sign_up_id = PendingSignUp();
  ASSERT_FALSE(sign_up_id.empty());
  auto set_email = [&](const std::string& email) {
    UpdateSignUpRequest request;
    request.set_sign_up_id(sign_up_id);
    request.set_email_address(email);
    SignUpResponse response;
    EXPECT_TRUE(
        frontend_->UpdateSignUp(NoCredentials().get(), request, &response)
            .ok());
    return response.sign_up();
  };
  const SignUp changed = set_email("someone.else@example.com");
  EXPECT_THAT(changed.unverified_fields(), ElementsAre("email_address"));
  EXPECT_EQ(changed.email_address_verification().status(),
            Verification::STATUS_UNVERIFIED);
  const SignUp back = set_email(kStandInEmail);
  EXPECT_THAT(back.unverified_fields(), ::testing::IsEmpty());
  EXPECT_EQ(back.email_address_verification().status(),
            Verification::STATUS_VERIFIED);
  EXPECT_EQ(back.email_address_verification().strategy(),
            std::string("from_") + kStandInProvider);
  EXPECT_TRUE(back.has_external_account_verification());

  SignUpResponse completed;
  ASSERT_TRUE(Update(sign_up_id, "changed_back", completed).ok());
  EXPECT_EQ(completed.sign_up().status(), SignUp::STATUS_COMPLETE);
  ASSERT_EQ(completed.user().email_addresses_size(), 1);
  EXPECT_EQ(completed.user().email_addresses(0).verification().strategy(),
            std::string("from_") + kStandInProvider);

  CreateSignUpRequest plain;
  plain.set_email_address("plain@example.com");
  SignUpResponse created;
  ASSERT_TRUE(
      frontend_->CreateSignUp(NoCredentials().get(), plain, &created).ok());
  EXPECT_FALSE(created.sign_up().has_external_account_verification());
}

class SocialSignUpNeedingNothingMoreTest : public StandInProviderTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.sign_up_required = {"email_address", "password", "first_name"};
  }
};

// A password is never asked of a social sign-up, and a name the provider
// gave is one the sign-up has: the user is made at the callback.
TEST_F(SocialSignUpNeedingNothingMoreTest, TheUserIsMadeAtOnce) {
  const std::string back = SignInWith([this](const std::string& url) {
    nlohmann::json claims = Claims(url);
    claims["given_name"] = "Ada";
    return key_.Sign({{"alg", "ES256"}, {"kid", "k1"}}, claims);
  });
  const SignInResponse signed_up =
      ExchangeTicket(QueryValue(back, "roster_ticket"));
  EXPECT_EQ(signed_up.status(), SignInAttempt::STATUS_COMPLETE) << back;
  EXPECT_EQ(signed_up.user().first_name(), "Ada");
  EXPECT_EQ(Users(), 1);
}

// The same server when the provider gives no name: the sign-up asks for it.
TEST_F(SocialSignUpNeedingNothingMoreTest,
       ANameTheProviderDidNotGiveIsAskedFor) {
  const std::string back = SignInWith(SignedBy(key_, "k1"));
  UpdateSignUpRequest update;
  update.set_sign_up_id(
      testing::PendingSignUpOf(*frontend_, QueryValue(back, "roster_ticket")));
  update.set_first_name("Grace");
  SignUpResponse completed;
  ASSERT_TRUE(
      frontend_->UpdateSignUp(NoCredentials().get(), update, &completed).ok());
  EXPECT_EQ(completed.sign_up().status(), SignUp::STATUS_COMPLETE);
  EXPECT_EQ(completed.user().first_name(), "Grace");
  EXPECT_EQ(Users(), 1);
}

}  // namespace
}  // namespace roster

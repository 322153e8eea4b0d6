// Social sign-in (DESIGN §11) against a real OpenID provider on loopback
// (oidc-provider): StartOAuth over gRPC, the provider's login and consent
// pages driven over HTTP, Roster's /v1/oauth/callback, the ticket, and the
// linking rules; then each refusal a caller or a provider can cause.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/data_keys.h"
#include "server/oauth/providers.h"
#include "tests/testing/error_details.h"
#include "tests/testing/oauth_helpers.h"
#include "tests/testing/openid_provider.h"
#include "tests/testing/pending_sign_up.h"
#include "tests/testing/require.h"
#include "tests/testing/server_process.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::OpenIdProvider;
using ::roster::testing::ProvidersFrom;
using ::roster::testing::QueryValue;
using ::roster::testing::ReasonOf;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using ::roster::testing::WithToken;
using namespace roster::v1;  // NOLINT: the API's request and response types.

constexpr char kApp[] = "https://app.example.com/auth";
constexpr char kProvider[] = "oauth_custom_corp";

class OAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ROSTER_REQUIRE(testing::OpenIdProviderUnavailableReason());
    // The provider holds its port from here, so the server can be set up
    // first, binding a port of its own; the provider learns the callback URL
    // from it as it starts. No port is left free for another test to take.
    provider_ = std::make_unique<OpenIdProvider>(dir_);
    std::ofstream(dir_.File("client-secret"))
        << testing::kProviderClientSecret << "\n";
    const nlohmann::json providers = {
        {{"provider", kProvider},
         {"client_id", "roster"},
         {"client_secret_file", dir_.File("client-secret")},
         {"issuer", provider_->issuer()}}};
    auto parsed = ProvidersFrom(providers);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    server_ = std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config.http_listen = "127.0.0.1:0";
      config.oauth.providers = *parsed;
      config.oauth.allowed_redirect_urls = {kApp};
      config.data_keys = domain::DataKeys::NewFile();  // Tokens are kept.
    });
    callback_ = absl::StrCat("http://127.0.0.1:", server_->server().http_port(),
                             "/v1/oauth/callback");
    provider_->Start(callback_);
    frontend_ = FrontendUsers::NewStub(server_->channel());
    backend_ = server_->Backend();
  }

  grpc::Status Start(const std::string& redirect_url,
                     StartOAuthRequest::Action action, std::string* url,
                     const std::string& token = "",
                     const std::string& provider = kProvider) {
    StartOAuthRequest request;
    request.set_provider(provider);
    request.set_redirect_url(redirect_url);
    request.set_action(action);
    StartOAuthResponse response;
    grpc::Status status = frontend_->StartOAuth(
        token.empty() ? NoCredentials().get() : WithToken(token).get(), request,
        &response);
    *url = response.authorization_url();
    return status;
  }

  // Signs `login` in at the provider and returns where Roster sent the
  // browser back to (kApp…), with the callback URL it visited.
  std::string SignInAt(
      const std::string& login,
      StartOAuthRequest::Action action = StartOAuthRequest::ACTION_SIGN_IN,
      const std::string& token = "", std::string* callback = nullptr) {
    std::string url;
    const grpc::Status started =
        Start(absl::StrCat(kApp, "/done"), action, &url, token);
    EXPECT_TRUE(started.ok()) << started.error_message();
    const nlohmann::json result = provider_->Browse(url, login, kApp);
    EXPECT_TRUE(absl::StartsWith(result.value("location", ""), kApp))
        << result.dump(2) << "\n"
        << provider_->Log();
    if (callback != nullptr) {
      for (const auto& visited : result["visited"]) {
        if (absl::StartsWith(visited.get<std::string>(), callback_)) {
          *callback = visited.get<std::string>();
        }
      }
    }
    return result.value("location", "");
  }

  // The ticket exchanged: the signed-in user, and their session token.
  User Exchange(const std::string& ticket, std::string* token = nullptr) {
    SignInWithTicketRequest request;
    request.set_ticket(ticket);
    SignInResponse response;
    const grpc::Status status =
        frontend_->SignInWithTicket(NoCredentials().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.status(), SignInAttempt::STATUS_COMPLETE);
    if (token != nullptr) {
      *token = response.session_token();
    }
    GetUserRequest get;
    get.set_user_id(response.user().id());
    User user;
    EXPECT_TRUE(backend_->GetUser(Authed().get(), get, &user).ok());
    return user;
  }

  // GET on Roster's HTTP listener, redirects not followed.
  httplib::Result Get(const std::string& url) const {
    const std::string rest = url.substr(url.find("//") + 2);
    const std::string host_port = rest.substr(0, rest.find('/'));
    httplib::Client client(absl::StrCat("http://", host_port));
    return client.Get(rest.substr(rest.find('/')));
  }

  TempDir dir_;
  std::string callback_;
  std::unique_ptr<OpenIdProvider> provider_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<FrontendUsers::Stub> frontend_;
  std::unique_ptr<BackendUsers::Stub> backend_;
};

TEST_F(OAuthTest, ANewAccountSignsUpThenSignsInAgainAsTheSameUser) {
  std::string callback;
  const std::string back =
      SignInAt("alice", StartOAuthRequest::ACTION_SIGN_IN, "", &callback);
  ASSERT_TRUE(
      absl::StartsWith(back, absl::StrCat(kApp, "/done?roster_ticket=sit_")))
      << back;
  std::string token;
  const User alice = Exchange(QueryValue(back, "roster_ticket"), &token);
  ASSERT_EQ(alice.email_addresses_size(), 1);
  EXPECT_EQ(alice.email_addresses(0).email_address(), "alice@example.com");
  EXPECT_EQ(alice.email_addresses(0).verification().status(),
            Verification::STATUS_VERIFIED);
  EXPECT_EQ(alice.email_addresses(0).verification().strategy(),
            "from_oauth_custom_corp");
  EXPECT_EQ(alice.first_name(), "Test");
  EXPECT_EQ(alice.last_name(), "alice");
  ASSERT_EQ(alice.external_accounts_size(), 1);
  EXPECT_EQ(alice.external_accounts(0).provider(), kProvider);
  EXPECT_EQ(alice.external_accounts(0).provider_user_id(), "alice");
  EXPECT_FALSE(token.empty());

  // The callback's state is used up: replaying it is refused, and names no
  // app to return to.
  auto replay = Get(callback);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 400);
  EXPECT_EQ(replay->body, "OAUTH_STATE_INVALID\n");

  // Again: the same user, no second account.
  const User again = Exchange(QueryValue(SignInAt("alice"), "roster_ticket"));
  EXPECT_EQ(again.id(), alice.id());
  EXPECT_EQ(again.external_accounts_size(), 1);
}

TEST_F(OAuthTest, AVerifiedEmailLinksTheAccountToItsUser) {
  CreateUserRequest create;
  create.add_email_addresses("bob@example.com");  // Verified (admin).
  User bob;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &bob).ok());
  const User signed_in = Exchange(QueryValue(SignInAt("bob"), "roster_ticket"));
  EXPECT_EQ(signed_in.id(), bob.id());
  ASSERT_EQ(signed_in.external_accounts_size(), 1);
  EXPECT_EQ(signed_in.email_addresses_size(), 1);  // Not added twice.

  // An address the provider did not verify links nothing, even to the user
  // who holds it: carol's account starts a sign-up without the address, which
  // asks for one (--sign_up_required lists email_address).
  create.set_email_addresses(0, "other@example.com");
  User holder;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &holder).ok());
  provider_->SetAccount(
      "carol", {{"email", "other@example.com"}, {"email_verified", false}});
  const SignUp carol = testing::ReadSignUp(
      *frontend_,
      testing::PendingSignUpOf(*frontend_,
                               QueryValue(SignInAt("carol"), "roster_ticket")));
  EXPECT_EQ(carol.email_address(), "");
  EXPECT_THAT(carol.missing_fields(), ::testing::ElementsAre("email_address"));
  GetUserRequest get;
  get.set_user_id(holder.id());
  User unchanged;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &unchanged).ok());
  EXPECT_EQ(unchanged.external_accounts_size(), 0);
}

// DESIGN §11: the new user's image comes from the claims (as Clerk's does),
// when the provider's picture is an https URL an app can show as it is.
TEST_F(OAuthTest, ANewUsersProfileImageIsTheProvidersHttpsPicture) {
  const std::string picture = "https://images.example/u/dora.png?s=96";
  provider_->SetAccount("dora", {{"picture", picture}});
  const User dora = Exchange(QueryValue(SignInAt("dora"), "roster_ticket"));
  EXPECT_EQ(dora.image_url(), picture);
  EXPECT_TRUE(dora.has_image());
  ASSERT_EQ(dora.external_accounts_size(), 1);
  EXPECT_EQ(dora.external_accounts(0).image_url(), picture);

  // Removed by the user (here, a backend), it does not come back with the
  // next sign-in: only a new user takes the picture.
  DeleteProfileImageRequest remove;
  remove.set_user_id(dora.id());
  User removed;
  ASSERT_TRUE(
      backend_->DeleteProfileImage(Authed().get(), remove, &removed).ok());
  EXPECT_FALSE(removed.has_image());
  const User again = Exchange(QueryValue(SignInAt("dora"), "roster_ticket"));
  EXPECT_EQ(again.id(), dora.id());
  EXPECT_EQ(again.image_url(), "");

  // Anything else is dropped, from the user and the account alike.
  int n = 0;
  for (const std::string bad :
       {"http://images.example/u/erin.png", "javascript:alert(1)",
        "https://images.example/u/a b.png", "/u/erin.png",
        "https://images.example/\"onerror=\"x"}) {
    const std::string login = absl::StrCat("erin", n++);
    provider_->SetAccount(login, {{"picture", bad}});
    const User erin = Exchange(QueryValue(SignInAt(login), "roster_ticket"));
    EXPECT_EQ(erin.image_url(), "") << bad;
    EXPECT_FALSE(erin.has_image()) << bad;
    ASSERT_EQ(erin.external_accounts_size(), 1);
    EXPECT_EQ(erin.external_accounts(0).image_url(), "") << bad;
  }
}

// Each sign-in brings the external account up to what the provider says now
// (as Clerk's do); the user's own names and image stay theirs, and a sign-in
// that brings nothing new writes nothing.
TEST_F(OAuthTest, EachSignInRefreshesTheAccountButNotTheUser) {
  const std::string before = "https://images.example/u/fay-1.png";
  provider_->SetAccount(
      "fay",
      {{"given_name", "Fay"}, {"family_name", "Old"}, {"picture", before}});
  std::string token;
  const User fay =
      Exchange(QueryValue(SignInAt("fay"), "roster_ticket"), &token);
  ASSERT_EQ(fay.external_accounts_size(), 1);
  EXPECT_EQ(fay.external_accounts(0).last_name(), "Old");

  // The same claims again: the same user, not written (same etag).
  const User same = Exchange(QueryValue(SignInAt("fay"), "roster_ticket"));
  EXPECT_EQ(same.etag(), fay.etag());
  EXPECT_EQ(
      TimeUtil::TimestampToNanoseconds(same.external_accounts(0).updated_at()),
      TimeUtil::TimestampToNanoseconds(fay.external_accounts(0).updated_at()));

  // New claims at the provider reach the account, not the user.
  const std::string after = "https://images.example/u/fay-2.png";
  provider_->SetAccount("fay", {{"given_name", "Fay"},
                                {"family_name", "New"},
                                {"email", "fay@new.example"},
                                {"picture", after}});
  const User renamed = Exchange(QueryValue(SignInAt("fay"), "roster_ticket"));
  EXPECT_EQ(renamed.id(), fay.id());
  EXPECT_NE(renamed.etag(), fay.etag());
  ASSERT_EQ(renamed.external_accounts_size(), 1);
  const ExternalAccount& account = renamed.external_accounts(0);
  EXPECT_EQ(account.id(), fay.external_accounts(0).id());
  EXPECT_EQ(account.last_name(), "New");
  EXPECT_EQ(account.email_address(), "fay@new.example");
  EXPECT_EQ(account.image_url(), after);
  EXPECT_GT(
      TimeUtil::TimestampToNanoseconds(account.updated_at()),
      TimeUtil::TimestampToNanoseconds(fay.external_accounts(0).updated_at()));
  EXPECT_EQ(renamed.last_name(), "Old");
  EXPECT_EQ(renamed.image_url(), before);
  ASSERT_EQ(renamed.email_addresses_size(), 1);
  EXPECT_EQ(renamed.email_addresses(0).email_address(), "fay@example.com");

  // Connecting the same account again refreshes it too.
  provider_->SetAccount("fay", {{"family_name", "Newer"}});
  EXPECT_EQ(SignInAt("fay", StartOAuthRequest::ACTION_CONNECT, token),
            absl::StrCat(kApp, "/done"));
  GetUserRequest get;
  get.set_user_id(fay.id());
  User connected;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &connected).ok());
  ASSERT_EQ(connected.external_accounts_size(), 1);
  EXPECT_EQ(connected.external_accounts(0).last_name(), "Newer");
  EXPECT_EQ(connected.external_accounts(0).image_url(), "");
  EXPECT_EQ(connected.image_url(), before);
}

TEST_F(OAuthTest, ConnectLinksASecondAccountButNeverAnotherUsersAccount) {
  std::string token;
  const User alice =
      Exchange(QueryValue(SignInAt("alice"), "roster_ticket"), &token);
  const std::string back =
      SignInAt("alice-work", StartOAuthRequest::ACTION_CONNECT, token);
  EXPECT_EQ(back, absl::StrCat(kApp, "/done"));  // No ticket, no error.
  GetUserRequest get;
  get.set_user_id(alice.id());
  User linked;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &linked).ok());
  ASSERT_EQ(linked.external_accounts_size(), 2);
  EXPECT_EQ(linked.external_accounts(1).provider_user_id(), "alice-work");
  EXPECT_EQ(linked.email_addresses_size(), 2);

  Exchange(QueryValue(SignInAt("dave"), "roster_ticket"));  // dave's own.
  EXPECT_EQ(
      QueryValue(SignInAt("dave", StartOAuthRequest::ACTION_CONNECT, token),
                 "roster_error"),
      "IDENTIFIER_EXISTS");

  // CONNECT needs a session.
  std::string url;
  EXPECT_EQ(Start(kApp, StartOAuthRequest::ACTION_CONNECT, &url).error_code(),
            grpc::UNAUTHENTICATED);
}

TEST_F(OAuthTest, TheProvidersTokensAreKeptSealedAndRefreshedWhenExpired) {
  const User alice = Exchange(QueryValue(SignInAt("alice"), "roster_ticket"));
  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(alice.id());
  request.set_provider(kProvider);
  OAuthAccessToken first;
  grpc::Status status =
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(first.external_account_id(), alice.external_accounts(0).id());
  EXPECT_TRUE(first.has_expire_at());
  EXPECT_EQ(first.scopes_size(), 3);  // openid email profile
  // The provider takes it: it is the token it issued.
  EXPECT_EQ(provider_->UserInfo(first.token()).value("sub", ""), "alice");
  // Sealed at rest: the token appears nowhere in the table.
  EXPECT_EQ(server_->database().Int("SELECT count(*) FROM oauth_tokens"), 1);
  EXPECT_EQ(server_->database().Int(absl::StrCat(
                "SELECT count(*) FROM oauth_tokens WHERE sealed LIKE '%",
                first.token(), "%' OR scopes LIKE '%", first.token(), "%'")),
            0);

  OAuthAccessToken again;
  ASSERT_TRUE(
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &again).ok());
  EXPECT_EQ(again.token(), first.token());  // Not expired: not refreshed.

  // Past its minute at the provider: refreshed with the refresh token.
  server_->AdvanceClock(absl::Minutes(2));
  OAuthAccessToken refreshed;
  status =
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &refreshed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(refreshed.token(), first.token());
  EXPECT_EQ(provider_->UserInfo(refreshed.token()).value("sub", ""), "alice");
  EXPECT_GT(refreshed.expire_at().seconds(), first.expire_at().seconds());

  // Unlinking the account takes its tokens with it.
  DeleteExternalAccountRequest unlink;
  unlink.set_external_account_id(first.external_account_id());
  DeletedObject deleted;
  ASSERT_TRUE(
      backend_->DeleteExternalAccount(Authed().get(), unlink, &deleted).ok());
  EXPECT_EQ(server_->database().Int("SELECT count(*) FROM oauth_tokens"), 0);
  status = backend_->GetUserOAuthAccessToken(Authed().get(), request, &again);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  request.set_provider("oauth_google");
  EXPECT_EQ(ReasonOf(backend_->GetUserOAuthAccessToken(Authed().get(), request,
                                                       &again)),
            "PROVIDER_NOT_CONFIGURED");
}

TEST_F(OAuthTest, ABannedUserGetsNoTicket) {
  const User alice = Exchange(QueryValue(SignInAt("alice"), "roster_ticket"));
  BanUserRequest ban;
  ban.set_user_id(alice.id());
  User banned;
  ASSERT_TRUE(backend_->BanUser(Authed().get(), ban, &banned).ok());
  const std::string back = SignInAt("alice");
  EXPECT_EQ(QueryValue(back, "roster_error"), "USER_BANNED");
  EXPECT_EQ(QueryValue(back, "roster_ticket"), "");
}

TEST_F(OAuthTest, RedirectUrlsOffTheAllowlistAreRefused) {
  for (const std::string& url :
       {std::string("https://evil.example.com/auth"),
        std::string("https://app.example.com/authority"),
        std::string("http://app.example.com/auth"),
        std::string("https://app.example.com:8443/auth"),
        std::string("https://app.example.com@evil.example.com/auth"),
        std::string("https://app.example.com/auth/../admin"),
        std::string("https://app.example.com/auth\\@evil.example.com"),
        std::string("https://app.example.com/auth#fragment"),
        std::string("javascript:alert(1)"), std::string(""),
        absl::StrCat(kApp, "/", std::string(3000, 'a'))}) {
    std::string authorization;
    const grpc::Status status =
        Start(url, StartOAuthRequest::ACTION_SIGN_IN, &authorization);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << url;
    EXPECT_EQ(ReasonOf(status), "REDIRECT_URL_NOT_ALLOWED") << url;
  }
  std::string authorization;
  EXPECT_TRUE(Start(absl::StrCat(kApp, "/x?next=%2Fhome"),
                    StartOAuthRequest::ACTION_SIGN_IN, &authorization)
                  .ok());
  const grpc::Status unknown = Start(kApp, StartOAuthRequest::ACTION_SIGN_IN,
                                     &authorization, "", "oauth_google");
  EXPECT_EQ(unknown.error_code(), grpc::NOT_FOUND);
  EXPECT_EQ(ReasonOf(unknown), "PROVIDER_NOT_CONFIGURED");
  EXPECT_EQ(Start(kApp, StartOAuthRequest::ACTION_UNSPECIFIED, &authorization)
                .error_code(),
            grpc::INVALID_ARGUMENT);
}

TEST_F(OAuthTest, TheAuthorizationUrlCarriesPkceAndANonce) {
  std::string url;
  ASSERT_TRUE(Start(kApp, StartOAuthRequest::ACTION_SIGN_IN, &url).ok());
  EXPECT_TRUE(absl::StartsWith(url, provider_->issuer() + "/auth?")) << url;
  EXPECT_EQ(QueryValue(url, "code_challenge_method"), "S256");
  EXPECT_EQ(QueryValue(url, "code_challenge").size(), 43U);
  EXPECT_EQ(QueryValue(url, "redirect_uri"), callback_);
  EXPECT_EQ(QueryValue(url, "scope"), "openid email profile");
  EXPECT_EQ(QueryValue(url, "state").size(), 43U);
  EXPECT_GE(QueryValue(url, "nonce").size(), 32U);
  // Only the state's digest is stored, never the state itself.
  EXPECT_EQ(server_->database().Int(absl::StrCat(
                "SELECT count(*) FROM oauth_states WHERE digest = '",
                QueryValue(url, "state"), "'")),
            0);
  EXPECT_EQ(server_->database().Int("SELECT count(*) FROM oauth_states"), 1);
}

TEST_F(OAuthTest, ForgedExpiredAndRefusedReturnsSendNoTicket) {
  // A state nobody issued.
  auto forged =
      Get(absl::StrCat(callback_, "?code=abc&state=", std::string(43, 'A')));
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 400);
  for (const char* bad :
       {"", "short", "has spaces and more than 43 characters"}) {
    auto malformed = Get(absl::StrCat(callback_, "?code=abc&state=", bad));
    ASSERT_TRUE(malformed);
    EXPECT_EQ(malformed->status, 400) << bad;
  }

  // The provider refused (the user said no): back to the app with a reason.
  std::string url;
  ASSERT_TRUE(Start(kApp, StartOAuthRequest::ACTION_SIGN_IN, &url).ok());
  auto refused = Get(absl::StrCat(
      callback_, "?error=access_denied&state=", QueryValue(url, "state")));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 303);
  EXPECT_EQ(QueryValue(refused->get_header_value("Location"), "roster_error"),
            "OAUTH_PROVIDER_ERROR");
  EXPECT_EQ(refused->get_header_value("Cache-Control"), "no-store");

  // A code the provider never issued: the exchange fails.
  ASSERT_TRUE(Start(kApp, StartOAuthRequest::ACTION_SIGN_IN, &url).ok());
  auto bad_code = Get(absl::StrCat(
      callback_, "?code=made-up&state=", QueryValue(url, "state")));
  ASSERT_TRUE(bad_code);
  EXPECT_EQ(QueryValue(bad_code->get_header_value("Location"), "roster_error"),
            "OAUTH_PROVIDER_ERROR");

  // Past the state's 10 minutes.
  ASSERT_TRUE(Start(kApp, StartOAuthRequest::ACTION_SIGN_IN, &url).ok());
  server_->AdvanceClock(absl::Minutes(11));
  const nlohmann::json late = provider_->Browse(url, "alice", kApp);
  EXPECT_EQ(QueryValue(late.value("location", ""), "roster_error"),
            "OAUTH_STATE_INVALID")
      << late.dump();
}

TEST(OAuthFlagsTest, ABadProvidersSetUpStopsTheServerNamingIt) {
  TempDir dir;
  std::ofstream(dir.File("secret")) << "s3cr3t-oauth-client-value\n";
  const std::string good = dir.File("good.json");
  std::ofstream(good) << nlohmann::json{
      {{"provider", "oauth_google"},
       {"client_id", "c"},
       {"client_secret_file",
        dir.File("secret")}}}.dump();
  const std::string typo = dir.File("typo.json");
  std::ofstream(typo) << nlohmann::json{
      {{"provider", "oauth_google"},
       {"client_id", "c"},
       {"client_secret_file", dir.File("secret")}},
      {{"provider",
        "oauth_facebook"}}}.dump();
  const std::string providers = "--oauth_providers_file=";
  const std::string allowed = "--allowed_redirect_urls=https://app.example.com";
  const std::string http = "--http_listen=127.0.0.1:0";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{providers + dir.File("none.json"), allowed, http}, "cannot be read"},
      {{providers + typo, allowed, http}, "entry 2 (oauth_facebook)"},
      {{providers + good, http}, "--allowed_redirect_urls is required"},
      {{providers + good, allowed}, "needs --http_listen"},
      {{"--allowed_redirect_urls=ftp://app.example.com"},
       "--allowed_redirect_urls entry 1"},
  };
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> args = {
        "--db=roster.db", "--listen=127.0.0.1:0",
        absl::StrCat("--secret_keys=", testing::kTestSecretKey)};
    args.insert(args.end(), flags.begin(), flags.end());
    testing::ServerProcess server(dir, args);
    EXPECT_EQ(server.Stop(0), 2) << flags[0];
    const std::string log = server.Stderr();
    EXPECT_NE(log.find(expected), std::string::npos) << log;
    EXPECT_EQ(log.find("s3cr3t"), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace roster

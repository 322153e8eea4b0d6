// Social sign-in with a plain OAuth 2.0 provider (no ID token): the
// oauth_github preset pointed (as for GitHub Enterprise Server) at a
// stand-in shaped like GitHub's API on loopback: the token endpoint that
// answers 200 with an `error` for a bad code, /api/v3/user with a numeric id,
// and /api/v3/user/emails whose `verified` flags decide what links.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/oauth_helpers.h"
#include "tests/testing/pending_sign_up.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::QueryValue;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using namespace roster::v1;  // NOLINT: the API's request and response types.

constexpr char kGitHubApp[] = "https://app.example.com/auth";
constexpr char kGitHubSecret[] = "github-client-secret-0123456789";
constexpr char kAccessToken[] = "gho_standin_access_token";

class GitHubSignInTest : public ::testing::Test {
 protected:
  void SetUp() override {
    github_port_ = stand_in_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(github_port_, 0);
    stand_in_.Post("/login/oauth/access_token", [](const httplib::Request& req,
                                                   httplib::Response& res) {
      // GitHub answers a refused code with 200 and an error.
      const bool good = req.get_param_value("code") == "good-code" &&
                        req.get_param_value("client_secret") == kGitHubSecret &&
                        req.has_param("code_verifier") &&
                        req.get_header_value("Accept") == "application/json";
      res.set_content(good ? nlohmann::json{{"access_token", kAccessToken},
                                            {"token_type", "bearer"},
                                            {"scope", "read:user,user:email"}}
                                 .dump()
                           : R"({"error":"bad_verification_code"})",
                      "application/json");
    });
    auto authorized = [](const httplib::Request& req) {
      return req.get_header_value("Authorization") ==
                 absl::StrCat("Bearer ", kAccessToken) &&
             !req.get_header_value("User-Agent").empty();
    };
    stand_in_.Get("/api/v3/user", [authorized](const httplib::Request& req,
                                               httplib::Response& res) {
      if (!authorized(req)) {
        res.status = 401;
        return;
      }
      res.set_content(R"({"id": 583231, "login": "octocat",
        "name": "Mona Lisa Octocat", "email": "octo@profile.example.com",
        "avatar_url": "https://avatars.example.com/u/583231"})",
                      "application/json");
    });
    stand_in_.Get("/api/v3/user/emails",
                  [this, authorized](const httplib::Request& req,
                                     httplib::Response& res) {
                    if (!authorized(req)) {
                      res.status = 401;
                      return;
                    }
                    absl::MutexLock lock(&mu_);
                    res.set_content(emails_.dump(), "application/json");
                  });
    thread_ = std::thread([this] { stand_in_.listen_after_bind(); });

    std::ofstream(dir_.File("secret")) << kGitHubSecret << "\n";
    auto providers = testing::ProvidersFrom(nlohmann::json{
        {{"provider", "oauth_github"},
         {"client_id", "Iv1.standin"},
         {"client_secret_file", dir_.File("secret")},
         {"base_url", absl::StrCat("http://127.0.0.1:", github_port_)}}});
    ASSERT_TRUE(providers.ok()) << providers.status();
    server_ = std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config.http_listen = "127.0.0.1:0";
      config.oauth.providers = *providers;
      config.oauth.allowed_redirect_urls = {kGitHubApp};
    });
    http_port_ = server_->server().http_port();
    frontend_ = FrontendUsers::NewStub(server_->channel());
    backend_ = server_->Backend();
  }
  void TearDown() override {
    stand_in_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  void SetEmails(nlohmann::json emails) {
    absl::MutexLock lock(&mu_);
    emails_ = std::move(emails);
  }

  // StartOAuth, then the browser's return with `code`: where Roster sends
  // it. The authorization URL is checked to point at the stand-in.
  std::string SignInWithCode(const std::string& code) {
    StartOAuthRequest request;
    request.set_provider("oauth_github");
    request.set_redirect_url(kGitHubApp);
    request.set_action(StartOAuthRequest::ACTION_SIGN_IN);
    StartOAuthResponse response;
    const grpc::Status started =
        frontend_->StartOAuth(NoCredentials().get(), request, &response);
    EXPECT_TRUE(started.ok()) << started.error_message();
    const std::string& url = response.authorization_url();
    EXPECT_TRUE(
        absl::StartsWith(url, absl::StrCat("http://127.0.0.1:", github_port_,
                                           "/login/oauth/authorize?")))
        << url;
    EXPECT_EQ(QueryValue(url, "scope"), "read:user user:email");
    EXPECT_EQ(QueryValue(url, "nonce"), "");  // No ID token to bind.
    httplib::Client client("127.0.0.1", http_port_);
    auto answer = client.Get(absl::StrCat("/v1/oauth/callback?code=", code,
                                          "&state=", QueryValue(url, "state")));
    EXPECT_TRUE(answer);
    return answer ? answer->get_header_value("Location") : "";
  }

  User Exchange(const std::string& ticket) {
    SignInWithTicketRequest request;
    request.set_ticket(ticket);
    SignInResponse response;
    EXPECT_TRUE(
        frontend_->SignInWithTicket(NoCredentials().get(), request, &response)
            .ok());
    GetUserRequest get;
    get.set_user_id(response.user().id());
    User user;
    EXPECT_TRUE(backend_->GetUser(Authed().get(), get, &user).ok());
    return user;
  }

  TempDir dir_;
  int github_port_ = 0;
  int http_port_ = 0;
  httplib::Server stand_in_;
  std::thread thread_;
  absl::Mutex mu_;
  nlohmann::json emails_ ABSL_GUARDED_BY(mu_) = nlohmann::json::array();
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<FrontendUsers::Stub> frontend_;
  std::unique_ptr<BackendUsers::Stub> backend_;
};

TEST_F(GitHubSignInTest, TheUserComesFromTheApiAndOnlyAVerifiedEmailCounts) {
  // The profile's address and the primary one are unverified: only the
  // verified one from /user/emails is the user's.
  SetEmails({{{"email", "octo@profile.example.com"},
              {"primary", true},
              {"verified", false}},
             {{"email", "octocat@example.com"},
              {"primary", false},
              {"verified", true}}});
  const std::string back = SignInWithCode("good-code");
  ASSERT_TRUE(absl::StartsWith(QueryValue(back, "roster_ticket"), "sit_"))
      << back;
  const User user = Exchange(QueryValue(back, "roster_ticket"));
  ASSERT_EQ(user.external_accounts_size(), 1);
  const ExternalAccount& account = user.external_accounts(0);
  EXPECT_EQ(account.provider(), "oauth_github");
  EXPECT_EQ(account.provider_user_id(), "583231");
  EXPECT_EQ(account.username(), "octocat");
  EXPECT_EQ(account.first_name(), "Mona");
  EXPECT_EQ(account.last_name(), "Lisa Octocat");
  EXPECT_EQ(account.image_url(), "https://avatars.example.com/u/583231");
  EXPECT_EQ(account.email_address(), "octocat@example.com");
  EXPECT_EQ(account.approved_scopes_size(), 2);
  ASSERT_EQ(user.email_addresses_size(), 1);
  EXPECT_EQ(user.email_addresses(0).email_address(), "octocat@example.com");
  EXPECT_EQ(user.first_name(), "Mona");
  EXPECT_EQ(user.image_url(), "https://avatars.example.com/u/583231");
}

TEST_F(GitHubSignInTest,
       NoVerifiedEmailMeansASignUpAskingForOneAndABadCodeNoTicket) {
  SetEmails({{{"email", "octo@profile.example.com"},
              {"primary", true},
              {"verified", false}}});
  // No user: the sign-up asks for the address the provider did not verify.
  const SignUp pending = testing::ReadSignUp(
      *frontend_, testing::PendingSignUpOf(
                      *frontend_, QueryValue(SignInWithCode("good-code"),
                                             "roster_ticket")));
  EXPECT_EQ(pending.email_address(), "");
  EXPECT_EQ(pending.first_name(), "Mona");

  const std::string refused = SignInWithCode("bad-code");
  EXPECT_EQ(QueryValue(refused, "roster_error"), "OAUTH_PROVIDER_ERROR");
  EXPECT_EQ(QueryValue(refused, "roster_ticket"), "");
}

}  // namespace
}  // namespace roster

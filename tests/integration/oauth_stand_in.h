// A stand-in OpenID provider on loopback whose every answer the test decides,
// and a Roster server that offers it as a social sign-in (TestServer): the
// fixture of oauth_stand_in_test.cc.
#ifndef ROSTER_TESTS_INTEGRATION_OAUTH_STAND_IN_H_
#define ROSTER_TESTS_INTEGRATION_OAUTH_STAND_IN_H_

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/oauth_helpers.h"
#include "tests/testing/openid_provider.h"
#include "tests/testing/provider_key.h"
#include "tests/testing/test_server.h"

namespace roster::testing {

inline constexpr char kStandInApp[] = "https://app.example.com/auth";
inline constexpr char kStandInProvider[] = "oauth_custom_forged";
inline constexpr char kStandInEmail[] = "forged@example.com";

// A provider whose token endpoint answers with whatever ID token the test
// sets, and whose JWK Set holds whichever keys the test publishes.
class StandInProviderTest : public ::testing::Test {
 protected:
  // The server's settings beyond the provider's.
  virtual void Configure(app::ServerConfig& /*config*/) {}

  void SetUp() override {
    port_ = stand_in_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    const std::string issuer = Issuer();
    Publish({{"k1", &key_}});
    stand_in_.Get(
        "/.well-known/openid-configuration",
        [this, issuer](const httplib::Request&, httplib::Response& res) {
          {
            absl::MutexLock lock(&mu_);
            ++discovery_fetches_;
            HoldWhile(&discovery_hangs_);
            if (discovery_fails_) {
              res.status = 503;
              return;
            }
          }
          res.set_content(
              nlohmann::json{{"issuer", issuer},
                             {"authorization_endpoint", issuer + "/auth"},
                             {"token_endpoint", issuer + "/token"},
                             {"jwks_uri", issuer + "/jwks"}}
                  .dump(),
              "application/json");
        });
    stand_in_.Get("/jwks",
                  [this](const httplib::Request&, httplib::Response& res) {
                    absl::MutexLock lock(&mu_);
                    ++jwks_fetches_;
                    if (jwks_fails_) {
                      res.status = 503;
                      return;
                    }
                    res.set_content(jwks_.dump(), "application/json");
                  });
    stand_in_.Post("/token",
                   [this](const httplib::Request& req, httplib::Response& res) {
                     AnswerToken(req, res);
                   });
    // Enough threads that a hang holds every request Roster sends at once.
    stand_in_.new_task_queue = [] {
      return new httplib::ThreadPool(96);  // NOLINT: httplib takes it.
    };
    thread_ = std::thread([this] { stand_in_.listen_after_bind(); });
    std::ofstream(dir_.File("secret")) << kProviderClientSecret;
    auto providers = ProvidersFrom(
        nlohmann::json{{{"provider", kStandInProvider},
                        {"client_id", "roster"},
                        {"client_secret_file", dir_.File("secret")},
                        {"issuer", issuer}}});
    ASSERT_TRUE(providers.ok()) << providers.status();
    server_ = std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config.http_listen = "127.0.0.1:0";
      config.oauth.providers = *providers;
      config.oauth.allowed_redirect_urls = {kStandInApp};
      Configure(config);
    });
    http_port_ = server_->server().http_port();
    frontend_ = roster::v1::FrontendUsers::NewStub(server_->channel());
    backend_ = server_->Backend();
  }
  void TearDown() override {
    AnswerAgain();
    stand_in_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  // The token endpoint: a code for tokens (the access token lasts a minute),
  // or a refresh token for new ones, rotating it as some providers do. After
  // HoldFirstRefresh, the first refresh waits up to 1 s for a second to
  // arrive, so concurrent refreshes by Roster would meet here.
  void AnswerToken(const httplib::Request& req, httplib::Response& res) {
    absl::MutexLock lock(&mu_);
    HoldWhile(&tokens_hang_);
    if (req.get_param_value("grant_type") == "refresh_token") {
      if (++refreshes_ == 1) {
        mu_.AwaitWithTimeout(
            absl::Condition(this, &StandInProviderTest::SecondRefreshArrived),
            first_refresh_hold_);
      }
      if (failing_refreshes_ > 0) {  // An outage: the token is not spent.
        --failing_refreshes_;
        res.status = 503;
        res.set_content(R"({"error":"temporarily_unavailable"})",
                        "application/json");
        return;
      }
      if (req.get_param_value("refresh_token") != refresh_token_) {
        res.status = 400;
        res.set_content(R"({"error":"invalid_grant"})", "application/json");
        return;
      }
      refresh_token_ = absl::StrCat("rt-", refreshes_);
      res.set_content(
          nlohmann::json{{"access_token", absl::StrCat("at-", refreshes_)},
                         {"token_type", "Bearer"},
                         {"expires_in", 3600},
                         {"refresh_token", refresh_token_}}
              .dump(),
          "application/json");
      return;
    }
    // The exchange must carry the PKCE verifier and the client's secret.
    const bool complete =
        req.has_param("code_verifier") &&
        req.get_param_value("client_secret") == kProviderClientSecret;
    nlohmann::json answer = {{"access_token", "at-0"},
                             {"token_type", "Bearer"},
                             {"expires_in", 60},
                             {"refresh_token", refresh_token_},
                             {"id_token", complete ? id_token_ : "incomplete"}};
    if (!granted_scope_.empty()) {
      answer["scope"] = granted_scope_;
    }
    if (token_padding_ > 0) {
      answer["padding"] = std::string(token_padding_, 'a');
    }
    res.set_content(answer.dump(), "application/json");
  }
  // Holds the request while `*hangs`, 15 s at most: longer than Roster
  // waits (10 s), so a hang is never cut short, and a forgotten one ends.
  void HoldWhile(const bool* hangs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (*hangs) {
      ++held_requests_;
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](const bool* flag) { return !*flag; }, hangs),
                           absl::Seconds(15));
    }
  }
  bool SecondRefreshArrived() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return refreshes_ >= 2;
  }
  int Refreshes() {
    absl::MutexLock lock(&mu_);
    return refreshes_;
  }

  std::string Issuer() const {
    return absl::StrCat("http://127.0.0.1:", port_);
  }

  // The JWK Set the provider serves from now on.
  void Publish(const std::map<std::string, const ProviderKey*>& keys) {
    nlohmann::json set = nlohmann::json::array();
    for (const auto& [kid, key] : keys) {
      set.push_back(key->Jwk(kid));
    }
    absl::MutexLock lock(&mu_);
    jwks_ = {{"keys", set}};
  }

  int JwksFetches() {
    absl::MutexLock lock(&mu_);
    return jwks_fetches_;
  }

  // Makes the first refresh wait for a second one (up to 1 s): only a test
  // of concurrent refreshes needs to pay for that.
  void HoldFirstRefresh() {
    absl::MutexLock lock(&mu_);
    first_refresh_hold_ = absl::Seconds(1);
  }

  // The discovery document, or the token endpoint, is not answered until
  // AnswerAgain, as by a provider that takes connections and then hangs.
  void HangDiscovery() {
    absl::MutexLock lock(&mu_);
    discovery_hangs_ = true;
  }
  void HangTokens() {
    absl::MutexLock lock(&mu_);
    tokens_hang_ = true;
  }
  // The discovery document, or the JWK Set, is refused with a 503 until
  // AnswerAgain.
  void FailDiscovery() {
    absl::MutexLock lock(&mu_);
    discovery_fails_ = true;
  }
  void FailKeys() {
    absl::MutexLock lock(&mu_);
    jwks_fails_ = true;
  }
  void AnswerAgain() {
    absl::MutexLock lock(&mu_);
    discovery_hangs_ = tokens_hang_ = discovery_fails_ = jwks_fails_ = false;
  }
  // How many times the discovery document was asked for.
  int DiscoveryFetches() {
    absl::MutexLock lock(&mu_);
    return discovery_fetches_;
  }
  // How many requests a hang has held, answered since or not.
  int HeldRequests() {
    absl::MutexLock lock(&mu_);
    return held_requests_;
  }

  // The next `count` refreshes are refused with a 503, as in an outage.
  void FailRefreshes(int count) {
    absl::MutexLock lock(&mu_);
    failing_refreshes_ = count;
  }

  // The `scope` the code exchange answers with from now on (none if empty);
  // a refresh never names one.
  void GrantScope(const std::string& scope) {
    absl::MutexLock lock(&mu_);
    granted_scope_ = scope;
  }

  // Grows the token endpoint's answers by an extra member of `bytes`.
  void PadTokenAnswers(size_t bytes) {
    absl::MutexLock lock(&mu_);
    token_padding_ = bytes;
  }

  // Claims as the provider would send them for the sign-in whose
  // authorization URL is `url`.
  nlohmann::json Claims(const std::string& url) const {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return {{"iss", Issuer()},
            {"aud", "roster"},
            {"sub", "forged-user"},
            {"nonce", QueryValue(url, "nonce")},
            {"iat", now},
            {"exp", now + 300},
            {"email", kStandInEmail},
            {"email_verified", true}};
  }

  // The right ID token for `url`'s sign-in, signed by `key` as `kid`.
  std::function<std::string(const std::string&)> SignedBy(
      const ProviderKey& key, const std::string& kid) const {
    return [this, &key, kid](const std::string& url) {
      return key.Sign({{"alg", "ES256"}, {"kid", kid}}, Claims(url));
    };
  }

  // Starts a sign-in, lets `token_for(url)` make the ID token the provider
  // returns, and follows the callback: where Roster sends the browser.
  std::string SignInWith(
      const std::function<std::string(const std::string&)>& token_for,
      bool legal_accepted = false) {
    roster::v1::StartOAuthRequest request;
    request.set_provider(kStandInProvider);
    request.set_redirect_url(kStandInApp);
    request.set_action(roster::v1::StartOAuthRequest::ACTION_SIGN_IN);
    request.set_legal_accepted(legal_accepted);
    roster::v1::StartOAuthResponse response;
    EXPECT_TRUE(
        frontend_->StartOAuth(NoCredentials().get(), request, &response).ok());
    const std::string url = response.authorization_url();
    {
      absl::MutexLock lock(&mu_);
      id_token_ = token_for(url);
    }
    httplib::Client client("127.0.0.1", http_port_);
    auto answer = client.Get(absl::StrCat("/v1/oauth/callback?code=c&state=",
                                          QueryValue(url, "state")));
    EXPECT_TRUE(answer);
    return answer ? answer->get_header_value("Location") : "";
  }

  roster::v1::SignInResponse ExchangeTicket(const std::string& ticket) {
    roster::v1::SignInWithTicketRequest request;
    request.set_ticket(ticket);
    roster::v1::SignInResponse response;
    const grpc::Status status =
        frontend_->SignInWithTicket(NoCredentials().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  int Users() const {
    return static_cast<int>(
        server_->database().Int("SELECT count(*) FROM users"));
  }

  TempDir dir_;
  int port_ = 0;
  ProviderKey key_{"ES256"};
  absl::Mutex mu_;
  // Set by the test, read by the stand-in's threads.
  std::string id_token_ ABSL_GUARDED_BY(mu_);
  size_t token_padding_ ABSL_GUARDED_BY(mu_) = 0;
  std::string granted_scope_ ABSL_GUARDED_BY(mu_);
  std::string refresh_token_ ABSL_GUARDED_BY(mu_) = "rt-0";
  int refreshes_ ABSL_GUARDED_BY(mu_) = 0;
  int failing_refreshes_ ABSL_GUARDED_BY(mu_) = 0;
  bool discovery_hangs_ ABSL_GUARDED_BY(mu_) = false;
  bool discovery_fails_ ABSL_GUARDED_BY(mu_) = false;
  int discovery_fetches_ ABSL_GUARDED_BY(mu_) = 0;
  bool tokens_hang_ ABSL_GUARDED_BY(mu_) = false;
  int held_requests_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration first_refresh_hold_ ABSL_GUARDED_BY(mu_) =
      absl::ZeroDuration();
  nlohmann::json jwks_ ABSL_GUARDED_BY(mu_);
  int jwks_fetches_ ABSL_GUARDED_BY(mu_) = 0;
  bool jwks_fails_ ABSL_GUARDED_BY(mu_) = false;
  httplib::Server stand_in_;
  std::thread thread_;
  int http_port_ = 0;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<roster::v1::FrontendUsers::Stub> frontend_;
  std::unique_ptr<roster::v1::BackendUsers::Stub> backend_;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_INTEGRATION_OAUTH_STAND_IN_H_

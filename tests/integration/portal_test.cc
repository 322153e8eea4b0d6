// The account portal's server side (DESIGN §12) on a real server: pages with
// a strict CSP and escaped branding, and the cookie session — set only from a
// real session and with the CSRF header, traded for tokens, tickets only for
// allowed apps, and forgotten at sign-out. The pages themselves run in
// Chromium (tests/e2e/browser).
#include "server/web/portal.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::TestServer;
using ::roster::testing::WithToken;
using namespace roster::v1;  // NOLINT: the API's request and response types.
using Json = nlohmann::json;

constexpr char kPortalPassword[] = "correct horse battery";
constexpr char kHostileName[] = "<script>alert(1)</script> & Co";
const httplib::Headers kCsrf = {{"X-Roster-CSRF", "1"}};

// The reason in a Connect error body.
std::string ConnectReason(const std::string& body) {
  const Json json = Json::parse(body, nullptr, false);
  if (!json.is_object() || !json.contains("details")) {
    return "";
  }
  for (const Json& detail : json["details"]) {
    if (detail.value("type", "") == "google.rpc.ErrorInfo") {
      return detail["debug"].value("reason", "");
    }
  }
  return "";
}

class PortalPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config.http_listen = "127.0.0.1:0";
      config.oauth.allowed_redirect_urls = {"https://app.example.com/app"};
      config.web.portal_app_name = kHostileName;
      config.web.portal_accent_color = "#0f766e";
      config.web.portal_logo_url = "https://cdn.example.com/logo.png";
    });
    http_port_ = server_->server().http_port();
    backend_ = server_->Backend();
    frontend_ = FrontendUsers::NewStub(server_->channel());
    CreateUserRequest create;
    create.add_email_addresses("ada@example.com");
    create.set_password(kPortalPassword);
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &ada_).ok());
  }

  httplib::Client Client() const {
    return httplib::Client("127.0.0.1", http_port_);
  }

  // Ada's new session over gRPC: its id and secret.
  SignInResponse SignInAda() {
    SignInRequest request;
    request.set_identifier("ada@example.com");
    request.set_password(kPortalPassword);
    SignInResponse response;
    EXPECT_TRUE(
        frontend_->SignIn(NoCredentials().get(), request, &response).ok());
    return response;
  }

  // The portal cookie for `signed_in`, set through POST /portal/session.
  std::string SessionCookie(const SignInResponse& signed_in) {
    auto answer =
        Client().Post("/portal/session", kCsrf,
                      Json{{"sessionId", signed_in.session().id()},
                           {"sessionSecret", signed_in.session_secret()}}
                          .dump(),
                      "application/json");
    EXPECT_TRUE(answer);
    if (!answer) {
      return "";
    }
    EXPECT_EQ(answer->status, 200) << answer->body;
    const std::string set_cookie = answer->get_header_value("Set-Cookie");
    return set_cookie.substr(0, set_cookie.find(';'));
  }

  httplib::Result PostWithCookie(const std::string& path,
                                 const std::string& cookie,
                                 const std::string& body = "{}") {
    httplib::Headers headers = kCsrf;
    headers.emplace("Cookie", cookie);
    return Client().Post(path, headers, body, "application/json");
  }

  int http_port_ = 0;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<BackendUsers::Stub> backend_;
  std::unique_ptr<FrontendUsers::Stub> frontend_;
  User ada_;
};

TEST_F(PortalPagesTest, PagesCarryTheSecurityHeadersAndTheEscapedBranding) {
  for (const char* path : {"/sign-in", "/sign-up", "/account"}) {
    auto page = Client().Get(path);
    ASSERT_TRUE(page) << path;
    EXPECT_EQ(page->status, 200) << path;
    EXPECT_EQ(page->get_header_value("Content-Type"),
              "text/html; charset=utf-8");
    const std::string csp = page->get_header_value("Content-Security-Policy");
    EXPECT_TRUE(absl::StrContains(csp, "script-src 'self';")) << csp;
    EXPECT_TRUE(absl::StrContains(csp, "frame-ancestors 'none'")) << csp;
    // The https logo is covered by https:, which a provider's picture needs.
    EXPECT_TRUE(absl::StrContains(csp, "img-src 'self' data: https:;")) << csp;
    EXPECT_FALSE(absl::StrContains(csp, "unsafe")) << csp;
    EXPECT_EQ(page->get_header_value("X-Frame-Options"), "DENY");
    EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
    // The operator's app name is text, never markup.
    EXPECT_TRUE(absl::StrContains(
        page->body, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
    EXPECT_FALSE(absl::StrContains(page->body, "<script>alert"));
    EXPECT_FALSE(absl::StrContains(page->body, "{{")) << path;
  }
  // The terms are offered only when --sign_up_required lists them (as the
  // browser test's server does).
  auto sign_up = Client().Get("/sign-up");
  ASSERT_TRUE(sign_up);
  EXPECT_FALSE(absl::StrContains(sign_up->body, "terms-accepted"));
  auto theme = Client().Get("/portal/theme.css");
  ASSERT_TRUE(theme);
  EXPECT_EQ(theme->body, ":root{--accent:#0f766e}\n");
  auto script = Client().Get("/portal/portal.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  EXPECT_TRUE(absl::StrContains(script->body, "'use strict';"));
  auto missing = Client().Get("/portal/nothing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(PortalPagesTest, TheCookieIsSetOnlyFromARealSessionWithTheCsrfHeader) {
  const SignInResponse signed_in = SignInAda();
  const std::string body = Json{{"sessionId", signed_in.session().id()},
                                {"sessionSecret", signed_in.session_secret()}}
                               .dump();
  // Without the header, or marked as coming from another site.
  auto bare = Client().Post("/portal/session", body, "application/json");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 403);
  EXPECT_EQ(ConnectReason(bare->body), "CSRF_CHECK_FAILED");
  EXPECT_FALSE(bare->has_header("Set-Cookie"));
  httplib::Headers cross_site = kCsrf;
  cross_site.emplace("Sec-Fetch-Site", "cross-site");
  auto forged =
      Client().Post("/portal/session", cross_site, body, "application/json");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  // A wrong secret sets nothing.
  auto wrong = Client().Post("/portal/session", kCsrf,
                             Json{{"sessionId", signed_in.session().id()},
                                  {"sessionSecret", "not-the-secret"}}
                                 .dump(),
                             "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_FALSE(wrong->has_header("Set-Cookie"));
  auto malformed =
      Client().Post("/portal/session", kCsrf, "[1,2", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);

  auto answer =
      Client().Post("/portal/session", kCsrf, body, "application/json");
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  const std::string set_cookie = answer->get_header_value("Set-Cookie");
  EXPECT_TRUE(absl::StartsWith(set_cookie, "roster_session=sess_"))
      << set_cookie;
  for (const char* attribute :
       {"; Path=/portal/", "; HttpOnly", "; Secure", "; SameSite=Lax"}) {
    EXPECT_TRUE(absl::StrContains(set_cookie, attribute)) << set_cookie;
  }
  EXPECT_EQ(answer->get_header_value("Cache-Control"), "no-store");

  // The cookie buys a token that the services accept.
  auto token = PostWithCookie("/portal/token",
                              set_cookie.substr(0, set_cookie.find(';')));
  ASSERT_TRUE(token);
  ASSERT_EQ(token->status, 200) << token->body;
  FrontendUser me;
  ASSERT_TRUE(
      frontend_
          ->GetMe(WithToken(Json::parse(token->body)["sessionToken"]).get(),
                  GetMeRequest(), &me)
          .ok());
  EXPECT_EQ(me.id(), ada_.id());
}

TEST_F(PortalPagesTest, HostileCookiesAreRefusedAndForgotten) {
  for (const std::string& cookie :
       {std::string("roster_session=no-dot"), std::string("roster_session=."),
        std::string("roster_session=sess_x.y"),
        absl::StrCat("roster_session=sess_", std::string(4000, 'a'), ".b")}) {
    auto answer = PostWithCookie("/portal/token", cookie);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 401) << cookie.substr(0, 40);
    EXPECT_EQ(ConnectReason(answer->body), "SESSION_INVALID");
    EXPECT_TRUE(
        absl::StrContains(answer->get_header_value("Set-Cookie"), "Max-Age=0"));
  }
}

TEST_F(PortalPagesTest, TicketsGoOnlyToAllowedApps) {
  const std::string cookie = SessionCookie(SignInAda());
  for (const char* url :
       {"https://evil.example.com/app", "https://app.example.com/application",
        "javascript:alert(1)", ""}) {
    auto refused = PostWithCookie("/portal/ticket", cookie,
                                  Json{{"redirectUrl", url}}.dump());
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << url;
    EXPECT_EQ(ConnectReason(refused->body), "REDIRECT_URL_NOT_ALLOWED") << url;
  }
  auto answer = PostWithCookie(
      "/portal/ticket", cookie,
      Json{{"redirectUrl", "https://app.example.com/app/done?step=2"}}.dump());
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  const std::string location = Json::parse(answer->body)["location"];
  const std::string prefix =
      "https://app.example.com/app/done?step=2&roster_ticket=";
  ASSERT_TRUE(absl::StartsWith(location, prefix)) << location;
  // The app signs in with it, once.
  SignInWithTicketRequest exchange;
  exchange.set_ticket(location.substr(prefix.size()));
  SignInResponse app_session;
  ASSERT_TRUE(
      frontend_->SignInWithTicket(NoCredentials().get(), exchange, &app_session)
          .ok());
  EXPECT_EQ(app_session.user().id(), ada_.id());
  EXPECT_NE(app_session.session_token(), "");
  EXPECT_EQ(
      frontend_->SignInWithTicket(NoCredentials().get(), exchange, &app_session)
          .error_code(),
      grpc::UNAUTHENTICATED);
}

TEST_F(PortalPagesTest, SignOutEndsTheSessionAndClearsTheCookie) {
  const SignInResponse signed_in = SignInAda();
  const std::string cookie = SessionCookie(signed_in);
  auto out = PostWithCookie("/portal/sign-out", cookie);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->body;
  EXPECT_TRUE(
      absl::StrContains(out->get_header_value("Set-Cookie"), "Max-Age=0"));
  // The session itself is over, not only the cookie.
  RefreshSessionTokenRequest refresh;
  refresh.set_session_id(signed_in.session().id());
  refresh.set_session_secret(signed_in.session_secret());
  RefreshSessionTokenResponse token;
  EXPECT_EQ(
      frontend_->RefreshSessionToken(NoCredentials().get(), refresh, &token)
          .error_code(),
      grpc::UNAUTHENTICATED);
  auto again = PostWithCookie("/portal/token", cookie);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 401);
}

TEST(PortalOptionsTest, BrandingFlagsAreChecked) {
  web::PortalOptions options;
  EXPECT_TRUE(web::CheckPortalOptions(options).ok());
  for (const char* color : {"red", "#12345", "#0f766e;}", "0f766e", ""}) {
    options.accent_color = color;
    EXPECT_FALSE(web::CheckPortalOptions(options).ok()) << color;
  }
  options.accent_color = "#abc";
  EXPECT_TRUE(web::CheckPortalOptions(options).ok());
  for (const char* logo :
       {"javascript:alert(1)", "data:image/png;base64,AA", "https://"}) {
    options.logo_url = logo;
    EXPECT_FALSE(web::CheckPortalOptions(options).ok()) << logo;
  }
}

}  // namespace
}  // namespace roster

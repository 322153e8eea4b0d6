// --oauth_providers_file as an operator writes it: the presets, custom
// providers of each shape, and each mistake refused with the entry named and
// no secret repeated.
#include "server/oauth/providers.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/testing/temp_dir.h"

namespace roster::oauth {
namespace {

using Json = nlohmann::json;

class ProvidersTest : public ::testing::Test {
 protected:
  ProvidersTest() {
    std::ofstream(dir_.File("secret")) << "  s3cr3t-client-value\n";
    std::ofstream(dir_.File("empty")) << "\n";
  }

  absl::StatusOr<std::vector<OAuthProvider>> Parse(const Json& entries) const {
    return ParseProviders(
        entries.dump(),
        [](const std::string& path) -> absl::StatusOr<std::string> {
          std::ifstream in(path);
          if (!in) {
            return absl::NotFoundError(path);
          }
          std::stringstream content;
          content << in.rdbuf();
          return content.str();
        });
  }

  Json Entry(const std::string& provider) const {
    return {{"provider", provider},
            {"client_id", "roster-client"},
            {"client_secret_file", dir_.File("secret")}};
  }

  testing::TempDir dir_;
};

TEST_F(ProvidersTest, PresetsFillTheirEndpointsAndScopes) {
  Json microsoft = Entry("oauth_microsoft");
  microsoft["tenant"] = "contoso.onmicrosoft.com";
  Json gitlab = Entry("oauth_gitlab");
  gitlab["issuer"] = "https://gitlab.example.com";
  absl::StatusOr<std::vector<OAuthProvider>> providers =
      Parse({Entry("oauth_google"), microsoft, Entry("oauth_github"), gitlab});
  ASSERT_TRUE(providers.ok()) << providers.status();
  ASSERT_EQ(providers->size(), 4U);
  const OAuthProvider& google = (*providers)[0];
  EXPECT_EQ(google.id, "oauth_google");
  EXPECT_TRUE(google.openid_connect && google.discovery);
  EXPECT_EQ(google.issuer, "https://accounts.google.com");
  EXPECT_EQ(google.client_secret, "s3cr3t-client-value");
  EXPECT_EQ(google.scopes,
            (std::vector<std::string>{"openid", "email", "profile"}));
  EXPECT_EQ((*providers)[1].issuer,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0");
  const OAuthProvider& github = (*providers)[2];
  EXPECT_FALSE(github.openid_connect);
  EXPECT_EQ(github.token_endpoint,
            "https://github.com/login/oauth/access_token");
  EXPECT_EQ(github.emails_endpoint, "https://api.github.com/user/emails");
  EXPECT_EQ(github.scopes,
            (std::vector<std::string>{"read:user", "user:email"}));
  EXPECT_EQ((*providers)[3].issuer, "https://gitlab.example.com");

  Json enterprise = Entry("oauth_github");
  enterprise["base_url"] = "https://github.example.com/";
  providers = Parse(Json::array({enterprise}));
  ASSERT_TRUE(providers.ok()) << providers.status();
  EXPECT_EQ((*providers)[0].token_endpoint,
            "https://github.example.com/login/oauth/access_token");
  EXPECT_EQ((*providers)[0].userinfo_endpoint,
            "https://github.example.com/api/v3/user");
  EXPECT_EQ((*providers)[0].emails_endpoint,
            "https://github.example.com/api/v3/user/emails");
}

TEST_F(ProvidersTest, CustomProvidersOfEachShape) {
  Json discovered = Entry("oauth_custom_corp");
  discovered["issuer"] = "http://127.0.0.1:4000";
  Json explicit_oidc = Entry("oauth_custom_keys");
  explicit_oidc.update({{"issuer", "https://id.example.com"},
                        {"authorization_endpoint", "https://id.example.com/a"},
                        {"token_endpoint", "https://id.example.com/t"},
                        {"jwks_uri", "https://id.example.com/jwks"}});
  Json plain = Entry("oauth_custom_forge");
  plain.update({{"authorization_endpoint", "https://forge.example.com/a"},
                {"token_endpoint", "https://forge.example.com/t"},
                {"userinfo_endpoint", "https://forge.example.com/user"},
                {"scopes", {"read_user"}}});
  absl::StatusOr<std::vector<OAuthProvider>> providers =
      Parse({discovered, explicit_oidc, plain});
  ASSERT_TRUE(providers.ok()) << providers.status();
  EXPECT_TRUE((*providers)[0].discovery);
  EXPECT_TRUE((*providers)[1].openid_connect);
  EXPECT_FALSE((*providers)[1].discovery);
  EXPECT_EQ((*providers)[1].scopes.front(), "openid");
  EXPECT_FALSE((*providers)[2].openid_connect);
  EXPECT_EQ((*providers)[2].scopes, std::vector<std::string>{"read_user"});
  EXPECT_TRUE(Parse(Json::array()).ok());  // No providers: none offered.
}

TEST_F(ProvidersTest, EachMistakeNamesItsEntryAndNeverTheSecret) {
  auto with = [&](const std::string& provider, const Json& changes) {
    Json entry = Entry(provider);
    for (const auto& [name, value] : changes.items()) {
      if (value.is_null()) {
        entry.erase(name);
      } else {
        entry[name] = value;
      }
    }
    return entry;
  };
  const std::string http_remote = "http://id.example.com";
  const std::vector<std::pair<Json, std::string>> cases = {
      {with("oauth_facebook", {}), "oauth_custom_<name>"},
      {with("oauth_custom_", {}), "a-z, 0-9"},
      {with("oauth_custom_Big", {}), "a-z, 0-9"},
      {with("oauth_google", {{"client_id", nullptr}}), "client_id"},
      {with("oauth_google", {{"client_secret_file", nullptr}}),
       "client_secret_file is required"},
      {with("oauth_google", {{"client_secret_file", dir_.File("none")}}),
       "cannot be read"},
      {with("oauth_google", {{"client_secret_file", dir_.File("empty")}}),
       "is empty"},
      {with("oauth_google", {{"client_secret", "inline"}}),
       "unknown member \"client_secret\""},
      {with("oauth_google", {{"scopes", "openid email"}}), "scopes"},
      {with("oauth_google", {{"scopes", {"email"}}}), "must include openid"},
      {with("oauth_google", {{"scopes", {"openid", "a b"}}}),
       "not a scope token"},
      {with("oauth_google", {{"issuer", "https://evil.example.com"}}),
       "set by the preset"},
      {with("oauth_github", {{"token_endpoint", "https://x.example.com"}}),
       "set by the preset"},
      {with("oauth_google", {{"tenant", "common"}}), "only oauth_microsoft"},
      {with("oauth_google", {{"base_url", "https://ghe.test"}}),
       "only oauth_github"},
      {with("oauth_github", {{"base_url", http_remote}}), "https://"},
      {with("oauth_microsoft", {{"tenant", "../evil"}}), "tenant"},
      {with("oauth_custom_a", {}), "needs an issuer"},
      {with("oauth_custom_a", {{"issuer", http_remote}}), "https://"},
      {with("oauth_custom_a", {{"authorization_endpoint", "https://a.test"}}),
       "go together"},
      {with("oauth_custom_a", {{"authorization_endpoint", "https://a.test"},
                               {"token_endpoint", "https://a.test/t"}}),
       "userinfo_endpoint"},
      {with("oauth_custom_a", {{"authorization_endpoint", "https://a.test"},
                               {"token_endpoint", "https://a.test/t"},
                               {"jwks_uri", "https://a.test/k"}}),
       "jwks_uri and issuer go together"},
      {with("oauth_custom_a", {{"authorization_endpoint", "https://a.test"},
                               {"token_endpoint", http_remote},
                               {"userinfo_endpoint", "https://a.test/u"}}),
       "https://"},
  };
  for (const auto& [entry, expected] : cases) {
    absl::StatusOr<std::vector<OAuthProvider>> providers =
        Parse({Entry("oauth_gitlab"), entry});
    ASSERT_FALSE(providers.ok()) << entry.dump();
    const std::string message(providers.status().message());
    EXPECT_EQ(providers.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(message.find("entry 2"), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << message;
  }
  EXPECT_NE(Parse({Entry("oauth_google"), Entry("oauth_google")})
                .status()
                .message()
                .find("entry 2 (oauth_google): is configured twice"),
            absl::string_view::npos);
}

TEST_F(ProvidersTest, TheFileMustBeABoundedArrayOfObjects) {
  for (const Json& bad :
       {Json::object(), Json("oauth_google"), Json::array({1}),
        Json(std::vector<Json>(kMaxProviders + 1, Entry("oauth_google")))}) {
    EXPECT_EQ(Parse(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad.dump().substr(0, 60);
  }
  EXPECT_FALSE(ParseProviders("[{", nullptr).ok());
}

}  // namespace
}  // namespace roster::oauth

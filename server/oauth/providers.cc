#include "server/oauth/providers.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "server/domain/urls.h"

namespace roster::oauth {
namespace {

using Json = nlohmann::json;

const std::set<std::string, std::less<>> kMembers = {"provider",
                                                     "client_id",
                                                     "client_secret_file",
                                                     "scopes",
                                                     "issuer",
                                                     "authorization_endpoint",
                                                     "token_endpoint",
                                                     "userinfo_endpoint",
                                                     "jwks_uri",
                                                     "tenant",
                                                     "base_url"};
const std::vector<std::string> kOpenIdScopes = {"openid", "email", "profile"};

// The same code behind each named provider: only these values differ.
absl::StatusOr<OAuthProvider> Preset(absl::string_view id, const Json& entry) {
  OAuthProvider p;
  p.id = std::string(id);
  auto string_member = [&](const char* name) {
    const auto it = entry.find(name);
    return it != entry.end() && it->is_string() ? it->get<std::string>() : "";
  };
  if (id == "oauth_google") {
    p.openid_connect = p.discovery = true;
    p.issuer = "https://accounts.google.com";
    p.scopes = kOpenIdScopes;
  } else if (id == "oauth_microsoft") {
    std::string tenant = string_member("tenant");
    tenant = tenant.empty() ? "common" : tenant;
    if (!absl::c_all_of(tenant, [](unsigned char c) {
          return absl::ascii_isalnum(c) || c == '-' || c == '.';
        })) {
      return absl::InvalidArgumentError("tenant is not a tenant id or domain");
    }
    p.openid_connect = p.discovery = true;
    p.issuer =
        absl::StrCat("https://login.microsoftonline.com/", tenant, "/v2.0");
    p.scopes = kOpenIdScopes;
  } else if (id == "oauth_gitlab") {
    p.openid_connect = p.discovery = true;
    p.issuer = "https://gitlab.com";  // A self-hosted GitLab sets `issuer`.
    p.scopes = kOpenIdScopes;
  } else if (id == "oauth_github") {
    // GitHub Enterprise Server (`base_url`) serves its API under /api/v3.
    const std::string base(absl::StripSuffix(string_member("base_url"), "/"));
    const std::string api =
        base.empty() ? "https://api.github.com" : absl::StrCat(base, "/api/v3");
    const std::string web = base.empty() ? "https://github.com" : base;
    p.authorization_endpoint = absl::StrCat(web, "/login/oauth/authorize");
    p.token_endpoint = absl::StrCat(web, "/login/oauth/access_token");
    p.userinfo_endpoint = absl::StrCat(api, "/user");
    p.emails_endpoint = absl::StrCat(api, "/user/emails");
    p.scopes = {"read:user", "user:email"};
  } else if (!absl::StartsWith(id, "oauth_custom_")) {
    return absl::InvalidArgumentError(
        "provider must be oauth_google, oauth_microsoft, oauth_github, "
        "oauth_gitlab or oauth_custom_<name>");
  } else {
    const absl::string_view name = id.substr(strlen("oauth_custom_"));
    if (name.empty() || name.size() > 32 ||
        !absl::c_all_of(name, [](unsigned char c) {
          return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
        })) {
      return absl::InvalidArgumentError(
          "a custom provider's name is 1 to 32 of a-z, 0-9 and _");
    }
  }
  return p;
}

// RFC 6749 §3.3's scope-token: printable ASCII but space, " and \.
bool IsScopeToken(absl::string_view scope) {
  return !scope.empty() && scope.size() <= 256 &&
         absl::c_all_of(scope, [](char c) {
           return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
         });
}

absl::Status ReadEntry(const Json& entry, const SecretFileReader& read_secret,
                       OAuthProvider& p) {
  for (const auto& [name, value] : entry.items()) {
    if (kMembers.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown member \"", name, "\""));
    }
    if (name != "scopes" && !value.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", name, "\" is not a string"));
    }
  }
  if (entry.contains("tenant") && p.id != "oauth_microsoft") {
    return absl::InvalidArgumentError("only oauth_microsoft takes a tenant");
  }
  if (entry.contains("base_url") && p.id != "oauth_github") {
    return absl::InvalidArgumentError(
        "only oauth_github takes a base_url (GitHub Enterprise Server)");
  }
  p.client_id = entry.value("client_id", "");
  if (p.client_id.empty() || p.client_id.size() > 512) {
    return absl::InvalidArgumentError("client_id is required (512 bytes max)");
  }
  const std::string secret_file = entry.value("client_secret_file", "");
  if (secret_file.empty()) {
    return absl::InvalidArgumentError("client_secret_file is required");
  }
  absl::StatusOr<std::string> secret = read_secret(secret_file);
  if (!secret.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_secret_file cannot be read: ", secret_file));
  }
  p.client_secret = std::string(absl::StripAsciiWhitespace(*secret));
  if (p.client_secret.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_secret_file is empty: ", secret_file));
  }
  if (const auto scopes = entry.find("scopes"); scopes != entry.end()) {
    if (!scopes->is_array() || scopes->empty() || scopes->size() > 32) {
      return absl::InvalidArgumentError(
          "scopes is not an array of 1 to 32 strings");
    }
    p.scopes.clear();
    for (const Json& scope : *scopes) {
      if (!scope.is_string() || !IsScopeToken(scope.get<std::string>())) {
        return absl::InvalidArgumentError(
            absl::StrCat("scope ", scope.dump(), " is not a scope token"));
      }
      p.scopes.push_back(scope.get<std::string>());
    }
  }
  return absl::OkStatus();
}

// A custom provider's endpoints, or a self-hosted GitLab's issuer.
absl::Status ReadEndpoints(const Json& entry, OAuthProvider& p) {
  const bool custom = absl::StartsWith(p.id, "oauth_custom_");
  for (const char* name : {"authorization_endpoint", "token_endpoint",
                           "userinfo_endpoint", "jwks_uri"}) {
    if (entry.contains(name) && !custom) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " is set by the preset ", p.id));
    }
  }
  if (entry.contains("issuer") && !custom && p.id != "oauth_gitlab") {
    return absl::InvalidArgumentError(
        absl::StrCat("issuer is set by the preset ", p.id));
  }
  if (entry.contains("issuer")) {
    p.issuer = entry["issuer"].get<std::string>();
  }
  if (custom) {
    p.authorization_endpoint = entry.value("authorization_endpoint", "");
    p.token_endpoint = entry.value("token_endpoint", "");
    p.userinfo_endpoint = entry.value("userinfo_endpoint", "");
    p.jwks_uri = entry.value("jwks_uri", "");
    const bool explicit_endpoints =
        !p.authorization_endpoint.empty() || !p.token_endpoint.empty();
    if (explicit_endpoints) {
      if (p.authorization_endpoint.empty() || p.token_endpoint.empty()) {
        return absl::InvalidArgumentError(
            "authorization_endpoint and token_endpoint go together");
      }
      // An ID token needs the keys and the issuer that sign it; without
      // them the user is read from the userinfo endpoint.
      p.openid_connect = !p.jwks_uri.empty();
      if (p.openid_connect == p.issuer.empty()) {
        return absl::InvalidArgumentError(
            "jwks_uri and issuer go together (OpenID Connect without "
            "discovery)");
      }
      if (!p.openid_connect && p.userinfo_endpoint.empty()) {
        return absl::InvalidArgumentError(
            "a plain OAuth 2.0 provider needs userinfo_endpoint");
      }
    } else if (p.issuer.empty()) {
      return absl::InvalidArgumentError(
          "a custom provider needs an issuer (discovery) or "
          "authorization_endpoint and token_endpoint");
    } else {
      if (!p.userinfo_endpoint.empty() || !p.jwks_uri.empty()) {
        return absl::InvalidArgumentError(
            "with discovery the endpoints come from the issuer");
      }
      p.openid_connect = p.discovery = true;
    }
    if (p.openid_connect && !entry.contains("scopes")) {
      p.scopes = kOpenIdScopes;
    }
  }
  if (p.openid_connect &&
      std::find(p.scopes.begin(), p.scopes.end(), "openid") == p.scopes.end()) {
    return absl::InvalidArgumentError(
        "an OpenID Connect provider's scopes must include openid");
  }
  for (const std::string* url :
       {&p.issuer, &p.authorization_endpoint, &p.token_endpoint,
        &p.userinfo_endpoint, &p.jwks_uri, &p.emails_endpoint}) {
    // {tenantid} is a placeholder the token fills, not part of the host.
    if (!url->empty() && !domain::IsHttpsOrLoopbackHttp(absl::StrReplaceAll(
                             *url, {{"{tenantid}", "tenant"}}))) {
      return absl::InvalidArgumentError(absl::StrCat(
          *url, " is not an https:// URL (http:// only on loopback)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<OAuthProvider>> ParseProviders(
    absl::string_view json, const SecretFileReader& read_secret) {
  const Json entries = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!entries.is_array()) {
    return absl::InvalidArgumentError("is not a JSON array of providers");
  }
  if (entries.size() > kMaxProviders) {
    return absl::InvalidArgumentError(
        absl::StrCat("has over ", kMaxProviders, " providers"));
  }
  std::vector<OAuthProvider> providers;
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Json& entry = entries[i];
    const std::string id = entry.is_object() && entry.contains("provider") &&
                                   entry["provider"].is_string()
                               ? entry["provider"].get<std::string>()
                               : "";
    auto fail = [&](const absl::Status& why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry ", i + 1, id.empty() ? "" : absl::StrCat(" (", id, ")"), ": ",
          why.message()));
    };
    if (!entry.is_object()) {
      return fail(absl::InvalidArgumentError("is not an object"));
    }
    absl::StatusOr<OAuthProvider> provider = Preset(id, entry);
    if (!provider.ok()) {
      return fail(provider.status());
    }
    if (!seen.insert(id).second) {
      return fail(absl::InvalidArgumentError("is configured twice"));
    }
    if (absl::Status read = ReadEntry(entry, read_secret, *provider);
        !read.ok()) {
      return fail(read);
    }
    if (absl::Status endpoints = ReadEndpoints(entry, *provider);
        !endpoints.ok()) {
      return fail(endpoints);
    }
    providers.push_back(*std::move(provider));
  }
  return providers;
}

}  // namespace roster::oauth

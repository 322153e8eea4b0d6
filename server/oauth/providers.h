// The social sign-in providers of --oauth_providers_file (DESIGN §11): a JSON
// array of objects. `oauth_google`, `oauth_microsoft`, `oauth_github` and
// `oauth_gitlab` are presets of the same code as `oauth_custom_<name>`, which
// names an `issuer` (OpenID Connect discovery) or its endpoints (with
// `jwks_uri` and `issuer` for OpenID Connect, `userinfo_endpoint` for plain
// OAuth 2.0). `oauth_microsoft` takes a `tenant`, `oauth_gitlab` an `issuer`
// (self-hosted) and `oauth_github` a `base_url` (GitHub Enterprise Server).
// Every endpoint is https://, or http:// on loopback.
#ifndef ROSTER_SERVER_OAUTH_PROVIDERS_H_
#define ROSTER_SERVER_OAUTH_PROVIDERS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace roster::oauth {

inline constexpr size_t kMaxProviders = 32;

struct OAuthProvider {
  std::string id;  // oauth_google, oauth_custom_acme, …
  std::string client_id;
  std::string client_secret;  // From client_secret_file; never logged.
  std::vector<std::string> scopes;
  // OpenID Connect: an ID token is verified (`issuer`, `jwks_uri`). Otherwise
  // the user is read from `userinfo_endpoint` (and, for GitHub, its verified
  // addresses from `emails_endpoint`).
  bool openid_connect = false;
  // The endpoints come from <issuer>/.well-known/openid-configuration.
  bool discovery = false;
  // May hold `{tenantid}`, replaced by the token's `tid` (Microsoft's common,
  // organizations and consumers endpoints).
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string userinfo_endpoint;
  std::string jwks_uri;
  std::string emails_endpoint;
};

// Reads a secret file (client_secret_file) whole.
using SecretFileReader =
    std::function<absl::StatusOr<std::string>(const std::string& path)>;

// The providers of `json`, each checked. INVALID_ARGUMENT names the entry
// ("entry 2 (oauth_custom_acme): …") for: not a JSON array of objects, more
// than kMaxProviders, an unknown or repeated provider, an unknown member (a
// typo must not be ignored), no client_id, a secret file that is missing,
// unreadable or empty, a malformed scope, an endpoint that is not https://
// (or http:// on loopback), or a custom provider with neither an issuer nor
// the endpoints it needs.
absl::StatusOr<std::vector<OAuthProvider>> ParseProviders(
    absl::string_view json, const SecretFileReader& read_secret);

}  // namespace roster::oauth

#endif  // ROSTER_SERVER_OAUTH_PROVIDERS_H_

// Roster's calls to one OAuth provider (DESIGN §11): its discovery document
// (OpenID Connect; read again daily) and its JWK Set (fetched again for an
// unknown `kid`, at most once a minute), each kept so that in an outage
// callers are answered at once (kept_answer.h), the code exchange with
// PKCE, the refresh of an access token, and the userinfo endpoints of plain
// OAuth 2.0 (GitHub's separate addresses included). Every answer is bounded in
// size and time, and every endpoint a provider names is held to https://
// (http:// on loopback).
//
// Thread-safe: the callback runs on several threads at once.
#ifndef ROSTER_SERVER_OAUTH_PROVIDER_CLIENT_H_
#define ROSTER_SERVER_OAUTH_PROVIDER_CLIENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"
#include "server/net/transport.h"
#include "server/oauth/id_token.h"
#include "server/oauth/jwks.h"
#include "server/oauth/kept_answer.h"
#include "server/oauth/providers.h"

namespace roster::oauth {

// What a provider's token endpoint answered.
struct ProviderTokens {
  std::string access_token;
  std::string refresh_token;  // May be empty.
  std::string id_token;       // OpenID Connect only.
  std::vector<std::string> scopes;
  std::optional<absl::Time> expire_at;  // None: the provider did not say.
};

// Who the provider says the user is, from an ID token or a userinfo answer.
struct ProviderIdentity {
  std::string provider_user_id;
  std::string email;  // Empty unless the provider verified it.
  std::string first_name;
  std::string last_name;
  std::string username;
  std::string image_url;
};

class ProviderClient {
 public:
  // `clock` is not owned and must outlive the client.
  ProviderClient(OAuthProvider provider, net::Transport transport,
                 const domain::Clock* clock);

  const OAuthProvider& provider() const { return provider_; }

  // The authorization endpoint (after discovery, when the provider uses it).
  // DEADLINE_EXCEEDED if `deadline` passes while it waits for another call's
  // discovery.
  absl::StatusOr<std::string> AuthorizationEndpoint(
      absl::Time deadline = absl::InfiniteFuture());

  // Exchanges `code` (with the PKCE `code_verifier`) at the token endpoint.
  absl::StatusOr<ProviderTokens> ExchangeCode(const std::string& code,
                                              const std::string& redirect_uri,
                                              const std::string& code_verifier,
                                              absl::Time now);
  // A new access token for `refresh_token`, whose grant had
  // `granted_scopes` (kept when the answer names none).
  absl::StatusOr<ProviderTokens> Refresh(
      const std::string& refresh_token,
      const std::vector<std::string>& granted_scopes, absl::Time now);

  // The user the tokens stand for: the ID token verified (signature, `iss`,
  // `aud`, `nonce`, `exp`) for OpenID Connect, else the userinfo endpoint.
  absl::StatusOr<ProviderIdentity> Identify(const ProviderTokens& tokens,
                                            const std::string& nonce,
                                            absl::Time now);

 private:
  struct Endpoints {
    std::string issuer;
    std::string authorization;
    std::string token;
    std::string userinfo;
    std::string jwks;
  };
  // The endpoints kept, or a new discovery's; see the file comment.
  absl::StatusOr<Endpoints> GetEndpoints(
      absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<Endpoints> Discover();
  absl::StatusOr<Jwks> FetchKeys(const std::string& jwks_uri);
  // The token endpoint's answer to `fields`; no scopes when it names none
  // (what that means depends on the grant).
  absl::StatusOr<ProviderTokens> TokenRequest(
      std::vector<std::pair<std::string, std::string>> fields, absl::Time now);
  absl::StatusOr<ProviderIdentity> FromUserInfo(
      const std::string& access_token);

  const OAuthProvider provider_;
  const net::Transport transport_;
  KeptAnswer<Endpoints> endpoints_;
  KeptAnswer<Jwks> keys_;
};

}  // namespace roster::oauth

#endif  // ROSTER_SERVER_OAUTH_PROVIDER_CLIENT_H_

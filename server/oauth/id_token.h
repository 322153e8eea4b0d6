// An OpenID Connect ID token's checks (OIDC Core §3.1.3.7): its signature by
// the provider's JWK Set, then `iss`, `aud` (and `azp` when there are several
// audiences), `exp`, `nbf` and `iat` with a leeway for clock drift, `nonce`,
// and a `sub`. The claims a sign-in uses come back.
#ifndef ROSTER_SERVER_OAUTH_ID_TOKEN_H_
#define ROSTER_SERVER_OAUTH_ID_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/oauth/jwks.h"

namespace roster::oauth {

struct IdTokenExpectations {
  // May hold `{tenantid}`: the token's `tid` fills it (Microsoft's common
  // endpoints issue tokens for every tenant).
  std::string issuer;
  std::string client_id;  // The audience.
  std::string nonce;      // The one the sign-in's state kept.
  absl::Time now;
  absl::Duration leeway = absl::Seconds(60);  // DESIGN §11
};

struct IdTokenClaims {
  std::string subject;  // The provider's user id.
  std::string email;
  bool email_verified = false;
  std::string given_name;
  std::string family_name;
  std::string picture;
  absl::Time expires_at;
};

// The claims of `token` once every check passes. Errors as VerifyJws's, and
// UNAUTHENTICATED for a claim that fails (the message names it).
absl::StatusOr<IdTokenClaims> VerifyIdToken(
    absl::string_view token, const Jwks& keys,
    const IdTokenExpectations& expected);

}  // namespace roster::oauth

#endif  // ROSTER_SERVER_OAUTH_ID_TOKEN_H_

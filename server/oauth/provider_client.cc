#include "server/oauth/provider_client.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/domain/urls.h"
#include "server/net/http_client.h"
#include "server/oauth/json_fields.h"

namespace roster::oauth {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxAnswerBytes = size_t{64} * 1024;
// A discovery document is read again after this, in case endpoints moved.
constexpr absl::Duration kDiscoveryLifetime = absl::Hours(24);
// After a failed fetch of either, no other is tried for this long: while a
// provider is down, sign-ins fail at once instead of each waiting on it.
constexpr absl::Duration kFetchRetry = absl::Seconds(30);
// An unknown `kid` refetches the keys, but no more often than this: a flood
// of tokens naming made-up keys must not become a flood of fetches.
constexpr absl::Duration kKeysRefetchInterval = absl::Minutes(1);

// True only for a JSON true: json::value() would throw on another type.
bool IsTrue(const Json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

// The provider's own words, bounded, for the log: never our secrets.
std::string ProviderError(const Json& answer, int status) {
  std::string error = StringOr(answer, "error");
  std::string description = StringOr(answer, "error_description");
  if (description.size() > 200) {
    description.resize(200);
  }
  return absl::StrCat(
      "the provider answered ", status,
      error.empty() ? "" : absl::StrCat(" ", error),
      description.empty() ? "" : absl::StrCat(": ", description));
}

absl::StatusOr<Json> FetchJson(const net::HttpRequest& request,
                               const net::Transport& transport,
                               absl::string_view what) {
  absl::StatusOr<net::HttpResponse> response = net::Fetch(request, transport);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        absl::StrCat(what, ": ", response.status().message()));
  }
  Json answer = Json::parse(response->body, nullptr, false);
  if (response->status < 200 || response->status >= 300) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": ",
                     ProviderError(answer.is_object() ? answer : Json::object(),
                                   response->status)));
  }
  if (answer.is_discarded()) {
    return absl::UnavailableError(
        absl::StrCat(what, ": the answer is not JSON"));
  }
  return answer;
}

// First and last name from one display name ("Ada King Lovelace" -> "Ada",
// "King Lovelace"), for providers that only give the whole.
std::pair<std::string, std::string> SplitName(const std::string& name) {
  std::pair<std::string, std::string> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(name), absl::MaxSplits(' ', 1));
  return parts;
}

}  // namespace

ProviderClient::ProviderClient(OAuthProvider provider, net::Transport transport,
                               const domain::Clock* clock)
    : provider_(std::move(provider)),
      transport_(std::move(transport)),
      endpoints_("the provider's discovery document",
                 {/*lifetime=*/kDiscoveryLifetime,
                  /*refresh_interval=*/absl::InfiniteDuration(),
                  /*retry=*/kFetchRetry},
                 clock),
      keys_("the provider's JWK Set",
            {/*lifetime=*/absl::InfiniteDuration(),
             /*refresh_interval=*/kKeysRefetchInterval,
             /*retry=*/kFetchRetry},
            clock) {}

absl::StatusOr<ProviderClient::Endpoints> ProviderClient::Discover() {
  net::HttpRequest request;
  request.url = absl::StrCat(absl::StripSuffix(provider_.issuer, "/"),
                             "/.well-known/openid-configuration");
  request.headers = {"Accept: application/json"};
  request.max_response_bytes = kMaxAnswerBytes;
  absl::StatusOr<Json> document =
      FetchJson(request, transport_, "OpenID discovery");
  if (!document.ok()) {
    return document.status();
  }
  if (!document->is_object()) {
    return absl::UnavailableError("OpenID discovery: not a JSON object");
  }
  Endpoints endpoints;
  endpoints.issuer = StringOr(*document, "issuer");
  // OpenID Discovery §4.3: the document speaks for the issuer asked, or
  // for any tenant (Microsoft's multi-tenant documents say {tenantid}).
  if (endpoints.issuer != provider_.issuer &&
      !absl::StrContains(endpoints.issuer, "{tenantid}")) {
    return absl::UnavailableError(
        absl::StrCat("OpenID discovery: the document's issuer \"",
                     endpoints.issuer, "\" is not ", provider_.issuer));
  }
  endpoints.authorization = StringOr(*document, "authorization_endpoint");
  endpoints.token = StringOr(*document, "token_endpoint");
  endpoints.userinfo = StringOr(*document, "userinfo_endpoint");
  endpoints.jwks = StringOr(*document, "jwks_uri");
  for (const std::string* url :
       {&endpoints.authorization, &endpoints.token, &endpoints.jwks}) {
    if (!domain::IsHttpsOrLoopbackHttp(*url)) {
      return absl::UnavailableError(absl::StrCat(
          "OpenID discovery: an endpoint is missing or not https:// (\"", *url,
          "\")"));
    }
  }
  return endpoints;
}

absl::StatusOr<ProviderClient::Endpoints> ProviderClient::GetEndpoints(
    absl::Time deadline) {
  if (!provider_.discovery) {
    return Endpoints{provider_.issuer, provider_.authorization_endpoint,
                     provider_.token_endpoint, provider_.userinfo_endpoint,
                     provider_.jwks_uri};
  }
  return endpoints_.Get([this] { return Discover(); }, deadline);
}

absl::StatusOr<std::string> ProviderClient::AuthorizationEndpoint(
    absl::Time deadline) {
  absl::StatusOr<Endpoints> endpoints = GetEndpoints(deadline);
  if (!endpoints.ok()) {
    return endpoints.status();
  }
  return endpoints->authorization;
}

absl::StatusOr<Jwks> ProviderClient::FetchKeys(const std::string& jwks_uri) {
  net::HttpRequest request;
  request.url = jwks_uri;
  request.headers = {"Accept: application/json"};
  request.max_response_bytes = kMaxJwksBytes;
  absl::StatusOr<net::HttpResponse> response = net::Fetch(request, transport_);
  if (!response.ok()) {
    return absl::Status(
        response.status().code(),
        absl::StrCat("the JWK Set: ", response.status().message()));
  }
  if (response->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("the JWK Set: the provider answered ", response->status));
  }
  return Jwks::Parse(response->body);
}

absl::StatusOr<ProviderTokens> ProviderClient::TokenRequest(
    std::vector<std::pair<std::string, std::string>> fields, absl::Time now) {
  absl::StatusOr<Endpoints> endpoints = GetEndpoints();
  if (!endpoints.ok()) {
    return endpoints.status();
  }
  // client_secret_post: Google, Microsoft, GitHub and GitLab all take it.
  fields.emplace_back("client_id", provider_.client_id);
  fields.emplace_back("client_secret", provider_.client_secret);
  net::HttpRequest request;
  request.url = endpoints->token;
  // GitHub answers form-encoded unless asked for JSON.
  request.headers = {"Accept: application/json"};
  request.form_body = net::FormEncode(fields);
  request.max_response_bytes = kMaxAnswerBytes;
  absl::StatusOr<Json> answer =
      FetchJson(request, transport_, "the token endpoint");
  if (!answer.ok()) {
    return answer.status();
  }
  // GitHub reports a refused code with 200 and an `error` member.
  if (!answer->is_object() || answer->contains("error") ||
      StringOr(*answer, "access_token").empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the token endpoint: ",
        ProviderError(answer->is_object() ? *answer : Json::object(), 200)));
  }
  ProviderTokens tokens;
  tokens.access_token = StringOr(*answer, "access_token");
  tokens.refresh_token = StringOr(*answer, "refresh_token");
  tokens.id_token = StringOr(*answer, "id_token");
  tokens.scopes = absl::StrSplit(StringOr(*answer, "scope"),
                                 absl::ByAnyChar(" ,"), absl::SkipEmpty());
  if (const auto expires = answer->find("expires_in");
      expires != answer->end() && expires->is_number() &&
      expires->get<double>() > 0 && expires->get<double>() < 1e9) {
    tokens.expire_at =
        now + absl::Seconds(static_cast<int64_t>(expires->get<double>()));
  }
  return tokens;
}

absl::StatusOr<ProviderTokens> ProviderClient::ExchangeCode(
    const std::string& code, const std::string& redirect_uri,
    const std::string& code_verifier, absl::Time now) {
  absl::StatusOr<ProviderTokens> tokens =
      TokenRequest({{"grant_type", "authorization_code"},
                    {"code", code},
                    {"redirect_uri", redirect_uri},
                    {"code_verifier", code_verifier}},
                   now);
  // RFC 6749 §5.1: no scope in the answer means the scopes asked for.
  if (tokens.ok() && tokens->scopes.empty()) {
    tokens->scopes = provider_.scopes;
  }
  return tokens;
}

absl::StatusOr<ProviderTokens> ProviderClient::Refresh(
    const std::string& refresh_token,
    const std::vector<std::string>& granted_scopes, absl::Time now) {
  absl::StatusOr<ProviderTokens> tokens = TokenRequest(
      {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}}, now);
  // A provider may keep the refresh token: it stays the one we have.
  if (tokens.ok() && tokens->refresh_token.empty()) {
    tokens->refresh_token = refresh_token;
  }
  // RFC 6749 §6: no scope in the answer means the scopes first granted,
  // which may be fewer than the ones asked for.
  if (tokens.ok() && tokens->scopes.empty()) {
    tokens->scopes = granted_scopes;
  }
  return tokens;
}

absl::StatusOr<ProviderIdentity> ProviderClient::Identify(
    const ProviderTokens& tokens, const std::string& nonce, absl::Time now) {
  if (!provider_.openid_connect) {
    return FromUserInfo(tokens.access_token);
  }
  absl::StatusOr<Endpoints> endpoints = GetEndpoints();
  if (!endpoints.ok()) {
    return endpoints.status();
  }
  if (tokens.id_token.empty()) {
    return absl::UnauthenticatedError("the provider sent no ID token");
  }
  IdTokenExpectations expected{endpoints->issuer, provider_.client_id, nonce,
                               now};
  absl::StatusOr<IdTokenClaims> claims = absl::UnknownError("not verified");
  for (const bool refresh : {false, true}) {
    absl::StatusOr<Jwks> keys =
        keys_.Get([&] { return FetchKeys(endpoints->jwks); },
                  absl::InfiniteFuture(), refresh);
    if (!keys.ok()) {
      return keys.status();
    }
    claims = VerifyIdToken(tokens.id_token, *keys, expected);
    // An unknown key may be a rotation: look once more.
    if (!absl::IsNotFound(claims.status())) {
      break;
    }
  }
  if (!claims.ok()) {
    return claims.status();
  }
  ProviderIdentity identity;
  identity.provider_user_id = claims->subject;
  if (claims->email_verified) {
    identity.email = claims->email;
  }
  identity.first_name = claims->given_name;
  identity.last_name = claims->family_name;
  identity.image_url = claims->picture;
  return identity;
}

absl::StatusOr<ProviderIdentity> ProviderClient::FromUserInfo(
    const std::string& access_token) {
  net::HttpRequest request;
  request.url = provider_.userinfo_endpoint;
  // GitHub's API refuses requests without a User-Agent.
  request.headers = {"Accept: application/json", "User-Agent: roster",
                     absl::StrCat("Authorization: Bearer ", access_token)};
  request.max_response_bytes = kMaxAnswerBytes;
  absl::StatusOr<Json> user = FetchJson(request, transport_, "userinfo");
  if (!user.ok()) {
    return user.status();
  }
  if (!user->is_object()) {
    return absl::UnavailableError("userinfo: not a JSON object");
  }
  ProviderIdentity identity;
  const auto id = user->find("id");
  if (id != user->end() && id->is_number_integer()) {
    identity.provider_user_id = std::to_string(id->get<int64_t>());
  } else {
    identity.provider_user_id = id != user->end() && id->is_string()
                                    ? id->get<std::string>()
                                    : StringOr(*user, "sub");
  }
  if (identity.provider_user_id.empty() ||
      identity.provider_user_id.size() > 255) {
    return absl::UnavailableError("userinfo: no user id (`id` or `sub`)");
  }
  identity.username = StringOr(*user, "login");
  if (identity.username.empty()) {
    identity.username = StringOr(*user, "preferred_username");
  }
  std::tie(identity.first_name, identity.last_name) =
      SplitName(StringOr(*user, "name"));
  identity.image_url = StringOr(*user, "avatar_url");
  if (identity.image_url.empty()) {
    identity.image_url = StringOr(*user, "picture");
  }
  if (IsTrue(*user, "email_verified")) {
    identity.email = StringOr(*user, "email");
  }
  if (provider_.emails_endpoint.empty()) {
    return identity;
  }
  // GitHub: the profile's email is unverified; the list says which are.
  request.url = provider_.emails_endpoint;
  absl::StatusOr<Json> emails = FetchJson(request, transport_, "emails");
  if (!emails.ok()) {
    return emails.status();
  }
  if (!emails->is_array()) {
    return absl::UnavailableError("emails: not a JSON array");
  }
  for (const Json& email : *emails) {
    if (!email.is_object() || !IsTrue(email, "verified")) {
      continue;
    }
    if (identity.email.empty() || IsTrue(email, "primary")) {
      identity.email = StringOr(email, "email");
    }
  }
  return identity;
}

}  // namespace roster::oauth

#include "server/oauth/id_token.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace roster::oauth {
namespace {

using Json = nlohmann::json;

// The longest `sub` OIDC Core §2 allows.
constexpr size_t kMaxSubjectBytes = 255;

std::string StringClaim(const Json& claims, const char* name) {
  const auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : "";
}

// A NumericDate claim (seconds since the epoch): InfinitePast when absent and
// optional, an error when required and absent or when not a number.
absl::StatusOr<absl::Time> TimeClaim(const Json& claims, const char* name,
                                     bool required) {
  const auto it = claims.find(name);
  if (it == claims.end()) {
    if (required) {
      return absl::UnauthenticatedError(
          absl::StrCat("the ID token has no \"", name, "\""));
    }
    return absl::InfinitePast();
  }
  if (!it->is_number()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the ID token's \"", name, "\" is not a number"));
  }
  // Clamped before the cast: a double out of int64's range is undefined.
  const double seconds = std::clamp(it->get<double>(), -1e15, 1e15);
  return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
}

absl::Status CheckAudience(const Json& claims, const std::string& client_id) {
  const auto aud = claims.find("aud");
  bool ours = false;
  size_t count = 0;
  if (aud != claims.end() && aud->is_string()) {
    ours = aud->get<std::string>() == client_id;
    count = 1;
  } else if (aud != claims.end() && aud->is_array()) {
    for (const Json& one : *aud) {
      ours = ours || (one.is_string() && one.get<std::string>() == client_id);
    }
    count = aud->size();
  }
  if (!ours) {
    return absl::UnauthenticatedError(
        "the ID token's \"aud\" is not this client");
  }
  // Several audiences: the party it was issued to must be this client.
  const std::string azp = StringClaim(claims, "azp");
  if ((count > 1 || !azp.empty()) && azp != client_id) {
    return absl::UnauthenticatedError(
        "the ID token's \"azp\" is not this client");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IdTokenClaims> VerifyIdToken(
    absl::string_view token, const Jwks& keys,
    const IdTokenExpectations& expected) {
  absl::StatusOr<VerifiedJws> jws = VerifyJws(token, keys);
  if (!jws.ok()) {
    return jws.status();
  }
  const Json claims = Json::parse(jws->payload, nullptr, false);
  if (!claims.is_object()) {
    return absl::InvalidArgumentError("the ID token's claims are not JSON");
  }
  // Microsoft's multi-tenant issuers name the tenant the token is for.
  std::string issuer = expected.issuer;
  if (absl::StrContains(issuer, "{tenantid}")) {
    const std::string tenant = StringClaim(claims, "tid");
    if (tenant.empty()) {
      return absl::UnauthenticatedError("the ID token has no \"tid\"");
    }
    issuer = absl::StrReplaceAll(issuer, {{"{tenantid}", tenant}});
  }
  if (StringClaim(claims, "iss") != issuer) {
    return absl::UnauthenticatedError(
        absl::StrCat("the ID token's \"iss\" is not ", issuer));
  }
  if (absl::Status audience = CheckAudience(claims, expected.client_id);
      !audience.ok()) {
    return audience;
  }
  absl::StatusOr<absl::Time> exp = TimeClaim(claims, "exp", true);
  absl::StatusOr<absl::Time> nbf = TimeClaim(claims, "nbf", false);
  absl::StatusOr<absl::Time> iat = TimeClaim(claims, "iat", false);
  if (!exp.ok() || !nbf.ok() || !iat.ok()) {
    return !exp.ok() ? exp.status() : !nbf.ok() ? nbf.status() : iat.status();
  }
  if (expected.now >= *exp + expected.leeway) {
    return absl::UnauthenticatedError("the ID token has expired");
  }
  if (expected.now + expected.leeway < *nbf ||
      expected.now + expected.leeway < *iat) {
    return absl::UnauthenticatedError("the ID token is not valid yet");
  }
  // A nonce is always sent, so one must always come back, and match.
  if (expected.nonce.empty() ||
      StringClaim(claims, "nonce") != expected.nonce) {
    return absl::UnauthenticatedError(
        "the ID token's \"nonce\" is not this sign-in's");
  }
  IdTokenClaims out;
  out.subject = StringClaim(claims, "sub");
  if (out.subject.empty() || out.subject.size() > kMaxSubjectBytes) {
    return absl::UnauthenticatedError(
        "the ID token's \"sub\" is missing or over 255 bytes");
  }
  out.email = StringClaim(claims, "email");
  // Some providers send the flag as the string "true".
  const auto verified = claims.find("email_verified");
  out.email_verified =
      verified != claims.end() &&
      ((verified->is_boolean() && verified->get<bool>()) ||
       (verified->is_string() && verified->get<std::string>() == "true"));
  out.given_name = StringClaim(claims, "given_name");
  out.family_name = StringClaim(claims, "family_name");
  out.picture = StringClaim(claims, "picture");
  out.expires_at = *exp;
  return out;
}

}  // namespace roster::oauth

#include "client/session_verifier.h"

#include <grpcpp/grpcpp.h>
#include <sodium.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "roster/v1/frontend_users.grpc.pb.h"

namespace roster {
namespace {

using Json = nlohmann::json;

// Larger tokens are refused unread; Roster's are about 400 bytes.
constexpr size_t kMaxTokenBytes = 4096;

absl::Status Refused(absl::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat("session token refused: ", why));
}

// Base64url without padding, canonical only: one signed token has one
// spelling.
bool DecodeSegment(absl::string_view segment, std::string* out) {
  for (char c : segment) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return false;
    }
  }
  return absl::WebSafeBase64Unescape(segment, out) &&
         absl::WebSafeBase64Escape(*out) == segment;
}

bool IsString(const Json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string();
}

bool IsInteger(const Json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_number_integer();
}

}  // namespace

SessionVerifier::SessionVerifier(KeyFetcher fetch_keys,
                                 SessionVerifierOptions options, Clock clock)
    : fetch_keys_(std::move(fetch_keys)),
      options_(std::move(options)),
      clock_(std::move(clock)) {
  if (sodium_init() < 0) {
    abort();  // libsodium cannot run here at all.
  }
}

std::unique_ptr<SessionVerifier> SessionVerifier::ForChannel(
    std::shared_ptr<grpc::Channel> channel, SessionVerifierOptions options) {
  const absl::Duration timeout = options.fetch_timeout;
  auto stub = std::shared_ptr<v1::FrontendUsers::Stub>(
      v1::FrontendUsers::NewStub(std::move(channel)));
  auto fetch = [stub, timeout]() -> absl::StatusOr<v1::Jwks> {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    // A service may start before Roster answers: wait for it, within the
    // deadline, rather than fail at once.
    context.set_wait_for_ready(true);
    v1::Jwks jwks;
    const grpc::Status status =
        stub->GetJwks(&context, v1::GetJwksRequest(), &jwks);
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("GetJwks failed: ", status.error_message()));
    }
    return jwks;
  };
  return std::make_unique<SessionVerifier>(std::move(fetch),
                                           std::move(options));
}

const SessionVerifier::Key* SessionVerifier::FindLocked(
    const std::string& kid) const {
  for (const Key& key : keys_) {
    if (key.kid == kid) {
      return &key;
    }
  }
  return nullptr;
}

absl::StatusOr<SessionVerifier::Key> SessionVerifier::FindKey(
    const std::string& kid) {
  {
    absl::ReaderMutexLock lock(&mutex_);
    if (const Key* key = FindLocked(kid)) {
      return *key;
    }
  }
  absl::MutexLock fetch_lock(&fetch_mutex_);
  {
    absl::ReaderMutexLock lock(&mutex_);
    if (const Key* key = FindLocked(kid)) {
      return *key;  // Fetched by another caller while this one waited.
    }
    if (fetched_ok_ && clock_() - last_fetch_ < options_.refetch_interval) {
      return Refused("no key has its kid");
    }
  }
  absl::StatusOr<v1::Jwks> jwks = fetch_keys_();
  std::vector<Key> keys;
  if (jwks.ok()) {
    for (const v1::Jwk& jwk : jwks->keys()) {
      std::string x;
      if (jwk.kty() != "OKP" || jwk.crv() != "Ed25519" ||
          !DecodeSegment(jwk.x(), &x) || x.size() != 32) {
        continue;  // Not a key this verifier can use.
      }
      Key key{jwk.kid(), {}};
      std::copy(x.begin(), x.end(), key.public_key.begin());
      keys.push_back(std::move(key));
    }
  }
  absl::MutexLock lock(&mutex_);
  ++fetches_;
  last_fetch_ = clock_();
  if (!jwks.ok()) {
    return jwks.status();
  }
  keys_ = std::move(keys);
  fetched_ok_ = true;
  if (const Key* key = FindLocked(kid)) {
    return *key;
  }
  return Refused("no key has its kid");
}

absl::StatusOr<SessionClaims> SessionVerifier::Verify(absl::string_view token) {
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return Refused("empty or too long");
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string header_json;
  std::string payload_json;
  std::string signature;
  if (parts.size() != 3 || !DecodeSegment(parts[0], &header_json) ||
      !DecodeSegment(parts[1], &payload_json) ||
      !DecodeSegment(parts[2], &signature) ||
      signature.size() != crypto_sign_BYTES) {
    return Refused("not a compact JWS");
  }
  const Json header = Json::parse(header_json, nullptr, false);
  // Only EdDSA: "none", HS256 keyed with the public key and the rest are the
  // classic ways to forge a token a lax verifier accepts.
  if (!header.is_object() || header.value("alg", Json()) != "EdDSA" ||
      !IsString(header, "kid")) {
    return Refused("alg is not EdDSA or kid is missing");
  }
  absl::StatusOr<Key> key = FindKey(header["kid"].get<std::string>());
  if (!key.ok()) {
    return key.status();
  }
  const std::string signing_input = absl::StrCat(parts[0], ".", parts[1]);
  if (crypto_sign_verify_detached(
          reinterpret_cast<const unsigned char*>(signature.data()),
          reinterpret_cast<const unsigned char*>(signing_input.data()),
          signing_input.size(), key->public_key.data()) != 0) {
    return Refused("bad signature");
  }
  const Json payload = Json::parse(payload_json, nullptr, false);
  if (!payload.is_object() || !IsString(payload, "iss") ||
      !IsString(payload, "sub") || !IsString(payload, "sid") ||
      !IsInteger(payload, "iat") || !IsInteger(payload, "nbf") ||
      !IsInteger(payload, "exp")) {
    return Refused("claims missing");
  }
  SessionClaims claims;
  claims.issuer = payload["iss"].get<std::string>();
  claims.user_id = payload["sub"].get<std::string>();
  claims.session_id = payload["sid"].get<std::string>();
  claims.issued_at = absl::FromUnixSeconds(payload["iat"].get<int64_t>());
  claims.not_before = absl::FromUnixSeconds(payload["nbf"].get<int64_t>());
  claims.expires_at = absl::FromUnixSeconds(payload["exp"].get<int64_t>());
  if (claims.issuer != options_.issuer) {
    return Refused("wrong issuer");
  }
  const auto aud = payload.find("aud");
  const bool audience_matches =
      aud == payload.end()
          ? options_.audience.empty()
          : (aud->is_string() && *aud == options_.audience) ||
                (aud->is_array() && aud->size() == 1 && (*aud)[0].is_string() &&
                 (*aud)[0] == options_.audience);
  if (!audience_matches) {
    return Refused("wrong audience");
  }
  const absl::Time now = clock_();
  if (now - options_.leeway >= claims.expires_at) {
    return Refused("expired");
  }
  if (now + options_.leeway < claims.not_before) {
    return Refused("not yet valid");
  }
  return claims;
}

int SessionVerifier::key_fetches() const {
  absl::ReaderMutexLock lock(&mutex_);
  return fetches_;
}

}  // namespace roster

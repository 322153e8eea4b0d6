#include "server/domain/tokens.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/domain/errors.h"

namespace roster::domain {
namespace {

using Json = nlohmann::json;

// PKCS#8 DER for an Ed25519 private key is this prefix followed by the 32-byte
// seed.
constexpr unsigned char kPkcs8Prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
                                            0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                            0x04, 0x22, 0x04, 0x20};

std::string Bytes(const unsigned char* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

absl::Status Invalid() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kUnauthenticated,
               "the session token is invalid");
}

// Base64url without padding, strictly: other characters or padding are
// rejected.
bool DecodeSegment(absl::string_view segment, std::string* out) {
  for (char c : segment) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  // Only the canonical encoding: base64url lets the last character carry
  // unused bits, and accepting them would let one signed token be spelled
  // several ways.
  return absl::WebSafeBase64Unescape(segment, out) &&
         absl::WebSafeBase64Escape(*out) == segment;
}

}  // namespace

std::string VerificationKey::x() const {
  return absl::WebSafeBase64Escape(Bytes(public_key.data(), public_key.size()));
}

SigningKey::SigningKey(const std::array<unsigned char, 32>& seed)
    : seed_(seed) {
  crypto_sign_seed_keypair(public_.public_key.data(), secret_key_.data(),
                           seed_.data());
  // RFC 7638: SHA-256 of the required members in lexicographic order, no
  // whitespace.
  const std::string canonical = absl::StrCat(
      R"({"crv":"Ed25519","kty":"OKP","x":")", public_.x(), R"("})");
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(),
                     reinterpret_cast<const unsigned char*>(canonical.data()),
                     canonical.size());
  public_.kid = absl::WebSafeBase64Escape(Bytes(digest.data(), digest.size()));
}

SigningKey SigningKey::Generate(RandomSource& random) {
  std::array<unsigned char, 32> seed{};
  random.Fill(absl::MakeSpan(seed.data(), seed.size()));
  return SigningKey(seed);
}

absl::StatusOr<SigningKey> SigningKey::Parse(absl::string_view text) {
  std::array<unsigned char, 32> seed{};
  constexpr absl::string_view kBegin = "-----BEGIN PRIVATE KEY-----";
  constexpr absl::string_view kEnd = "-----END PRIVATE KEY-----";
  const size_t begin = text.find(kBegin);
  if (begin != absl::string_view::npos) {
    const size_t end = text.find(kEnd, begin);
    std::string base64;
    for (char c :
         text.substr(begin + kBegin.size(), end - begin - kBegin.size())) {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
        base64.push_back(c);
      }
    }
    std::string der;
    if (end == absl::string_view::npos || !absl::Base64Unescape(base64, &der) ||
        der.size() != sizeof(kPkcs8Prefix) + seed.size() ||
        der.compare(0, sizeof(kPkcs8Prefix),
                    Bytes(kPkcs8Prefix, sizeof(kPkcs8Prefix))) != 0) {
      return absl::InvalidArgumentError(
          "the signing key is not an Ed25519 PKCS#8 PEM");
    }
    std::copy(der.end() - 32, der.end(), seed.begin());
    return SigningKey(seed);
  }
  const absl::string_view hex = absl::StripAsciiWhitespace(text);
  if (hex.size() != 64) {
    return absl::InvalidArgumentError(
        "the signing key must be an Ed25519 PKCS#8 PEM or a 32-byte seed in "
        "hex");
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("the signing key seed is not hex");
    }
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  std::copy(bytes.begin(), bytes.end(), seed.begin());
  return SigningKey(seed);
}

std::string SigningKey::ToPem() const {
  const std::string der = Bytes(kPkcs8Prefix, sizeof(kPkcs8Prefix)) +
                          Bytes(seed_.data(), seed_.size());
  return absl::StrCat("-----BEGIN PRIVATE KEY-----\n", absl::Base64Escape(der),
                      "\n-----END PRIVATE KEY-----\n");
}

std::string SigningKey::Sign(const TokenClaims& claims) const {
  const Json header = {{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", public_.kid}};
  Json payload = {{"iss", claims.issuer},
                  {"sub", claims.user_id},
                  {"sid", claims.session_id},
                  {"iat", absl::ToUnixSeconds(claims.issued_at)},
                  {"nbf", absl::ToUnixSeconds(claims.not_before)},
                  {"exp", absl::ToUnixSeconds(claims.expires_at)}};
  if (!claims.audience.empty()) {
    payload["aud"] = claims.audience;
  }
  const std::string signing_input =
      absl::StrCat(absl::WebSafeBase64Escape(header.dump()), ".",
                   absl::WebSafeBase64Escape(payload.dump()));
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  crypto_sign_detached(
      signature.data(), nullptr,
      reinterpret_cast<const unsigned char*>(signing_input.data()),
      signing_input.size(), secret_key_.data());
  return absl::StrCat(
      signing_input, ".",
      absl::WebSafeBase64Escape(Bytes(signature.data(), signature.size())));
}

absl::StatusOr<TokenClaims> TokenVerifier::Verify(absl::string_view token,
                                                  absl::Time now) const {
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return Invalid();
  }
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  std::string header_json, payload_json, signature;
  if (parts.size() != 3 || !DecodeSegment(parts[0], &header_json) ||
      !DecodeSegment(parts[1], &payload_json) ||
      !DecodeSegment(parts[2], &signature) ||
      signature.size() != crypto_sign_BYTES) {
    return Invalid();
  }
  const Json header =
      Json::parse(header_json, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object() || header.value("alg", Json()) != "EdDSA" ||
      !header.value("kid", Json()).is_string()) {
    return Invalid();  // Refuses alg "none", HS256 and everything else.
  }
  const std::string kid = header["kid"].get<std::string>();
  const VerificationKey* key = nullptr;
  for (const auto& candidate : keys_) {
    if (candidate.kid == kid) {
      key = &candidate;
    }
  }
  const std::string signing_input = absl::StrCat(parts[0], ".", parts[1]);
  if (key == nullptr ||
      crypto_sign_verify_detached(
          reinterpret_cast<const unsigned char*>(signature.data()),
          reinterpret_cast<const unsigned char*>(signing_input.data()),
          signing_input.size(), key->public_key.data()) != 0) {
    return Invalid();
  }
  const Json payload =
      Json::parse(payload_json, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) {
    return Invalid();
  }
  for (const char* field : {"iss", "sub", "sid"}) {
    if (!payload.value(field, Json()).is_string()) {
      return Invalid();
    }
  }
  for (const char* field : {"iat", "nbf", "exp"}) {
    if (!payload.value(field, Json()).is_number_integer()) {
      return Invalid();
    }
  }
  TokenClaims claims;
  claims.issuer = payload["iss"].get<std::string>();
  claims.user_id = payload["sub"].get<std::string>();
  claims.session_id = payload["sid"].get<std::string>();
  claims.issued_at = absl::FromUnixSeconds(payload["iat"].get<int64_t>());
  claims.not_before = absl::FromUnixSeconds(payload["nbf"].get<int64_t>());
  claims.expires_at = absl::FromUnixSeconds(payload["exp"].get<int64_t>());
  if (payload.contains("aud")) {
    // RFC 7519 §4.1.3: a string or an array of strings.
    const Json& aud = payload["aud"];
    if (aud.is_string()) {
      claims.audience = aud.get<std::string>();
    } else if (aud.is_array() && aud.size() == 1 && aud[0].is_string()) {
      claims.audience = aud[0].get<std::string>();
    } else {
      return Invalid();
    }
  }
  if (claims.issuer != issuer_ || claims.audience != audience_ ||
      !WithinLifetime(claims, now)) {
    return Invalid();
  }
  return claims;
}

bool WithinLifetime(const TokenClaims& claims, absl::Time now) {
  return now + kTokenLeeway >= claims.not_before &&
         now - kTokenLeeway < claims.expires_at;
}

}  // namespace roster::domain

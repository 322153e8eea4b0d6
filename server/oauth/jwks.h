// An OpenID provider's signing keys (a JWK Set, RFC 7517) and the check of a
// compact JWS (RFC 7515) against them, with OpenSSL's EVP: RS256 (RSA, 2048 to
// 8192 bits), ES256 (P-256) and EdDSA (Ed25519). Nothing else verifies: `none`,
// HMAC and any other `alg` are refused, as is a key whose type does not fit
// the token's `alg` (no algorithm confusion).
#ifndef ROSTER_SERVER_OAUTH_JWKS_H_
#define ROSTER_SERVER_OAUTH_JWKS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct evp_pkey_st;

namespace roster::oauth {

// Bounds on what a provider may send: a JWK Set, and a token.
inline constexpr size_t kMaxJwksBytes = size_t{256} * 1024;
inline constexpr size_t kMaxJwksKeys = 64;
inline constexpr size_t kMaxJwsBytes = size_t{16} * 1024;

struct Jwk {
  std::string kid;  // May be empty.
  std::string alg;  // The JWS `alg` it signs with: RS256, ES256 or EdDSA.
  std::shared_ptr<evp_pkey_st> key;
};

class Jwks {
 public:
  // The signing keys of `json`. Keys of other types, curves or uses (`enc`)
  // are skipped, as providers publish them beside signing keys; a set that is
  // not JSON, too large, or holds a malformed key of a supported type is
  // INVALID_ARGUMENT.
  static absl::StatusOr<Jwks> Parse(absl::string_view json);

  // The key that may verify a token with header `kid` and `alg`: the one with
  // that `kid`, or with no `kid` in the token, the only key for `alg`.
  // nullptr when there is none (the caller may refetch the set once).
  const Jwk* Find(absl::string_view kid, absl::string_view alg) const;

  size_t size() const { return keys_.size(); }

 private:
  std::vector<Jwk> keys_;
};

struct VerifiedJws {
  std::string header;   // JSON
  std::string payload;  // bytes (JSON for an ID token)
};

// The header and payload of `compact` (header.payload.signature) once its
// signature verifies with a key of `keys`. Errors: INVALID_ARGUMENT (malformed,
// too large, an unsupported `alg` or `crit`), NOT_FOUND (no key for its
// `kid`: refetch the set and retry once), UNAUTHENTICATED (a bad signature).
absl::StatusOr<VerifiedJws> VerifyJws(absl::string_view compact,
                                      const Jwks& keys);

// base64url without padding (RFC 7515 §2) to bytes; INVALID_ARGUMENT when
// `text` is not that encoding.
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text);

}  // namespace roster::oauth

#endif  // ROSTER_SERVER_OAUTH_JWKS_H_

// Session tokens (DESIGN §5): JWTs signed with Ed25519 (`alg` EdDSA), `kid` the
// RFC 7638 thumbprint of the public key, claims `iss`, `sub` (user id), `sid`
// (session id), `iat`, `nbf`, `exp`, and `aud` when an audience is configured.
// Keys: libsodium; JSON: nlohmann (in tokens.cc only).
#ifndef ROSTER_SERVER_DOMAIN_TOKENS_H_
#define ROSTER_SERVER_DOMAIN_TOKENS_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"

namespace roster::domain {

inline constexpr size_t kMaxTokenBytes = 4096;
// Clocks of replicas (and of the services that check tokens) drift apart: a
// token is accepted this long before its `nbf` and after its `exp` (DESIGN
// §14).
inline constexpr absl::Duration kTokenLeeway = absl::Seconds(30);

struct TokenClaims {
  std::string issuer;
  std::string user_id;     // sub
  std::string session_id;  // sid
  absl::Time issued_at;
  absl::Time not_before;
  absl::Time expires_at;
  std::string audience;  // aud; empty: none.
};

// True when `now` is within the token's `nbf` and `exp`, give or take
// kTokenLeeway.
bool WithinLifetime(const TokenClaims& claims, absl::Time now);

// A public key that verifies tokens, as published in the JWK Set.
struct VerificationKey {
  std::string kid;
  std::array<unsigned char, 32> public_key{};
  // The JWK's `x`: the public key, base64url without padding.
  std::string x() const;
};

// An Ed25519 signing key. Thread-safe (immutable).
class SigningKey {
 public:
  // A new random key.
  static SigningKey Generate(RandomSource& random);
  // From a PKCS#8 PEM (`openssl genpkey -algorithm ed25519`) or a 32-byte seed
  // as 64 hex characters. InvalidArgument otherwise.
  static absl::StatusOr<SigningKey> Parse(absl::string_view text);

  // The key as a PKCS#8 PEM, for storing.
  std::string ToPem() const;
  const VerificationKey& verification_key() const { return public_; }
  // A compact JWS of `claims`.
  std::string Sign(const TokenClaims& claims) const;

 private:
  explicit SigningKey(const std::array<unsigned char, 32>& seed);

  std::array<unsigned char, 32> seed_{};
  std::array<unsigned char, 64> secret_key_{};
  VerificationKey public_;
};

// Verifies tokens against several keys (for rotation). Thread-safe (immutable).
class TokenVerifier {
 public:
  // With an `audience`, a token must carry it as `aud`.
  TokenVerifier(std::string issuer, std::vector<VerificationKey> keys,
                std::string audience = "")
      : issuer_(std::move(issuer)),
        audience_(std::move(audience)),
        keys_(std::move(keys)) {}

  // The claims of a valid token: well-formed, `alg` EdDSA, a known `kid`, a
  // valid signature, our issuer (and audience), `nbf` <= now < `exp` give or
  // take kTokenLeeway. UNAUTHENTICATED otherwise, with a generic message.
  absl::StatusOr<TokenClaims> Verify(absl::string_view token,
                                     absl::Time now) const;

  const std::vector<VerificationKey>& keys() const { return keys_; }

 private:
  std::string issuer_;
  std::string audience_;
  std::vector<VerificationKey> keys_;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_TOKENS_H_

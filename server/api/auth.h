// Secret-key authentication for BackendUsers: `authorization: Bearer <secret
// key>` against the configured keys (several, so keys can be rotated). Keys are
// kept only as BLAKE2b digests and compared in constant time against every
// configured key.
#ifndef ROSTER_SERVER_API_AUTH_H_
#define ROSTER_SERVER_API_AUTH_H_

#include <grpcpp/support/string_ref.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace roster::api {

// The credential of the call's one `authorization: Bearer <credential>` header
// (the scheme compared case-insensitively); UNAUTHENTICATED (reason
// UNAUTHENTICATED) when there is none, more than one, or another scheme.
// `credential` names what belongs there ("secret key", "session token") in the
// error. The view points into `metadata`.
absl::StatusOr<absl::string_view> BearerCredential(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view credential);

// Thread-safe (immutable after construction).
class SecretKeyAuthenticator {
 public:
  explicit SecretKeyAuthenticator(const std::vector<std::string>& secret_keys);

  // The caller's actor, `secret_key:<first 8 hex of the key's BLAKE2b
  // digest>`, when `metadata` holds exactly one `authorization: Bearer <key>`
  // with a configured key; UNAUTHENTICATED (reason UNAUTHENTICATED)
  // otherwise. Neither ever contains the key itself.
  absl::StatusOr<std::string> Authenticate(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  std::vector<Digest> key_digests_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_AUTH_H_

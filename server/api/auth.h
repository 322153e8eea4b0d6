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

namespace roster::api {

// Thread-safe (immutable after construction).
class SecretKeyAuthenticator {
 public:
  explicit SecretKeyAuthenticator(const std::vector<std::string>& secret_keys);

  // OK when `metadata` holds exactly one `authorization: Bearer <key>` with a
  // configured key; UNAUTHENTICATED (reason UNAUTHENTICATED) otherwise. The
  // message never echoes the key.
  absl::Status Authenticate(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  std::vector<Digest> key_digests_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_AUTH_H_

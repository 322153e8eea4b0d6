// roster::SessionVerifier checks a Roster session token (an EdDSA JWT) offline,
// as another C++ service does on each request: the public keys come from
// FrontendUsers.GetJwks, fetched on first use, cached, and fetched again when a
// token names a key the cache lacks (a rotation), at most once per
// `refetch_interval` so a flood of made-up key ids is not a flood of fetches.
// A token is valid when its header says alg EdDSA, its signature verifies
// against the key its `kid` names, `iss` (and `aud`, when configured) match,
// and now is within [nbf, exp) widened by `leeway`. Thread-safe.
//
// Installed with the stubs: find_package(roster), link
// roster::roster_session_verifier, include "roster/client/session_verifier.h".
#ifndef ROSTER_CLIENT_SESSION_VERIFIER_H_
#define ROSTER_CLIENT_SESSION_VERIFIER_H_

#include <grpcpp/channel.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "roster/v1/frontend_users.pb.h"

namespace roster {

// The claims of a valid session token.
struct SessionClaims {
  std::string user_id;     // sub
  std::string session_id;  // sid
  std::string issuer;      // iss
  absl::Time issued_at;    // iat
  absl::Time not_before;   // nbf
  absl::Time expires_at;   // exp
};

struct SessionVerifierOptions {
  // The server's --token_issuer.
  std::string issuer = "roster";
  // The server's --token_audience; empty means the token must carry none.
  std::string audience;
  // Clock skew tolerated between this host and Roster's, both ways.
  absl::Duration leeway = absl::Seconds(5);
  // The least time between two fetches for unknown key ids.
  absl::Duration refetch_interval = absl::Seconds(30);
  // How long one GetJwks call may take (ForChannel's fetcher).
  absl::Duration fetch_timeout = absl::Seconds(5);
};

class SessionVerifier {
 public:
  // Returns the current JWK Set, or an error when it cannot be had.
  using KeyFetcher = std::function<absl::StatusOr<v1::Jwks>()>;
  using Clock = std::function<absl::Time()>;

  SessionVerifier(KeyFetcher fetch_keys, SessionVerifierOptions options,
                  Clock clock = absl::Now);

  // Fetches the keys with FrontendUsers.GetJwks on `channel` (no credentials:
  // GetJwks is public), waiting up to options.fetch_timeout for the channel.
  static std::unique_ptr<SessionVerifier> ForChannel(
      std::shared_ptr<grpc::Channel> channel, SessionVerifierOptions options);

  // The claims when `token` is valid now. UNAUTHENTICATED (with the reason in
  // the message) for any token that is not; UNAVAILABLE when the keys could
  // not be fetched, which says nothing about the token.
  absl::StatusOr<SessionClaims> Verify(absl::string_view token)
      ABSL_LOCKS_EXCLUDED(mutex_);

  // How many times the keys were fetched successfully or not.
  int key_fetches() const ABSL_LOCKS_EXCLUDED(mutex_);

 private:
  struct Key {
    std::string kid;
    std::array<unsigned char, 32> public_key;
  };

  // The key named `kid`, fetching the set first when there is none yet or
  // when `kid` is unknown and the last fetch is old enough. One fetch runs at
  // a time, without holding mutex_, so known keys verify during it.
  absl::StatusOr<Key> FindKey(const std::string& kid)
      ABSL_LOCKS_EXCLUDED(mutex_, fetch_mutex_);
  const Key* FindLocked(const std::string& kid) const
      ABSL_SHARED_LOCKS_REQUIRED(mutex_);

  const KeyFetcher fetch_keys_;
  const SessionVerifierOptions options_;
  const Clock clock_;
  absl::Mutex fetch_mutex_ ABSL_ACQUIRED_BEFORE(mutex_);
  mutable absl::Mutex mutex_;
  std::vector<Key> keys_ ABSL_GUARDED_BY(mutex_);
  absl::Time last_fetch_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  int fetches_ ABSL_GUARDED_BY(mutex_) = 0;
  // Until one fetch succeeds every caller may fetch: there is no key to
  // verify with anyway.
  bool fetched_ok_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace roster

#endif  // ROSTER_CLIENT_SESSION_VERIFIER_H_

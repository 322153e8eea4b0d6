// TotpUserPool: users enrolled with an authenticator app, for roster-bench's
// sign_in_totp. The bench reads their codes from the secrets CreateMyTotp
// returned, as each user's app would. A step's code signs a user in once, so
// turns go round-robin over the pool and each takes the user's next step.
// Thread-safe.
#ifndef ROSTER_TESTS_BENCH_TOTP_USERS_H_
#define ROSTER_TESTS_BENCH_TOTP_USERS_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"

namespace roster::bench {

class TotpUserPool {
 public:
  // Imports `count` users signing in with `password` (one argon2id digest
  // for all), then enrols an app for each. `key` is a secret key; `tag`
  // keeps this run's users apart from an earlier run's.
  absl::Status Prepare(roster::v1::BackendUsers::Stub& backend,
                       roster::v1::FrontendUsers::Stub& frontend,
                       const std::string& key, const std::string& password,
                       int count, const std::string& tag);

  struct Turn {
    std::string email;
    std::string code;
  };
  // The next user and a code for a step of now's window it has not used;
  // RESOURCE_EXHAUSTED when the pool has no unused step left (too small for
  // the rate: raise --totp_users).
  absl::StatusOr<Turn> Next(absl::Time now);

 private:
  struct User {
    std::string email;
    std::string secret;  // Raw bytes.
    int64_t last_step = 0;
  };
  std::mutex mu_;
  std::vector<User> users_;
  size_t next_ = 0;
};

}  // namespace roster::bench

#endif  // ROSTER_TESTS_BENCH_TOTP_USERS_H_

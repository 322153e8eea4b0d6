// ScenarioClient: roster-bench's client of one roster-server. Seed() makes
// sure the users the scenarios read exist and samples them; Scenarios() then
// names every scenario with an Issue (load.h) that starts one call on gRPC's
// callback API (or, after UseHttp(), over Connect and gRPC-Web) and reports
// its status. Issues may run on many threads at once.
#ifndef ROSTER_TESTS_BENCH_SCENARIO_CLIENT_H_
#define ROSTER_TESTS_BENCH_SCENARIO_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/bench/http_lanes.h"
#include "tests/bench/load.h"
#include "tests/bench/totp_users.h"

namespace roster::bench {

// The password of every user the bench signs in as.
inline constexpr char kBenchPassword[] = "bench password 123";

class ScenarioClient {
 public:
  // `channels` connections to `addr`; `key` is a secret key.
  ScenarioClient(const std::string& addr, int channels, std::string key);

  // Makes sure `count` users exist (importing the missing ones in batches of
  // 1000), then picks the users and emails the scenarios read.
  bool Seed(int64_t count);
  // Enrols `count` users with an authenticator app for sign_in_totp, under
  // names of this run.
  bool PrepareTotpUsers(int count);
  // Every scenario, health first, in the same order on every client.
  std::vector<std::pair<std::string, Issue>> Scenarios();
  // The Connect and gRPC-Web scenarios' connections.
  void UseHttp(const std::string& addr, int lanes);

 private:
  std::unique_ptr<grpc::ClientContext> Authed(absl::Duration timeout);
  void Authorize(grpc::ClientContext& context);
  size_t Channel(int slot) const;
  uint64_t Next();
  const std::string& Pick(const std::vector<std::string>& from);
  std::string Token(int slot);
  void SetToken(int slot, std::string token);
  void CreateUser(int slot, const Done& done);
  void ListPage(int slot, const std::string& token, const Done& done);
  void SignInWithTotp(int slot, const Done& done);
  void MergeMetadata(int slot, const Done& done);
  bool PrepareSignIn();

  std::string key_;
  std::vector<std::unique_ptr<roster::v1::BackendUsers::Stub>> backends_;
  std::vector<std::unique_ptr<roster::v1::FrontendUsers::Stub>> frontends_;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> healths_;
  std::vector<std::string> user_ids_, emails_;
  std::vector<std::string> accounts_;  // The sampled users' "account" values.
  std::string sign_in_email_, token_;
  TotpUserPool totp_users_;
  std::atomic<int64_t> created_{0};
  // Tells this run's created users from an earlier run's on a reused database
  // (rng_ is seeded the same every run, so reads repeat but names must not).
  const uint64_t run_id_ =
      (uint64_t{std::random_device()()} << 32) | std::random_device()();
  std::mutex rng_mu_;
  std::mt19937_64 rng_{42};
  std::map<int, std::string> tokens_;
  std::string deep_token_;
  std::unique_ptr<HttpLanes> http_;
};

}  // namespace roster::bench

#endif  // ROSTER_TESTS_BENCH_SCENARIO_CLIENT_H_

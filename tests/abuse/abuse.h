// roster-abuse: bounded attacks by callers without credentials (and a few by
// a signed-in user against their own account) on a real roster-server on
// loopback, each on a fresh server with the default limits. For each it
// reports what the server held (peak resident memory, disk growth), the p99 of
// a legitimate GetUser beside the attack against its p99 alone, and what the
// attacker got (DESIGN §14).
#ifndef ROSTER_TESTS_ABUSE_ABUSE_H_
#define ROSTER_TESTS_ABUSE_ABUSE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/server_process.h"
#include "tests/testing/temp_dir.h"

namespace roster::abuse {

// What the legitimate reader records for a read that failed: the slowest
// possible (its deadline).
inline constexpr double kFailedReadMs = 30000.0;

inline constexpr char kSecretKey[] =
    "sk_abuse_0123456789abcdefghijklmnopqrstuvwxyz";

// One roster-server on a fresh SQLite file, started with `extra_flags` on top
// of loopback listeners for gRPC, HTTP and metrics.
class Target {
 public:
  explicit Target(std::vector<std::string> extra_flags = {});

  bool ok() const { return port_ != 0; }
  pid_t pid() const { return process_->pid(); }
  bool alive() const;
  int port() const { return port_; }
  int backend_port() const { return backend_port_; }
  int http_port() const { return http_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string Stderr() const { return process_->Stderr(); }
  // Bytes of every file in the server's directory.
  int64_t DiskBytes() const;

  // A new connection of its own (channels are not shared between callers).
  std::shared_ptr<grpc::Channel> NewChannel() const;
  // The same on the BackendUsers port.
  std::shared_ptr<grpc::Channel> NewBackendChannel() const;
  roster::v1::BackendUsers::Stub& backend() { return *backend_; }
  // A user with `email` and `password`; its id.
  std::string CreateUser(const std::string& email, const std::string& password);
  // A session token for `user_id` (BackendUsers.CreateSession).
  std::string SessionToken(const std::string& user_id);

 private:
  static std::shared_ptr<grpc::Channel> ChannelTo(int port);

  testing::TempDir dir_;
  std::unique_ptr<testing::ServerProcess> process_;
  int port_ = 0;
  int backend_port_ = 0;
  int http_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<roster::v1::BackendUsers::Stub> backend_;
};

// `bytes` random bytes as lower-case hex.
std::string RandomHex(size_t bytes);

// A client context carrying the secret key (with_key) and a 30 s deadline.
std::unique_ptr<grpc::ClientContext> Context(bool with_key);
// The same with `authorization: Bearer <token>`.
std::unique_ptr<grpc::ClientContext> SessionContext(const std::string& token);

// Status codes (and reasons) a flood got, counted. Thread-safe.
class Tally {
 public:
  void Add(const grpc::Status& status);
  int64_t total() const;
  int64_t count(const std::string& key) const;
  // "OK 3, RESOURCE_EXHAUSTED/TOO_MANY_ATTEMPTS 97", most frequent first.
  std::string Summary() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counts_;
};

// Runs `body(thread_index)` on `threads` threads until `seconds` pass (each
// call of `body` is one attack step; it is called again until then).
void Flood(int threads, absl::Duration duration,
           const std::function<void(int)>& body);

// What one attack did and what the server held meanwhile.
struct Outcome {
  std::string attack;
  std::string load;    // What was offered.
  std::string result;  // What the attacker got.
  int64_t peak_rss_kib = 0;
  int64_t disk_growth_bytes = 0;
  double legit_p99_alone_ms = 0;
  double legit_p99_under_ms = 0;
  // The same of a signed-in user's GetMe on the public port.
  double me_p99_alone_ms = 0;
  double me_p99_under_ms = 0;
  // CPU used during the attack, in cores: the server's, and the attacker's
  // (this process; the legitimate reader has its own). They share the host.
  double server_cores = 0;
  double attacker_cores = 0;
  bool crashed = false;
  // Targets this run missed (empty: all met).
  std::vector<std::string> missed;
};

// An attack: sets up on `target`, then attacks for `duration` while a
// legitimate client reads; fills load, result and any missed targets of its
// own.
struct Attack {
  std::string name;
  std::vector<std::string> flags;  // Extra server flags, if any.
  std::function<void(Target&, absl::Duration, Outcome&)> run;
  // Attacks something other than the server, to show what the host alone
  // costs the readers: the latency ratio is reported, not judged.
  bool control = false;
};

// Every attack of the table (attacks.cc).
std::vector<Attack> AllAttacks();
// The attacks on HTTP/2 itself, below gRPC (http2_attacks.cc).
std::vector<Attack> Http2Attacks();

// Sign-in timing (sign_in_timing.cc): `rounds` of each sign-in call for a
// known user and as many for unknown identifiers, interleaved on one fresh
// server with the rate limits and lockout out of the way, then the failure
// that locks and a sign-in while locked on another; prints the median and p99
// of each (they must be indistinguishable). False when a server did not start,
// a setup call failed, or a row's known and unknown calls were answered
// differently.
bool PrintSignInTiming(int rounds);

// Runs `attack` on a fresh server: the legitimate GetUser p99 (and a
// signed-in user's GetMe p99) alone for `duration`, then again beside the
// attack; peak RSS, disk growth, crashes;
// the common targets (peak RSS <= 256 MiB, legit p99 <= 3x when
// `check_latency`, no crash).
Outcome RunAttack(const Attack& attack, absl::Duration duration,
                  bool check_latency);

// `roster-abuse --legit_reader=KIND:PORT:CREDENTIAL[:MS]`: a legitimate
// reader's own process. KIND `backend` reads the user CREDENTIAL names with
// the key (GetUser), `frontend` reads the user whose session token
// CREDENTIAL is (GetMe); about 200 times a second until its stdin closes (or
// MS pass), then prints each latency in ms on a line of its own.
int RunLegitimateReader(const std::string& kind_port_credential_and_limit);

}  // namespace roster::abuse

#endif  // ROSTER_TESTS_ABUSE_ABUSE_H_

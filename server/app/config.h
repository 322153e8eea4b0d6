// roster-server configuration: command-line flags, each with a ROSTER_*
// environment twin (flag wins over environment), validated into a ServerConfig.
#ifndef ROSTER_SERVER_APP_CONFIG_H_
#define ROSTER_SERVER_APP_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/app/oauth_flags.h"
#include "server/app/web_flags.h"
#include "server/delivery/delivery_config.h"

namespace roster::app {

inline constexpr size_t kMinSecretKeyLength = 32;
inline constexpr int32_t kMaxUserCacheMb = 16384;

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  std::string db_path;
  std::vector<std::string> secret_keys;
  bool dev = false;
  // Where --dev keeps its generated secret key (empty outside dev mode).
  std::string dev_secret_key_file;
  absl::Duration shutdown_grace = absl::Seconds(10);
  int32_t lockout_attempts = 10;
  absl::Duration lockout_duration = absl::Hours(1);
  // Events older than this are deleted in the background.
  absl::Duration events_retention = absl::Hours(24 * 30);
  // How often retention runs.
  absl::Duration events_prune_interval = absl::Minutes(10);
  // The Ed25519 key that signs session tokens (PKCS#8 PEM or hex seed); empty:
  // a fresh key each start (tokens then die with the process; refresh with the
  // session secret).
  std::string signing_key;
  // Older keys whose tokens must still verify while they expire (rotation).
  std::vector<std::string> extra_verification_keys;
  absl::Duration session_lifetime = absl::Hours(24 * 7);
  absl::Duration session_token_lifetime = absl::Minutes(5);
  // Session tokens' `iss`, and their `aud` when not empty.
  // Changes one signed-in user may make to their account per hour.
  int32_t self_service_writes_per_hour = 120;
  // Memory all password hashes may hold at once (MiB).
  int32_t hash_memory_mb = 128;
  // Memory gRPC may hold for requests being received (MiB).
  int32_t request_memory_mb = 64;
  // Failed sign-ins per identifier and per client address per window.
  int32_t sign_in_failures_per_identifier = 5;
  int32_t sign_in_failures_per_address = 50;
  absl::Duration sign_in_failure_window = absl::Minutes(15);
  // Verification codes sent per hour per user and by the whole service.
  int32_t codes_per_user_per_hour = 10;
  int32_t codes_per_hour = 1000;
  // Sign-ups (DESIGN §10): the fields a sign-up must give, who may sign up
  // (public, restricted, disabled), and how many one client address may
  // start per hour. Validated by ParseFlags.
  std::vector<std::string> sign_up_required = {"email_address", "password"};
  std::string sign_up_mode = "public";
  int32_t sign_ups_per_address_per_hour = 20;
  int32_t sign_in_attempts_per_address_per_hour = 100;
  // WatchEvents streams open at once on a replica.
  int32_t max_event_streams = 100;
  // The content of --data_keys_file (DESIGN §10); empty: features that store
  // a secret (TOTP) are refused. --dev creates one beside the database.
  std::string data_keys;
  std::string data_keys_file;
  // How authenticator apps name this service.
  std::string totp_issuer = "Roster";
  std::string token_issuer = "roster";
  std::string token_audience;
  // host:port of the HTTP listener (profile images, Connect and gRPC-Web,
  // the OAuth callback); empty: none.
  std::string http_listen;
  // Prefix of image_url, e.g. "https://id.example.com".
  std::string public_http_url;
  // gRPC TLS (PEM files, re-read every tls_reload_interval); mTLS when a
  // client CA is set. Empty: plaintext, refused off loopback unless
  // allow_insecure.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  absl::Duration tls_reload_interval = absl::Seconds(30);
  bool allow_insecure = false;
  // host:port serving BackendUsers alone (then `listen` serves FrontendUsers
  // only); empty: both on `listen`.
  std::string backend_listen;
  // Prometheus text at /metrics on the public HTTP listener (--dev).
  bool metrics = false;
  // host:port of a listener serving only /metrics, for the operator's
  // network (DESIGN §14); empty: none.
  std::string metrics_listen;
  // One JSON line per RPC on stderr.
  bool log_rpcs = true;
  // gRPC's BDP probing: receive windows grown past 64 KiB. Off by default:
  // refused uploads then bring at most 64 KiB each (DESIGN §14).
  bool grpc_bdp_probe = false;
  // Checks clients' HTTP/2 frames on the gRPC listeners for the flaws of
  // gRPC 1.51 no channel argument bounds (server/app/http2_guard.h).
  bool http2_guard = true;
  // MiB of users SQLite's GetUser keeps in memory; 0: none.
  int32_t user_cache_mb = 32;
  // Sending codes by email and SMS (DESIGN §13); off unless a channel is set.
  delivery::DeliveryConfig delivery;
  OAuthConfig oauth;
  WebConfig web;
};

// Reads flags and ROSTER_* variables. InvalidArgument for a bad value, a
// missing --db or a missing or short secret key outside --dev, an unreadable
// TLS file, an unwritable database directory, or plaintext gRPC on a
// non-loopback address without --allow_insecure; in --dev,
// creates the secret key file beside the database on first start.
absl::StatusOr<ServerConfig> LoadConfig(int argc, char** argv);

// The content of the file at `path`; InvalidArgument when it cannot be read.
absl::StatusOr<std::string> ReadConfigFile(const std::string& path);

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_CONFIG_H_

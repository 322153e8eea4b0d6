#include "server/app/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/app/delivery_flags.h"
#include "server/app/limit_flags.h"
#include "server/domain/clock.h"
#include "server/domain/data_keys.h"
#include "server/domain/ids.h"
#include "server/domain/sign_up.h"
#include "server/domain/tokens.h"
#include "storage/user_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address to serve gRPC on (host:port).");
ABSL_FLAG(std::string, db, "",
          "SQLite database file (created when missing), or a PostgreSQL URI "
          "postgres://user:password@host:port/database?sslmode=… for several "
          "replicas on one database.");
ABSL_FLAG(std::string, secret_keys, "",
          "Comma-separated secret keys accepted by BackendUsers (rotate by "
          "listing two).");
ABSL_FLAG(std::string, secret_keys_file, "",
          "File with one secret key per line ('#' comments allowed); adds to "
          "--secret_keys.");
ABSL_FLAG(bool, dev, false,
          "Zero-setup local instance: default database ./roster-dev.db and a "
          "generated secret "
          "key stored beside it.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take before they "
          "are cancelled.");
ABSL_FLAG(int32_t, lockout_attempts, 10,
          "Wrong passwords before a user (or an identifier no user holds) is "
          "locked.");
ABSL_FLAG(absl::Duration, events_retention, absl::Hours(24 * 30),
          "Events older than this are deleted; a WatchEvents/ListEvents cursor "
          "older than what is kept gets OUT_OF_RANGE.");
ABSL_FLAG(absl::Duration, events_prune_interval, absl::Minutes(10),
          "How often events past retention are deleted.");
ABSL_FLAG(
    std::string, signing_key_file, "",
    "Ed25519 key that signs session tokens: a PKCS#8 PEM (openssl genpkey "
    "-algorithm ed25519) or a 32-byte seed in hex. --dev creates one beside "
    "the database.");
ABSL_FLAG(std::string, data_keys_file, "",
          "Keys that encrypt stored secrets (TOTP): one per line, 32 random "
          "bytes in standard base64 (openssl rand -base64 32); the first "
          "encrypts, every key decrypts. --dev creates one beside the "
          "database; without one, TOTP is refused.");
ABSL_FLAG(std::string, totp_issuer, "Roster",
          "How authenticator apps name this service (otpauth:// issuer).");
ABSL_FLAG(std::string, extra_verification_key_files, "",
          "Comma-separated older signing key files whose tokens still verify "
          "(for rotation); published by GetJwks.");
ABSL_FLAG(absl::Duration, session_lifetime, absl::Hours(24 * 7),
          "How long a session lasts after sign-in.");
ABSL_FLAG(absl::Duration, session_token_lifetime, absl::Minutes(5),
          "How long one session token is valid.");
ABSL_FLAG(std::string, sign_up_required, "email_address,password",
          "The fields a sign-up must give before its user exists, from "
          "email_address, phone_number, username, password, first_name, "
          "last_name, legal_accepted; a given email address or phone number "
          "must also be verified by code.");
ABSL_FLAG(std::string, sign_up_mode, "public",
          "Who may sign up: public, restricted (with an invitation only) or "
          "disabled.");
ABSL_FLAG(std::string, token_issuer, "roster",
          "The `iss` of session tokens, and the only one accepted.");
ABSL_FLAG(std::string, token_audience, "",
          "When set, the `aud` every session token carries and must carry.");
ABSL_FLAG(absl::Duration, lockout_duration, absl::Hours(1),
          "How long a lockout lasts, and how long failures are remembered "
          "without another.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain for gRPC TLS (with --tls_key_file). Re-read "
          "every --tls_reload_interval, so a rotated certificate takes effect "
          "without a restart or dropped connections.");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for gRPC TLS.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: require and verify client certificates (mTLS).");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(30),
          "How often the TLS files are checked for changes.");
ABSL_FLAG(bool, allow_insecure, false,
          "Allow plaintext gRPC on a non-loopback address (e.g. behind a "
          "service mesh that provides mTLS).");
ABSL_FLAG(bool, metrics, false,
          "Serve Prometheus metrics at /metrics on the public --http_listen "
          "(--dev: on). In production use --metrics_listen instead.");
ABSL_FLAG(std::string, backend_listen, "",
          "host:port serving roster.v1.BackendUsers alone, so a network policy "
          "can keep it from the frontends (--listen then serves "
          "FrontendUsers only). Empty: both on --listen.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of a listener that serves only /metrics (Prometheus), "
          "apart from the public --http_listen.");
ABSL_FLAG(bool, log_rpcs, true,
          "Write one JSON line per RPC to stderr (method, code, latency, peer, "
          "request id; never request contents).");
ABSL_FLAG(bool, grpc_bdp_probe, false,
          "Let gRPC grow each connection's receive window to its measured "
          "bandwidth-delay product. Off, more than 64 KiB of requests in "
          "flight on one connection takes more round trips on a long link, "
          "and an unauthenticated client can make the server receive at most "
          "64 KiB of a refused upload.");
ABSL_FLAG(bool, http2_guard, true,
          "Check the HTTP/2 frames clients send to the gRPC listeners and "
          "close a connection that sends a header block over 64 KiB or resets "
          "streams faster than 20 a second after a burst of 200 (cleartext "
          "listeners only), and keep a listener accepting when the process "
          "is out of file descriptors: gRPC 1.51 bounds none of these itself "
          "(CVE-2023-33953, CVE-2023-44487, CVE-2023-4785).");
ABSL_FLAG(int32_t, user_cache_mb, 32,
          "MiB of recently read users kept in memory for GetUser on SQLite "
          "(0: off). Assumes this process is the only writer of the file.");
ABSL_FLAG(std::string, http_listen, "",
          "host:port of the HTTP listener: profile images at /v1/images/<id>, "
          "FrontendUsers over Connect and gRPC-Web, social sign-in's "
          "callback; empty: off (--dev: 127.0.0.1:8081, or port 0 when "
          "--listen's port is 0).");
ABSL_FLAG(std::string, public_http_url, "",
          "The base URL clients reach the HTTP listener at, used in image_url "
          "(default: http://<--http_listen>).");

namespace roster::app {
namespace {

constexpr const char* kFlagNames[] = {"listen",
                                      "db",
                                      "secret_keys",
                                      "secret_keys_file",
                                      "dev",
                                      "shutdown_grace",
                                      "lockout_attempts",
                                      "lockout_duration",
                                      "events_retention",
                                      "events_prune_interval",
                                      "signing_key_file",
                                      "extra_verification_key_files",
                                      "data_keys_file",
                                      "totp_issuer",
                                      "session_lifetime",
                                      "session_token_lifetime",
                                      "token_issuer",
                                      "sign_up_required",
                                      "sign_up_mode",
                                      "token_audience",
                                      "http_listen",
                                      "public_http_url",
                                      "tls_cert_file",
                                      "tls_key_file",
                                      "tls_client_ca_file",
                                      "tls_reload_interval",
                                      "allow_insecure",
                                      "metrics",
                                      "metrics_listen",
                                      "backend_listen",
                                      "log_rpcs",
                                      "grpc_bdp_probe",
                                      "http2_guard",
                                      "user_cache_mb"};

// Applies ROSTER_<FLAG> variables before the command line is parsed, so flags
// override them.
absl::Status ApplyEnvironment() {
  std::vector<const char*> names(std::begin(kFlagNames), std::end(kFlagNames));
  names.insert(names.end(), kDeliveryFlagNames,
               kDeliveryFlagNames + kDeliveryFlagCount);
  names.insert(names.end(), kOAuthFlagNames, kOAuthFlagNames + kOAuthFlagCount);
  names.insert(names.end(), kWebFlagNames, kWebFlagNames + kWebFlagCount);
  names.insert(names.end(), kLimitFlagNames, kLimitFlagNames + kLimitFlagCount);
  for (const char* name : names) {
    const std::string variable =
        absl::StrCat("ROSTER_", absl::AsciiStrToUpper(name));
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) {
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(variable, ": ", error));
    }
  }
  return absl::OkStatus();
}

void AddKeys(absl::string_view text, char separator,
             std::vector<std::string>& keys) {
  for (absl::string_view line : absl::StrSplit(text, separator)) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line.front() != '#') {
      keys.emplace_back(line);
    }
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  return ReadConfigFile(path);
}

// Writes `content` to a new file at `path` with mode 0600.
absl::Status WritePrivateFile(const std::string& path,
                              const std::string& content) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create ", path));
  }
  const bool written = write(fd, content.data(), content.size()) ==
                       static_cast<ssize_t>(content.size());
  close(fd);
  if (!written) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

// The dev signing key stored at `path` (PEM), created on first use.
absl::StatusOr<std::string> DevSigningKey(const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) {
    return ReadFile(path);
  }
  domain::SystemRandom random;
  const std::string pem = domain::SigningKey::Generate(random).ToPem();
  absl::Status written = WritePrivateFile(path, pem);
  if (!written.ok()) {
    return written;
  }
  return pem;
}

// The dev data keys stored at `path`, created (mode 0600) on first use.
absl::StatusOr<std::string> DevDataKeys(const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) {
    return ReadFile(path);
  }
  const std::string keys = domain::DataKeys::NewFile();
  absl::Status written = WritePrivateFile(path, keys);
  if (!written.ok()) {
    return written;
  }
  return keys;
}

// The dev secret key stored at `path`, created (mode 0600) on first use.
absl::StatusOr<std::string> DevSecretKey(const std::string& path) {
  if (access(path.c_str(), F_OK) == 0) {
    auto content = ReadFile(path);
    if (!content.ok()) {
      return content.status();
    }
    return std::string(absl::StripAsciiWhitespace(*content));
  }
  domain::SystemRandom random;
  const std::string key = domain::NewSecret(random, "sk_dev_", 40);
  absl::Status written = WritePrivateFile(path, key + "\n");
  if (!written.ok()) {
    return written;
  }
  return key;
}

// Whether gRPC's `listen` host only accepts connections from this machine.
bool IsLoopback(absl::string_view listen) {
  absl::string_view host = listen.substr(0, listen.rfind(':'));
  host = absl::StripSuffix(absl::StripPrefix(host, "["), "]");
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::Status Readable(const char* flag, const std::string& path) {
  if (path.empty() || access(path.c_str(), R_OK) == 0) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag, " ", path, " is not readable: ", std::strerror(errno)));
}

// Refuses configurations that would run unsafely or fail later, with a
// message that names the fix.
absl::Status CheckSafety(const ServerConfig& config) {
  const bool tls = !config.tls_cert_file.empty();
  if (tls != !config.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together");
  }
  if (!config.tls_client_ca_file.empty() && !tls) {
    return absl::InvalidArgumentError(
        "--tls_client_ca_file needs --tls_cert_file and --tls_key_file");
  }
  for (const auto& [flag, path] :
       {std::pair{"tls_cert_file", config.tls_cert_file},
        std::pair{"tls_key_file", config.tls_key_file},
        std::pair{"tls_client_ca_file", config.tls_client_ca_file}}) {
    absl::Status readable = Readable(flag, path);
    if (!readable.ok()) {
      return readable;
    }
  }
  if (config.metrics && config.http_listen.empty()) {
    return absl::InvalidArgumentError(
        "--metrics needs --http_listen to serve /metrics on");
  }
  if (config.tls_reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "--tls_reload_interval must be at least 1s");
  }
  for (const std::string& listen : {config.listen, config.backend_listen}) {
    if (!tls && !config.allow_insecure && !listen.empty() &&
        !IsLoopback(listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing plaintext gRPC on non-loopback ", listen,
          ": set --tls_cert_file and --tls_key_file, or --allow_insecure "
          "when a mesh or private network protects the traffic"));
    }
  }
  if (storage::IsPostgresDsn(config.db_path)) {
    return absl::OkStatus();
  }
  // SQLite needs to create its -wal and -shm files beside the database.
  const size_t slash = config.db_path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : config.db_path.substr(0, slash + 1);
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the database directory ", dir,
                     " is not writable: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerConfig> LoadConfig(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "roster-server: the Roster user directory over gRPC.\n"
      "  roster-server --dev                                  local instance, "
      "zero setup\n"
      "  roster-server --db=/data/roster.db "
      "--secret_keys_file=/etc/roster/keys\n"
      "  roster-server --db=postgres://roster@db:5432/roster "
      "--secret_keys_file=/etc/roster/keys\n"
      "Every flag has a ROSTER_<FLAG> environment twin.");
  absl::Status env = ApplyEnvironment();
  if (!env.ok()) {
    return env;
  }
  absl::ParseCommandLine(argc, argv);

  ServerConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  config.db_path = absl::GetFlag(FLAGS_db);
  config.dev = absl::GetFlag(FLAGS_dev);
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  config.lockout_attempts = absl::GetFlag(FLAGS_lockout_attempts);
  config.lockout_duration = absl::GetFlag(FLAGS_lockout_duration);
  config.events_retention = absl::GetFlag(FLAGS_events_retention);
  config.events_prune_interval = absl::GetFlag(FLAGS_events_prune_interval);
  config.session_lifetime = absl::GetFlag(FLAGS_session_lifetime);
  config.session_token_lifetime = absl::GetFlag(FLAGS_session_token_lifetime);
  config.token_issuer = absl::GetFlag(FLAGS_token_issuer);
  if (absl::Status limits = LoadLimitFlags(config); !limits.ok()) {
    return limits;
  }
  auto required =
      domain::ParseSignUpRequiredFields(absl::GetFlag(FLAGS_sign_up_required));
  if (!required.ok()) {
    return required.status();
  }
  config.sign_up_required = *std::move(required);
  config.sign_up_mode = absl::GetFlag(FLAGS_sign_up_mode);
  if (auto mode = domain::ParseSignUpMode(config.sign_up_mode); !mode.ok()) {
    return mode.status();
  }
  config.token_audience = absl::GetFlag(FLAGS_token_audience);
  config.http_listen = absl::GetFlag(FLAGS_http_listen);
  config.public_http_url = absl::GetFlag(FLAGS_public_http_url);
  config.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  config.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  config.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  config.tls_reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  config.allow_insecure = absl::GetFlag(FLAGS_allow_insecure);
  config.metrics = absl::GetFlag(FLAGS_metrics) || config.dev;
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  config.backend_listen = absl::GetFlag(FLAGS_backend_listen);
  config.log_rpcs = absl::GetFlag(FLAGS_log_rpcs);
  config.grpc_bdp_probe = absl::GetFlag(FLAGS_grpc_bdp_probe);
  config.http2_guard = absl::GetFlag(FLAGS_http2_guard);
  config.user_cache_mb = absl::GetFlag(FLAGS_user_cache_mb);
  auto delivery = LoadDeliveryFlags();
  if (!delivery.ok()) {
    return delivery.status();
  }
  config.delivery = *std::move(delivery);
  auto oauth = LoadOAuthFlags();
  if (!oauth.ok()) {
    return oauth.status();
  }
  config.oauth = *std::move(oauth);
  auto web = LoadWebFlags();
  if (!web.ok()) {
    return web.status();
  }
  config.web = *std::move(web);
  if (config.dev && config.http_listen.empty()) {
    // A dev server on an ephemeral gRPC port (tests, parallel instances)
    // takes an ephemeral HTTP port too rather than fight over 8081.
    config.http_listen =
        absl::EndsWith(config.listen, ":0") ? "127.0.0.1:0" : "127.0.0.1:8081";
  }
  if (!config.oauth.providers.empty() && config.http_listen.empty()) {
    return absl::InvalidArgumentError(
        "--oauth_providers_file needs --http_listen: providers return to "
        "/v1/oauth/callback on it");
  }
  const std::string signing_key_file = absl::GetFlag(FLAGS_signing_key_file);
  if (!signing_key_file.empty()) {
    auto key = ReadFile(signing_key_file);
    if (!key.ok()) {
      return key.status();
    }
    if (absl::StripAsciiWhitespace(*key).empty()) {
      // Not "no key": that signs with one that lasts until restart, which a
      // file given on purpose (an unfilled Secret, say) must not become.
      return absl::InvalidArgumentError(
          absl::StrCat("--signing_key_file ", signing_key_file,
                       " is empty: it must hold the Ed25519 signing key "
                       "(`openssl genpkey -algorithm ed25519`)"));
    }
    config.signing_key = *std::move(key);
  }
  config.data_keys_file = absl::GetFlag(FLAGS_data_keys_file);
  if (!config.data_keys_file.empty()) {
    auto keys = ReadFile(config.data_keys_file);
    if (!keys.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--data_keys_file cannot be read (", keys.status().message(),
          "): without it the stored TOTP secrets cannot be "
          "opened"));
    }
    if (auto parsed = domain::DataKeys::Parse(*keys); !parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--data_keys_file ", config.data_keys_file, ": ",
                       parsed.status().message()));
    }
    config.data_keys = *std::move(keys);
  }
  config.totp_issuer = absl::GetFlag(FLAGS_totp_issuer);
  if (config.totp_issuer.empty() || config.totp_issuer.size() > 64) {
    return absl::InvalidArgumentError("--totp_issuer must be 1-64 bytes");
  }
  for (absl::string_view file :
       absl::StrSplit(absl::GetFlag(FLAGS_extra_verification_key_files), ',',
                      absl::SkipWhitespace())) {
    auto key = ReadFile(std::string(absl::StripAsciiWhitespace(file)));
    if (!key.ok()) {
      return key.status();
    }
    config.extra_verification_keys.push_back(*std::move(key));
  }
  AddKeys(absl::GetFlag(FLAGS_secret_keys), ',', config.secret_keys);
  const std::string keys_file = absl::GetFlag(FLAGS_secret_keys_file);
  if (!keys_file.empty()) {
    auto content = ReadFile(keys_file);
    if (!content.ok()) {
      return content.status();
    }
    AddKeys(*content, '\n', config.secret_keys);
  }

  if (config.db_path.empty()) {
    if (!config.dev) {
      return absl::InvalidArgumentError(
          "--db (ROSTER_DB) is required outside --dev");
    }
    config.db_path = "roster-dev.db";
  }
  if (config.dev && storage::IsPostgresDsn(config.db_path)) {
    return absl::InvalidArgumentError(
        "--dev keeps its keys beside an embedded SQLite file: use a file path "
        "for --db, or drop --dev and pass --secret_keys_file with a "
        "postgres:// "
        "--db");
  }
  if (config.dev && config.secret_keys.empty()) {
    config.dev_secret_key_file = config.db_path + ".secret_key";
    auto key = DevSecretKey(config.dev_secret_key_file);
    if (!key.ok()) {
      return key.status();
    }
    config.secret_keys.push_back(*key);
  }
  if (config.dev && config.signing_key.empty()) {
    auto key = DevSigningKey(config.db_path + ".signing_key");
    if (!key.ok()) {
      return key.status();
    }
    config.signing_key = *std::move(key);
  }
  if (config.dev && config.data_keys.empty()) {
    config.data_keys_file = config.db_path + ".data_keys";
    auto keys = DevDataKeys(config.data_keys_file);
    if (!keys.ok()) {
      return keys.status();
    }
    config.data_keys = *std::move(keys);
  }
  if (storage::IsPostgresDsn(config.db_path) && config.signing_key.empty()) {
    // Replicas behind one Service verify each other's tokens.
    return absl::InvalidArgumentError(
        "a postgres:// --db is for several replicas, which must sign session "
        "tokens with one key: set --signing_key_file (ROSTER_SIGNING_KEY_FILE; "
        "`openssl genpkey -algorithm ed25519`)");
  }
  if (config.token_issuer.empty() || config.token_issuer.size() > 256) {
    return absl::InvalidArgumentError("--token_issuer must be 1-256 bytes");
  }
  if (config.token_audience.size() > 256) {
    return absl::InvalidArgumentError("--token_audience is at most 256 bytes");
  }
  if (config.session_lifetime <= absl::ZeroDuration() ||
      config.session_token_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--session_lifetime and --session_token_lifetime must be positive");
  }
  if (config.secret_keys.empty()) {
    return absl::InvalidArgumentError(
        "no secret key: set --secret_keys / ROSTER_SECRET_KEYS or "
        "--secret_keys_file (or use "
        "--dev for a local instance)");
  }
  for (const auto& key : config.secret_keys) {
    if (key.size() < kMinSecretKeyLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("secret keys must be at least ", kMinSecretKeyLength,
                       " characters; one is shorter"));
    }
  }
  if (config.events_retention <= absl::ZeroDuration() ||
      config.events_prune_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--events_retention and --events_prune_interval must be positive");
  }
  absl::Status safe = CheckSafety(config);
  if (!safe.ok()) {
    return safe;
  }
  if (config.user_cache_mb < 0 || config.user_cache_mb > kMaxUserCacheMb) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--user_cache_mb must be 0-", kMaxUserCacheMb, " (0 turns it off)"));
  }
  if (config.lockout_attempts < 1 ||
      config.lockout_duration <= absl::ZeroDuration() ||
      config.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--lockout_attempts must be at least 1, --lockout_duration positive "
        "and "
        "--shutdown_grace not negative");
  }
  return config;
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace roster::app

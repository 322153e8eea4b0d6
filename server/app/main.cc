// roster-server: parse the configuration, start the same RosterServer the tests
// start, and drain on SIGTERM/SIGINT. `roster-server backup` copies a live
// database instead.
#include <grpc/support/log.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/stubs/logging.h"
#include "server/api/log.h"
#include "server/app/config.h"
#include "server/app/roster_server.h"
#include "storage/sqlite/sqlite_backup.h"
#include "storage/user_store.h"

namespace {

// Blocks the termination signals in every thread (threads inherit the mask), so
// that only sigwait() below receives them.
sigset_t BlockTerminationSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void PrintDevBanner(const roster::app::ServerConfig& config, int port) {
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  const std::string address = host + ":" + std::to_string(port);
  std::cout << "roster-server (dev) serving on " << address << " with database "
            << config.db_path << "\n";
  if (!config.http_listen.empty()) {
    std::cout << "profile images served over HTTP on " << config.http_listen
              << "\n";
  }
  if (!config.dev_secret_key_file.empty()) {
    std::cout << "secret key: " << config.dev_secret_key_file << "\n"
              << "try:\n"
              << "  grpcurl -plaintext -H \"authorization: Bearer $(cat "
              << config.dev_secret_key_file
              << ")\" -d '{\"email_addresses\":[\"ada@example.com\"]}' "
              << address << " roster.v1.BackendUsers/CreateUser\n";
  }
  std::cout.flush();
}

// `roster-server backup --db=FROM --to=FILE`: an online backup, safe while
// a server runs on FROM.
int Backup(int argc, char** argv) {
  std::string from, to;
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "--db=")) {
      from = std::string(arg.substr(5));
    }
    if (absl::StartsWith(arg, "--to=")) {
      to = std::string(arg.substr(5));
    }
  }
  if (from.empty()) {
    const char* env = std::getenv("ROSTER_DB");
    if (env != nullptr) {
      from = env;
    }
  }
  if (from.empty() || to.empty()) {
    std::cerr << "usage: roster-server backup --db=DATABASE --to=FILE\n";
    return 2;
  }
  if (roster::storage::IsPostgresDsn(from)) {
    std::cerr << "roster-server backup: copies an embedded SQLite file; back "
                 "up PostgreSQL with pg_dump or the provider's snapshots\n";
    return 2;
  }
  absl::Status backed_up = roster::storage::BackupDatabase(from, to);
  if (!backed_up.ok()) {
    std::cerr << "roster-server backup: " << backed_up.message() << "\n";
    return 1;
  }
  roster::api::LogJson(
      "info", "backup written",
      absl::StrCat(",\"to\":\"", roster::api::JsonEscape(to), "\""));
  return 0;
}

// Raises the soft limit on open descriptors to the hard one and returns the
// limit in force. The soft default (1024 under systemd and containerd) is
// there for select(), which nothing here calls (gRPC uses epoll; Debian's
// cpp-httplib, libcurl and libpq poll); left at 1024 it would hold the server
// to about 960 connections, the guard keeping the last eighth (http2_guard.h).
rlim_t RaiseOpenFileLimit() {
  rlimit descriptors{};
  if (getrlimit(RLIMIT_NOFILE, &descriptors) != 0) {
    return 0;
  }
  if (descriptors.rlim_cur < descriptors.rlim_max) {
    rlimit raised = descriptors;
    raised.rlim_cur = descriptors.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      return raised.rlim_cur;
    }
  }
  return descriptors.rlim_cur;
}

// protobuf's own diagnostics (e.g. a request string that is not UTF-8; they
// name the field, never its contents) as JSON lines like the rest of the log.
void LogProtobuf(google::protobuf::LogLevel level, const char* /*file*/,
                 int /*line*/, const std::string& message) {
  roster::api::LogJson(
      level >= google::protobuf::LOGLEVEL_ERROR ? "warn" : "info", "protobuf",
      absl::StrCat(",\"detail\":\"", roster::api::JsonEscape(message), "\""));
}

// gRPC's own diagnostics (those at GRPC_VERBOSITY, ERROR unless set: a
// failed TLS handshake, a connection the HTTP/2 guard closed on TLS) as JSON
// lines too: left to gRPC they are its own text format, and a pipeline that
// parses stderr line by line would drop or misread them.
void LogGrpc(gpr_log_func_args* args) {
  const char* level = args->severity == GPR_LOG_SEVERITY_ERROR  ? "error"
                      : args->severity == GPR_LOG_SEVERITY_INFO ? "info"
                                                                : "debug";
  roster::api::LogJson(
      level, "grpc",
      absl::StrCat(",\"detail\":\"", roster::api::JsonEscape(args->message),
                   "\",\"source\":\"", roster::api::JsonEscape(args->file), ":",
                   args->line, "\""));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && absl::string_view(argv[1]) == "backup") {
    return Backup(argc, argv);
  }
  // absl::Mutex's deadlock detector (on in Debian's absl build) costs a
  // graph update per lock; tests keep it, the server does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // glibc hands a thread arena's free top back to the kernel once it passes
  // 128 KiB, and the next calls fault those pages in again: under list load
  // `perf` showed ~9 % of server CPU in madvise, TLB shootdowns and page
  // faults. Keep up to 4 MiB free per arena instead (docs/performance.md);
  // 1 MiB already ended the churn under list load.
  mallopt(M_TRIM_THRESHOLD, 4 << 20);
  // Setting the trim threshold also freezes glibc's mmap threshold at 128
  // KiB, and each write's 2 MiB statement journal (sqlite_connection.cc)
  // would then be an mmap and munmap: allocate up to 4 MiB from the heap.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  google::protobuf::SetLogHandler(&LogProtobuf);
  gpr_set_log_function(&LogGrpc);
  const sigset_t signals = BlockTerminationSignals();
  const rlim_t open_file_limit = RaiseOpenFileLimit();
  auto config = roster::app::LoadConfig(argc, argv);
  if (!config.ok()) {
    std::cerr << "roster-server: " << config.status().message() << "\n";
    return 2;
  }
  auto server = roster::app::RosterServer::Start(*config);
  if (!server.ok()) {
    std::cerr << "roster-server: " << server.status().message() << "\n";
    return 1;
  }
  roster::api::LogJson(
      "info", "serving",
      absl::StrCat(",\"listen\":\"", roster::api::JsonEscape(config->listen),
                   "\",\"port\":", (*server)->port(),
                   ",\"http_port\":", (*server)->http_port(),
                   ",\"backend_port\":", (*server)->backend_port(),
                   ",\"metrics_port\":", (*server)->metrics_port(),
                   ",\"open_file_limit\":", open_file_limit,
                   ",\"version\":\"" ROSTER_VERSION "\""));
  if (config->dev) {
    PrintDevBanner(*config, (*server)->port());
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  roster::api::LogJson("info", "draining",
                       absl::StrCat(",\"signal\":", signal_number));
  (*server)->Shutdown(config->shutdown_grace);
  roster::api::LogJson("info", "stopped");
  return 0;
}

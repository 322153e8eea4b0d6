// The parts every attack shares: a fresh server, a tally of what the attacker
// got, a flood loop and the legitimate reader whose p99 is compared.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "tests/abuse/abuse.h"
#include "tests/testing/error_details.h"
#include "tests/testing/proc_stat.h"

namespace roster::abuse {

using namespace roster::v1;  // NOLINT: the API under attack.

namespace {

// CPU time this process (the attacker's threads) has used, in seconds.
double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// p99 of `samples` in ms (0 when empty).
double P99(std::vector<double> samples) {
  if (samples.empty()) {
    return 0;
  }
  std::sort(samples.begin(), samples.end());
  return samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
}

// Whom a legitimate reader reads as.
struct Reader {
  std::string user_id;        // A backend's GetUser of this user, or
  std::string session_token;  // when set, this user's own GetMe.
};

// A legitimate reader in a process of its own
// (`roster-abuse --legit_reader=KIND:PORT:CREDENTIAL[:MS]`), started at once
// and stopped by closing its stdin, or done by itself after `limit`; its
// latencies come back on its stdout. In the
// attacker's process it would share gRPC's client pollers with the attacking
// threads, and a nice-19 attacker thread holding the poller would hold the
// reader's replies too: latency the harness made, not the server.
class LegitimateReader {
 public:
  // A backend reading `reader.user_id` with the key on the backend port, or
  // a signed-in user reading themself with `reader.session_token` on the
  // public port.
  LegitimateReader(const Target& target, const Reader& reader,
                   absl::Duration limit = absl::InfiniteDuration()) {
    int to_child[2];
    int from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0) {
      return;
    }
    if (pipe2(from_child, O_CLOEXEC) != 0) {
      close(to_child[0]);
      close(to_child[1]);
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
    std::string self = std::filesystem::read_symlink("/proc/self/exe");
    std::string flag =
        reader.session_token.empty()
            ? absl::StrCat("--legit_reader=backend:", target.backend_port(),
                           ":", reader.user_id)
            : absl::StrCat("--legit_reader=frontend:", target.port(), ":",
                           reader.session_token);
    if (limit != absl::InfiniteDuration()) {
      absl::StrAppend(&flag, ":", absl::ToInt64Milliseconds(limit));
    }
    char* argv[] = {self.data(), flag.data(), nullptr};
    if (posix_spawn(&pid_, self.c_str(), &actions, nullptr, argv, environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(to_child[0]);
    close(from_child[1]);
    stdin_ = to_child[1];
    stdout_ = from_child[0];
  }
  LegitimateReader(const LegitimateReader&) = delete;
  LegitimateReader& operator=(const LegitimateReader&) = delete;
  ~LegitimateReader() { (void)Stop(); }

  // Stops the reader; every latency it measured, in ms (empty if it could
  // not run).
  std::vector<double> Stop() {
    if (stdin_ >= 0) {
      close(stdin_);
      stdin_ = -1;
    }
    return Finish();
  }

  // Waits until the reader has reported (at its limit, or once stopped); the
  // same latencies.
  std::vector<double> Finish() {
    std::string text;
    if (stdout_ >= 0) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(stdout_, buffer, sizeof buffer)) > 0) {
        text.append(buffer, static_cast<size_t>(n));
      }
      close(stdout_);
      stdout_ = -1;
    }
    if (stdin_ >= 0) {  // Its report is in: let it exit.
      close(stdin_);
      stdin_ = -1;
    }
    std::vector<double> latencies;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      double ms = 0;
      if (absl::SimpleAtod(line, &ms)) {
        latencies.push_back(ms);
      }
    }
    if (pid_ > 0) {
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    return latencies;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
};

}  // namespace

Target::Target(std::vector<std::string> extra_flags) {
  const std::string key_file = dir_.File("signing.key");
  std::ofstream(key_file) << std::string(64, 'a');  // A hex seed.
  std::vector<std::string> flags = {
      "--db=" + dir_.File("roster.db"), "--listen=127.0.0.1:0",
      "--http_listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
      absl::StrCat("--secret_keys=", kSecretKey),
      "--signing_key_file=" + key_file, "--log_rpcs=false",
      // BackendUsers on a port of its own, as in the manifests; the
      // legitimate reader uses it, the attackers the public port.
      "--backend_listen=127.0.0.1:0"};
  flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
  // With ROSTER_ABUSE_SPLIT_CPUS, the server gets the last CPU to itself and
  // the harness (attacker and legitimate reader) the others, as if they ran
  // on other machines: the child inherits the spawning thread's affinity.
  const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const bool split =
      std::getenv("ROSTER_ABUSE_SPLIT_CPUS") != nullptr && cpus > 1;
  cpu_set_t harness_cpus;
  CPU_ZERO(&harness_cpus);
  if (split) {
    for (int cpu = 0; cpu + 1 < cpus; ++cpu) {
      CPU_SET(cpu, &harness_cpus);
    }
    cpu_set_t server_cpu;
    CPU_ZERO(&server_cpu);
    CPU_SET(cpus - 1, &server_cpu);
    sched_setaffinity(0, sizeof(server_cpu), &server_cpu);
  }
  process_ = std::make_unique<testing::ServerProcess>(dir_, flags);
  if (split) {
    sched_setaffinity(0, sizeof(harness_cpus), &harness_cpus);
  }
  port_ = process_->WaitForPort();
  if (port_ == 0) {
    return;
  }
  http_port_ = process_->LoggedPort("http_port");
  metrics_port_ = process_->LoggedPort("metrics_port");
  backend_port_ = process_->LoggedPort("backend_port");
  backend_ = BackendUsers::NewStub(NewBackendChannel());
}

bool Target::alive() const {
  return process_->pid() > 0 && kill(process_->pid(), 0) == 0;
}

int64_t Target::DiskBytes() const {
  int64_t bytes = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (entry.is_regular_file() &&
        !absl::StartsWith(entry.path().filename().string(), "stderr-")) {
      bytes += static_cast<int64_t>(entry.file_size());
    }
  }
  return bytes;
}

std::shared_ptr<grpc::Channel> Target::NewChannel() const {
  return ChannelTo(port_);
}

std::shared_ptr<grpc::Channel> Target::NewBackendChannel() const {
  return ChannelTo(backend_port_);
}

std::shared_ptr<grpc::Channel> Target::ChannelTo(int port) {
  static std::atomic<int> next{0};
  grpc::ChannelArguments args;
  args.SetInt("roster.abuse.connection", next++);  // A connection of its own.
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<uint8_t*>(raw.data()),
                 raw.size());
  hex.pop_back();
  return hex;
}

std::string Target::CreateUser(const std::string& email,
                               const std::string& password) {
  CreateUserRequest request;
  request.add_email_addresses(email);
  if (!password.empty()) {
    request.set_password(password);
  }
  User user;
  backend_->CreateUser(Context(true).get(), request, &user);
  return user.id();
}

std::string Target::SessionToken(const std::string& user_id) {
  CreateSessionRequest request;
  request.set_user_id(user_id);
  CreateSessionResponse session;
  backend_->CreateSession(Context(true).get(), request, &session);
  return session.session_token();
}

std::unique_ptr<grpc::ClientContext> Context(bool with_key) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (with_key) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kSecretKey));
  }
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

std::unique_ptr<grpc::ClientContext> SessionContext(const std::string& token) {
  auto context = Context(false);
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  return context;
}

void Tally::Add(const grpc::Status& status) {
  std::string key = absl::StatusCodeToString(
      static_cast<absl::StatusCode>(status.error_code()));
  const std::string reason = testing::ReasonOf(status);
  if (!reason.empty()) {
    absl::StrAppend(&key, "/", reason);
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[key];
}

int64_t Tally::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  for (const auto& [key, n] : counts_) {
    total += n;
  }
  return total;
}

int64_t Tally::count(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

std::string Tally::Summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (const auto& [key, n] : counts_) {
    sorted.emplace_back(n, key);
  }
  std::sort(sorted.rbegin(), sorted.rend());
  std::vector<std::string> parts;
  parts.reserve(sorted.size());
  for (const auto& [n, key] : sorted) {
    parts.push_back(absl::StrCat(key, " ", n));
  }
  return absl::StrJoin(parts, ", ");
}

void Flood(int threads, absl::Duration duration,
           const std::function<void(int)>& body) {
  const absl::Time deadline = absl::Now() + duration;
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      // The attacker's own CPU is not the server's: on a shared 2-core host
      // its threads yield to the server and the legitimate reader, so the
      // p99 ratio shows what the server does with the attack.
      (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)),
                        19);
      while (absl::Now() < deadline) {
        body(t);
      }
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }
}

Outcome RunAttack(const Attack& attack, absl::Duration duration,
                  bool check_latency) {
  Outcome outcome;
  outcome.attack = attack.name;
  Target target(attack.flags);
  if (!target.ok()) {
    outcome.crashed = true;
    outcome.missed.push_back("the server did not start: " + target.Stderr());
    return outcome;
  }
  const Reader backend{target.CreateUser("legit@abuse.example", ""), ""};
  const Reader signed_in{
      "", target.SessionToken(target.CreateUser("me@abuse.example", ""))};
  // The p99s alone are the baseline of the latency check; unchecked (--quick),
  // they only show that both readers work before the attack, which half a
  // second (~100 reads each) shows as well as the attack's whole duration.
  const absl::Duration alone_for =
      check_latency ? duration : std::min(duration, absl::Milliseconds(500));
  LegitimateReader signed_in_alone(target, signed_in, alone_for);
  const std::vector<double> alone =
      LegitimateReader(target, backend, alone_for).Finish();
  outcome.legit_p99_alone_ms = P99(alone);
  const std::vector<double> me_alone = signed_in_alone.Finish();
  outcome.me_p99_alone_ms = P99(me_alone);

  const int64_t disk_before = target.DiskBytes();
  LegitimateReader under_reader(target, backend);
  LegitimateReader signed_in_under(target, signed_in);
  const double server_cpu_before = testing::CpuSeconds(target.pid());
  const double own_cpu_before = OwnCpuSeconds();
  const absl::Time started = absl::Now();
  attack.run(target, duration, outcome);
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - started);
  outcome.server_cores =
      (testing::CpuSeconds(target.pid()) - server_cpu_before) / elapsed;
  outcome.attacker_cores = (OwnCpuSeconds() - own_cpu_before) / elapsed;
  const std::vector<double> under = under_reader.Stop();
  const std::vector<double> me_under = signed_in_under.Stop();
  outcome.legit_p99_under_ms = P99(under);
  outcome.me_p99_under_ms = P99(me_under);
  // Starvation of either reader is a miss at any duration, latency checked
  // or not (DESIGN §14: no unauthenticated caller starves authenticated
  // work, on either port).
  const auto check_reads = [&outcome](const std::vector<double>& before,
                                      const std::vector<double>& during,
                                      const char* reads) {
    if (before.empty() || during.empty()) {
      outcome.missed.push_back(
          absl::StrCat("the ", reads, " measured nothing"));
    }
    const auto failed = std::count(during.begin(), during.end(), kFailedReadMs);
    if (failed > 0) {
      outcome.missed.push_back(
          absl::StrCat(failed, " of ", during.size(), " ", reads, " failed"));
    }
  };
  check_reads(alone, under, "legitimate GetUser reads");
  check_reads(me_alone, me_under, "signed-in GetMe reads");
  outcome.peak_rss_kib = testing::PeakRssKib(target.pid());
  outcome.disk_growth_bytes = target.DiskBytes() - disk_before;
  outcome.crashed = !target.alive();
  if (outcome.crashed) {
    outcome.missed.push_back("the server crashed: " + target.Stderr());
  }
  if (outcome.peak_rss_kib > int64_t{256} * 1024) {
    outcome.missed.push_back(
        absl::StrCat("peak RSS ", outcome.peak_rss_kib / 1024, " MiB > 256"));
  }
  // Below a millisecond, a 3x ratio is scheduler noise on a shared host:
  // held to 3x of at least 1 ms.
  const double allowed = 3 * std::max(outcome.legit_p99_alone_ms, 1.0);
  if (check_latency && !attack.control &&
      outcome.legit_p99_under_ms > allowed) {
    outcome.missed.push_back(absl::StrCat(
        "legit p99 ", outcome.legit_p99_under_ms, " ms > ", allowed, " ms"));
  }
  return outcome;
}

int RunLegitimateReader(const std::string& kind_port_credential_and_limit) {
  const std::vector<std::string> parts =
      absl::StrSplit(kind_port_credential_and_limit, ':');
  int64_t limit_ms = 0;
  if (parts.size() < 3 || parts.size() > 4 ||
      (parts[0] != "backend" && parts[0] != "frontend") ||
      (parts.size() == 4 && !absl::SimpleAtoi(parts[3], &limit_ms))) {
    return 2;
  }
  const absl::Time until = parts.size() == 4
                               ? absl::Now() + absl::Milliseconds(limit_ms)
                               : absl::InfiniteFuture();
  const auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", parts[1]),
                                           grpc::InsecureChannelCredentials());
  absl::AnyInvocable<grpc::Status()> read_once;
  if (parts[0] == "backend") {
    read_once = [stub = BackendUsers::NewStub(channel), user_id = parts[2]] {
      GetUserRequest request;
      request.set_user_id(user_id);
      User user;
      return stub->GetUser(Context(true).get(), request, &user);
    };
  } else {
    read_once = [stub = FrontendUsers::NewStub(channel), token = parts[2]] {
      FrontendUser me;
      return stub->GetMe(SessionContext(token).get(), GetMeRequest(), &me);
    };
  }
  absl::Notification stop;
  std::thread watch_stdin([&stop] {
    char byte;
    while (read(STDIN_FILENO, &byte, 1) > 0) {
    }
    stop.Notify();
  });
  std::vector<double> latencies;
  while (!stop.HasBeenNotified() && absl::Now() < until) {
    const auto started = std::chrono::steady_clock::now();
    const grpc::Status status = read_once();
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - started;
    // A failed legitimate read counts as the slowest possible.
    latencies.push_back(status.ok() ? took.count() : kFailedReadMs);
    // Paced, not closed-loop (the reader must not be a load of its own), and
    // done as soon as it is told to stop.
    stop.WaitForNotificationWithTimeout(absl::Milliseconds(5));
  }
  std::string out;
  for (double ms : latencies) {
    absl::StrAppend(&out, ms, "\n");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  // The report ends at EOF; the harness then closes our stdin, which ends
  // the watcher.
  std::fclose(stdout);
  watch_stdin.join();
  return 0;
}

}  // namespace roster::abuse

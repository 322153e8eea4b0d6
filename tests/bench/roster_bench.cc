// roster-bench: a closed-loop load generator for roster-server on gRPC's
// asynchronous (callback) client API. Several channels, a fixed number of
// calls in flight, a warm-up, then a fixed measured duration per scenario.
// Prints throughput and latency percentiles per scenario, each also as a ratio
// to `health` (grpc.health.v1.Health/Check on the same server: the same
// transport doing no work) measured in the same run, as a table and as JSON.
//
//   roster-bench --addr=127.0.0.1:50600 --seed=100000 --duration=10s
//
// The secret key comes from $ROSTER_SECRET_KEY.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/passwords.h"
#include "sodium.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50600", "roster-server address.");
ABSL_FLAG(int, channels, 4, "gRPC channels (separate connections).");
ABSL_FLAG(int, inflight, 32, "Calls in flight across all channels.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "Warm-up per scenario.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5),
          "Measured time per scenario.");
ABSL_FLAG(int64_t, seed, 10000,
          "Users the database must hold; missing ones are imported first.");
ABSL_FLAG(
    std::string, scenarios,
    "health,get_user,list_by_email,list_page,list_first_page,"
    "list_deep_page,count,create_user,merge_metadata,sign_in,get_me,mixed",
    "Comma-separated scenarios to run (health always runs first).");
ABSL_FLAG(std::string, json_out, "", "Also write the results here as JSON.");
ABSL_FLAG(int, hash_workers, 0,
          "The server's argon2id workers (default: this machine's cores, as "
          "roster-server sizes its pool); sign_in is reported against "
          "workers / time per hash, the hash timed here in the same run.");
ABSL_FLAG(bool, overload, false,
          "After the scenarios, offer sign_in open-loop at twice the hash "
          "pool's capacity while get_user runs, and report get_user's p99 "
          "against get_user alone and how every sign_in ended.");
ABSL_FLAG(int, server_pid, 0,
          "roster-server's pid (same machine): report its CPU per call from "
          "/proc/PID/stat.");
ABSL_FLAG(int64_t, max_errors, -1,
          "Exit 1 when a scenario sees more failed calls than this (-1: any "
          "number; the CI smoke run uses 0).");

namespace {

using roster::v1::BackendUsers;
using roster::v1::FrontendUsers;
using Done = std::function<void(const grpc::Status&)>;
// Starts one call for slot `slot`; calls `done` when it completes.
using Issue = std::function<void(int slot, Done done)>;

constexpr char kPassword[] = "bench password 123";

// list_first_page and list_deep_page read oldest first, so that both pages
// hold seeded users. The write scenarios add thinner users (an email, no
// metadata) at the newest end, and a newest-first first page of those
// measured faster than any page of seeded users, depth or not.
constexpr char kPageOrder[] = "created_at";

struct Result {
  std::string name;
  int inflight = 0;
  double qps = 0;
  // Server CPU (user + system) per measured call, when --server_pid is set.
  double cpu_us_per_call = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0;
  int64_t calls = 0, errors = 0;
  std::string first_error;
};

// Seconds per argon2id hash with the server's parameters while `workers`
// threads hash at once, as the server's pool does when it is saturated: two
// 19 MiB hashes side by side share caches and memory bandwidth, so each is
// slower than one hash alone, and capacity must be measured that way.
double SecondsPerHash(int workers) {
  if (sodium_init() < 0) {
    return 0;
  }
  constexpr int kHashes = 4;
  std::atomic<bool> failed{false};
  const absl::Time start = absl::Now();
  std::vector<std::thread> hashers;
  hashers.reserve(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w) {
    hashers.emplace_back([&failed] {
      char hash[crypto_pwhash_STRBYTES];
      for (int i = 0; i < kHashes; ++i) {
        if (crypto_pwhash_str(hash, kPassword, sizeof(kPassword) - 1,
                              roster::domain::kArgon2OpsLimit,
                              roster::domain::kArgon2MemLimit) != 0) {
          failed = true;
        }
      }
    });
  }
  for (auto& hasher : hashers) {
    hasher.join();
  }
  if (failed.load()) {
    return 0;
  }
  return absl::ToDoubleSeconds(absl::Now() - start) / kHashes;
}

// The server's CPU time so far (user + system, µs) from /proc/PID/stat, or -1.
double ServerCpuMicros(int pid) {
  if (pid <= 0) {
    return -1;
  }
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name, which may hold spaces.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  const std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 2), ' ');
  if (fields.size() < 13) {
    return -1;
  }
  // utime and stime are fields 14 and 15 of the whole line (11 and 12 here).
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Runs `issue` closed-loop: every slot starts its next call as soon as the
// previous one completes, for warm-up plus duration; records calls that
// complete inside the measured window.
Result Drive(const std::string& name, const Issue& issue, int inflight,
             absl::Duration warmup, absl::Duration duration, int server_pid) {
  std::mutex mu;
  std::condition_variable idle;
  std::vector<int64_t> latencies_ns;
  latencies_ns.reserve(1 << 20);
  int64_t errors = 0;
  std::string first_error;
  int active = inflight;
  const absl::Time measure_from = absl::Now() + warmup;
  const absl::Time stop_at = measure_from + duration;

  std::function<void(int)> start = [&](int slot) {
    const absl::Time begun = absl::Now();
    issue(slot, [&, slot, begun](const grpc::Status& status) {
      const absl::Time now = absl::Now();
      {
        std::lock_guard<std::mutex> lock(mu);
        if (begun >= measure_from && now <= stop_at) {
          if (status.ok()) {
            latencies_ns.push_back(absl::ToInt64Nanoseconds(now - begun));
          } else {
            ++errors;
            if (first_error.empty()) {
              first_error = absl::StrCat(status.error_code(), " ",
                                         status.error_message());
            }
          }
        }
        if (now >= stop_at) {
          if (--active == 0) {
            idle.notify_all();
          }
          return;
        }
      }
      start(slot);
    });
  };
  for (int slot = 0; slot < inflight; ++slot) {
    start(slot);
  }
  absl::SleepFor(measure_from - absl::Now());
  const double cpu_from = ServerCpuMicros(server_pid);
  absl::SleepFor(stop_at - absl::Now());
  const double cpu_to = ServerCpuMicros(server_pid);
  {
    std::unique_lock<std::mutex> lock(mu);
    idle.wait(lock, [&] { return active == 0; });
  }
  Result result;
  result.name = name;
  result.inflight = inflight;
  if (cpu_from >= 0 && cpu_to >= 0 && !latencies_ns.empty()) {
    result.cpu_us_per_call =
        (cpu_to - cpu_from) / static_cast<double>(latencies_ns.size());
  }
  result.calls = static_cast<int64_t>(latencies_ns.size());
  result.errors = errors;
  result.first_error = first_error;
  result.qps =
      static_cast<double>(result.calls) / absl::ToDoubleSeconds(duration);
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto percentile = [&](double p) {
    if (latencies_ns.empty()) {
      return 0.0;
    }
    const size_t index = std::min(
        latencies_ns.size() - 1,
        static_cast<size_t>(p * static_cast<double>(latencies_ns.size())));
    return static_cast<double>(latencies_ns[index]) / 1000.0;
  };
  result.p50_us = percentile(0.50);
  result.p90_us = percentile(0.90);
  result.p99_us = percentile(0.99);
  result.p999_us = percentile(0.999);
  return result;
}

// One call's state, alive until its completion callback has run.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

class Bench {
 public:
  Bench(const std::string& addr, int channels, std::string key)
      : key_(std::move(key)) {
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("bench.channel", i);  // Distinct args: distinct connections.
      auto channel = grpc::CreateCustomChannel(
          addr, grpc::InsecureChannelCredentials(), args);
      backends_.push_back(BackendUsers::NewStub(channel));
      frontends_.push_back(FrontendUsers::NewStub(channel));
      healths_.push_back(grpc::health::v1::Health::NewStub(channel));
    }
  }

  // Makes sure `count` users exist (importing the missing ones in batches of
  // 1000), then picks the users and emails the scenarios read.
  bool Seed(int64_t count) {
    roster::v1::CountUsersRequest count_request;
    roster::v1::CountUsersResponse counted;
    grpc::Status status = backends_[0]->CountUsers(
        Authed(absl::Seconds(30)).get(), count_request, &counted);
    if (!status.ok()) {
      std::cerr << "cannot count users: " << status.error_message() << "\n";
      return false;
    }
    const int64_t have = counted.total_count();
    const absl::Time started = absl::Now();
    // Batches of 1000; the server writes each batch through group commit. (Two
    // callers at once measured no faster: the single writer is the limit.)
    for (int64_t first = have; first < count; first += 1000) {
      const int64_t n = std::min<int64_t>(1000, count - first);
      roster::v1::ImportUsersRequest batch;
      for (int64_t k = first; k < first + n; ++k) {
        auto* user = batch.add_users();
        user->add_email_addresses(absl::StrCat("user", k, "@bench.example"));
        user->set_first_name(absl::StrCat("First", k % 997));
        user->set_last_name(absl::StrCat("Last", k % 1009));
        (*user->mutable_public_metadata()->mutable_fields())["plan"]
            .set_string_value(k % 3 == 0 ? "pro" : "free");
      }
      roster::v1::ImportUsersResponse imported;
      status = backends_[0]->ImportUsers(Authed(absl::Seconds(120)).get(),
                                         batch, &imported);
      if (!status.ok()) {
        std::cerr << "import failed: " << status.error_message() << "\n";
        return false;
      }
      std::cerr << "\rseeded " << first + n << "/" << count << " users";
    }
    if (absl::Now() - started > absl::Seconds(1)) {
      std::cerr << " in " << absl::FormatDuration(absl::Now() - started)
                << "\n";
    }
    // Sample users at random over the whole seeded set (up to 10,000 of them),
    // so that at a million users reads land all over the file rather than on
    // a few hot pages.
    std::mt19937_64 random_user(42);
    std::uniform_int_distribution<int64_t> any_user(0, count - 1);
    const int64_t samples = std::min<int64_t>(count, 10000);
    for (int64_t i = 0; i < samples; ++i) {
      const std::string email =
          absl::StrCat("user", any_user(random_user), "@bench.example");
      roster::v1::ListUsersRequest by_email;
      by_email.add_email_addresses(email);
      roster::v1::ListUsersResponse found;
      status = backends_[0]->ListUsers(Authed(absl::Seconds(30)).get(),
                                       by_email, &found);
      if (!status.ok()) {
        std::cerr << "cannot sample users: " << status.error_message() << "\n";
        return false;
      }
      if (found.users_size() == 1) {
        user_ids_.push_back(found.users(0).id());
        emails_.push_back(email);
      }
    }
    if (user_ids_.empty()) {
      std::cerr << "no seeded user found\n";
      return false;
    }
    // A page token 100,000 users deep (or halfway, in a smaller set): the
    // keyset position list_deep_page asks for again and again.
    roster::v1::ListUsersRequest deep;
    deep.set_order_by(kPageOrder);
    deep.set_limit(1);
    deep.set_offset(static_cast<int32_t>(
        std::min<int64_t>(100000, std::max(have, count) / 2)));
    roster::v1::ListUsersResponse deep_page;
    status = backends_[0]->ListUsers(Authed(absl::Seconds(60)).get(), deep,
                                     &deep_page);
    if (!status.ok()) {
      return false;
    }
    deep_token_ = deep_page.next_page_token();
    return PrepareSignIn();
  }

  std::vector<std::pair<std::string, Issue>> Scenarios() {
    std::vector<std::pair<std::string, Issue>> s;
    s.emplace_back("health", [this](int slot, const Done& done) {
      auto call =
          std::make_shared<Call<grpc::health::v1::HealthCheckRequest,
                                grpc::health::v1::HealthCheckResponse>>();
      Deadline(call->context);
      healths_[Channel(slot)]->async()->Check(
          &call->context, &call->request, &call->response,
          [call, done](const grpc::Status& st) { done(st); });
    });
    s.emplace_back("get_user", [this](int slot, const Done& done) {
      auto call = std::make_shared<
          Call<roster::v1::GetUserRequest, roster::v1::User>>();
      call->request.set_user_id(Pick(user_ids_));
      Authorize(call->context);
      backends_[Channel(slot)]->async()->GetUser(
          &call->context, &call->request, &call->response,
          [call, done](const grpc::Status& st) { done(st); });
    });
    s.emplace_back("list_by_email", [this](int slot, const Done& done) {
      auto call = std::make_shared<
          Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
      call->request.add_email_addresses(Pick(emails_));
      Authorize(call->context);
      backends_[Channel(slot)]->async()->ListUsers(
          &call->context, &call->request, &call->response,
          [call, done](const grpc::Status& st) { done(st); });
    });
    s.emplace_back("list_page", [this](int slot, const Done& done) {
      // Each slot walks the set 10 at a time, following page tokens.
      auto call = std::make_shared<
          Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
      call->request.set_limit(10);
      call->request.set_page_token(Token(slot));
      Authorize(call->context);
      backends_[Channel(slot)]->async()->ListUsers(
          &call->context, &call->request, &call->response,
          [this, call, done, slot](const grpc::Status& st) {
            SetToken(slot, st.ok() ? call->response.next_page_token() : "");
            done(st);
          });
    });
    // The first page against a page 100,000 deep: keyset paging should make
    // depth free.
    s.emplace_back("list_first_page", [this](int slot, const Done& done) {
      ListPage(slot, "", done);
    });
    s.emplace_back("list_deep_page", [this](int slot, const Done& done) {
      ListPage(slot, deep_token_, done);
    });
    s.emplace_back("count", [this](int slot, const Done& done) {
      auto call = std::make_shared<Call<roster::v1::CountUsersRequest,
                                        roster::v1::CountUsersResponse>>();
      (*call->request.add_metadata_filters()->mutable_value())
          .set_string_value("pro");
      call->request.mutable_metadata_filters(0)->set_tier(
          roster::v1::MetadataFilter::TIER_PUBLIC);
      call->request.mutable_metadata_filters(0)->set_path("plan");
      Authorize(call->context);
      backends_[Channel(slot)]->async()->CountUsers(
          &call->context, &call->request, &call->response,
          [call, done](const grpc::Status& st) { done(st); });
    });
    s.emplace_back("create_user", [this](int slot, const Done& done) {
      CreateUser(slot, done);
    });
    s.emplace_back("merge_metadata", [this](int slot, const Done& done) {
      MergeMetadata(slot, done);
    });
    s.emplace_back("sign_in", [this](int slot, const Done& done) {
      auto call = std::make_shared<
          Call<roster::v1::SignInRequest, roster::v1::SignInResponse>>();
      call->request.set_identifier(sign_in_email_);
      call->request.set_password(kPassword);
      Deadline(call->context);
      frontends_[Channel(slot)]->async()->SignIn(
          &call->context, &call->request, &call->response,
          [call, done](const grpc::Status& st) { done(st); });
    });
    s.emplace_back("get_me", [this](int slot, const Done& done) {
      auto call = std::make_shared<
          Call<roster::v1::GetMeRequest, roster::v1::FrontendUser>>();
      Deadline(call->context);
      call->context.AddMetadata("authorization", "Bearer " + token_);
      frontends_[Channel(slot)]->async()->GetMe(
          &call->context, &call->request, &call->response,
          [call, done](const grpc::Status& st) { done(st); });
    });
    s.emplace_back("mixed", [this, reads = s](int slot, Done done) {
      // 90 % reads (get_user, list_by_email, get_me), 10 % writes.
      const int roll = static_cast<int>(Next() % 100);
      if (roll < 10) {
        return (roll < 5 ? CreateUser(slot, done) : MergeMetadata(slot, done));
      }
      const auto& read = reads[1 + static_cast<size_t>(roll % 3)];
      read.second(slot, std::move(done));
    });
    return s;
  }

 private:
  std::unique_ptr<grpc::ClientContext> Authed(absl::Duration timeout) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context->AddMetadata("authorization", "Bearer " + key_);
    return context;
  }
  static void Deadline(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  }
  void Authorize(grpc::ClientContext& context) {
    Deadline(context);
    context.AddMetadata("authorization", "Bearer " + key_);
  }
  size_t Channel(int slot) const {
    return static_cast<size_t>(slot) % backends_.size();
  }
  uint64_t Next() {
    std::lock_guard<std::mutex> lock(rng_mu_);
    return rng_();
  }
  const std::string& Pick(const std::vector<std::string>& from) {
    return from[Next() % from.size()];
  }
  std::string Token(int slot) {
    std::lock_guard<std::mutex> lock(rng_mu_);
    return tokens_[slot];
  }
  void SetToken(int slot, std::string token) {
    std::lock_guard<std::mutex> lock(rng_mu_);
    tokens_[slot] = std::move(token);
  }

  void CreateUser(int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::CreateUserRequest, roster::v1::User>>();
    call->request.add_email_addresses(
        absl::StrCat("new", run_id_, "-", created_++, "@bench.example"));
    call->request.set_first_name("New");
    Authorize(call->context);
    backends_[Channel(slot)]->async()->CreateUser(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  }

  void ListPage(int slot, const std::string& token, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
    call->request.set_order_by(kPageOrder);
    call->request.set_limit(10);
    call->request.set_page_token(token);
    Authorize(call->context);
    backends_[Channel(slot)]->async()->ListUsers(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  }

  void MergeMetadata(int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::UpdateUserMetadataRequest, roster::v1::User>>();
    call->request.set_user_id(Pick(user_ids_));
    (*call->request.mutable_unsafe_metadata()->mutable_fields())["visits"]
        .set_number_value(static_cast<double>(Next() % 1000));
    Authorize(call->context);
    backends_[Channel(slot)]->async()->UpdateUserMetadata(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  }

  // A user with a password to sign in as, and a session token for get_me.
  bool PrepareSignIn() {
    sign_in_email_ = "signin@bench.example";
    roster::v1::CreateUserRequest create;
    create.add_email_addresses(sign_in_email_);
    create.set_password(kPassword);
    create.set_request_id("bench-sign-in-user");  // Idempotent across runs.
    roster::v1::User user;
    grpc::Status status = backends_[0]->CreateUser(
        Authed(absl::Seconds(30)).get(), create, &user);
    if (!status.ok()) {
      std::cerr << "cannot create the sign-in user: " << status.error_message()
                << "\n";
      return false;
    }
    roster::v1::UnlockUserRequest unlock;  // A previous run may have locked it.
    unlock.set_user_id(user.id());
    backends_[0]->UnlockUser(Authed(absl::Seconds(30)).get(), unlock, &user);
    roster::v1::CreateSessionRequest session_request;
    session_request.set_user_id(user.id());
    roster::v1::CreateSessionResponse session;
    status = backends_[0]->CreateSession(Authed(absl::Seconds(30)).get(),
                                         session_request, &session);
    token_ = session.session_token();
    return status.ok();
  }

  std::string key_;
  std::vector<std::unique_ptr<BackendUsers::Stub>> backends_;
  std::vector<std::unique_ptr<FrontendUsers::Stub>> frontends_;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> healths_;
  std::vector<std::string> user_ids_, emails_;
  std::string sign_in_email_, token_;
  std::atomic<int64_t> created_{0};
  // Tells this run's created users from an earlier run's on a reused database
  // (rng_ is seeded the same every run, so reads repeat but names must not).
  const uint64_t run_id_ =
      (uint64_t{std::random_device()()} << 32) | std::random_device()();
  std::mutex rng_mu_;
  std::mt19937_64 rng_{42};
  std::map<int, std::string> tokens_;
  std::string deep_token_;
};

// sign_in offered open-loop (a fixed arrival rate, whatever the server
// answers) beside a closed-loop scenario: how the offered overload ended.
struct OpenLoopOutcome {
  int64_t offered = 0, ok = 0, refused = 0, other = 0;
  double refused_p99_us = 0;  // How fast refusals come back.
  std::string first_other;
};

OpenLoopOutcome OfferOpenLoop(const Issue& issue, double rate,
                              absl::Duration duration) {
  std::mutex mu;
  std::condition_variable drained;
  OpenLoopOutcome outcome;
  std::vector<int64_t> refused_ns;
  int64_t outstanding = 0;
  const absl::Time start = absl::Now();
  for (int64_t i = 0;; ++i) {
    const absl::Time at = start + absl::Seconds(static_cast<double>(i) / rate);
    if (at >= start + duration) {
      break;
    }
    absl::SleepFor(at - absl::Now());
    {
      std::lock_guard<std::mutex> lock(mu);
      ++outstanding;
      ++outcome.offered;
    }
    const absl::Time begun = absl::Now();
    issue(static_cast<int>(i), [&, begun](const grpc::Status& status) {
      std::lock_guard<std::mutex> lock(mu);
      if (status.ok()) {
        ++outcome.ok;
      } else if (status.error_code() == grpc::RESOURCE_EXHAUSTED ||
                 status.error_code() == grpc::UNAVAILABLE) {
        ++outcome.refused;
        refused_ns.push_back(absl::ToInt64Nanoseconds(absl::Now() - begun));
      } else {
        ++outcome.other;
        if (outcome.first_other.empty()) {
          outcome.first_other =
              absl::StrCat(status.error_code(), " ", status.error_message());
        }
      }
      if (--outstanding == 0) {
        drained.notify_all();
      }
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  drained.wait(lock, [&] { return outstanding == 0; });
  if (!refused_ns.empty()) {
    std::sort(refused_ns.begin(), refused_ns.end());
    outcome.refused_p99_us =
        static_cast<double>(refused_ns[std::min(
            refused_ns.size() - 1,
            static_cast<size_t>(0.99 *
                                static_cast<double>(refused_ns.size())))]) /
        1000.0;
  }
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const char* key = std::getenv("ROSTER_SECRET_KEY");
  if (key == nullptr) {
    std::cerr << "set ROSTER_SECRET_KEY\n";
    return 64;
  }
  Bench bench(absl::GetFlag(FLAGS_addr), absl::GetFlag(FLAGS_channels), key);
  if (!bench.Seed(absl::GetFlag(FLAGS_seed))) {
    return 1;
  }
  const std::vector<std::string> wanted =
      absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipEmpty());
  const int workers =
      absl::GetFlag(FLAGS_hash_workers) > 0
          ? absl::GetFlag(FLAGS_hash_workers)
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The hash pool's capacity is timed before any load, on a settled server:
  // timed after a scenario it would share the cores with whatever the server
  // is still finishing (a checkpoint, queued hashes). Noise only ever adds
  // time, so the faster of two rounds is the capacity.
  double per_hash = 0;
  if (absl::GetFlag(FLAGS_overload) ||
      std::find(wanted.begin(), wanted.end(), "sign_in") != wanted.end()) {
    absl::SleepFor(absl::Seconds(1));
    per_hash = std::min(SecondsPerHash(workers), SecondsPerHash(workers));
  }
  std::vector<Result> results;
  for (auto& [name, issue] : bench.Scenarios()) {
    if (name != "health" &&
        std::find(wanted.begin(), wanted.end(), name) == wanted.end()) {
      continue;
    }
    std::cerr << "running " << name << "…\n";
    results.push_back(Drive(
        name, issue, absl::GetFlag(FLAGS_inflight), absl::GetFlag(FLAGS_warmup),
        absl::GetFlag(FLAGS_duration), absl::GetFlag(FLAGS_server_pid)));
  }
  const double floor = results.front().qps;
  const double floor_cpu = results.front().cpu_us_per_call;
  std::cout << absl::StrFormat(
      "%-15s %10s %7s %9s %9s %9s %9s %7s %9s\n", "scenario", "calls/s",
      "ratio", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "errors", "cpu µs");
  std::string json = absl::StrCat(
      "{\"channels\":", absl::GetFlag(FLAGS_channels),
      ",\"inflight\":", absl::GetFlag(FLAGS_inflight),
      ",\"duration_s\":", absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration)),
      ",\"seed\":", absl::GetFlag(FLAGS_seed), ",\"scenarios\":[");
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    const double ratio = floor > 0 ? r.qps / floor : 0;
    std::cout << absl::StrFormat(
        "%-15s %10.0f %7.3f %9.0f %9.0f %9.0f %9.0f %7d %9.1f\n", r.name, r.qps,
        ratio, r.p50_us, r.p90_us, r.p99_us, r.p999_us, r.errors,
        r.cpu_us_per_call);
    if (!r.first_error.empty()) {
      std::cout << "  first error: " << r.first_error << "\n";
    }
    absl::StrAppend(
        &json, i == 0 ? "" : ",", "{\"name\":\"", r.name,
        "\",\"qps\":", absl::StrFormat("%.1f", r.qps),
        ",\"ratio_to_health\":", absl::StrFormat("%.4f", ratio),
        ",\"p50_us\":", absl::StrFormat("%.1f", r.p50_us),
        ",\"p90_us\":", absl::StrFormat("%.1f", r.p90_us),
        ",\"p99_us\":", absl::StrFormat("%.1f", r.p99_us),
        ",\"p999_us\":", absl::StrFormat("%.1f", r.p999_us),
        ",\"p99_ratio_to_health\":",
        absl::StrFormat("%.4f", results.front().p99_us > 0
                                    ? r.p99_us / results.front().p99_us
                                    : 0),
        ",\"cpu_us_per_call\":", absl::StrFormat("%.2f", r.cpu_us_per_call),
        ",\"cpu_ratio_to_health\":",
        absl::StrFormat("%.3f",
                        floor_cpu > 0 ? r.cpu_us_per_call / floor_cpu : 0),
        ",\"calls\":", r.calls, ",\"errors\":", r.errors, "}");
  }
  json += "]";
  for (const Result& r : results) {
    if (r.name != "sign_in") {
      continue;
    }
    const double capacity = per_hash > 0 ? workers / per_hash : 0;
    std::cout << absl::StrFormat(
        "sign_in: %.1f/s against a hash pool of %d workers x %.1f ms per hash "
        "= %.1f/s (%.3f)\n",
        r.qps, workers, per_hash * 1000, capacity,
        capacity > 0 ? r.qps / capacity : 0);
    absl::StrAppend(
        &json, ",\"hash_ms\":", absl::StrFormat("%.2f", per_hash * 1000),
        ",\"hash_workers\":", workers,
        ",\"sign_in_capacity_per_s\":", absl::StrFormat("%.1f", capacity));
  }
  if (absl::GetFlag(FLAGS_overload)) {
    std::map<std::string, Issue> issues;
    for (auto& [name, issue] : bench.Scenarios()) {
      issues[name] = issue;
    }
    const double rate = per_hash > 0 ? 2 * workers / per_hash : 100;
    constexpr int kReaders = 8;
    std::cerr << "running get_user alone, then beside sign_in at " << rate
              << "/s…\n";
    const Result alone = Drive(
        "get_user", issues["get_user"], kReaders, absl::GetFlag(FLAGS_warmup),
        absl::GetFlag(FLAGS_duration), absl::GetFlag(FLAGS_server_pid));
    OpenLoopOutcome offered;
    std::thread flood([&] {
      offered = OfferOpenLoop(
          issues["sign_in"], rate,
          absl::GetFlag(FLAGS_warmup) + absl::GetFlag(FLAGS_duration));
    });
    const Result beside = Drive(
        "get_user", issues["get_user"], kReaders, absl::GetFlag(FLAGS_warmup),
        absl::GetFlag(FLAGS_duration), absl::GetFlag(FLAGS_server_pid));
    flood.join();
    std::cout << absl::StrFormat(
        "overload: get_user p99 %.0f µs beside sign_in at %.0f/s, %.0f µs "
        "alone (%.2f); sign_in offered %d: %d ok, %d refused (p99 %.0f µs), "
        "%d other%s\n",
        beside.p99_us, rate, alone.p99_us,
        alone.p99_us > 0 ? beside.p99_us / alone.p99_us : 0, offered.offered,
        offered.ok, offered.refused, offered.refused_p99_us, offered.other,
        offered.first_other.empty() ? "" : " (" + offered.first_other + ")");
    absl::StrAppend(
        &json,
        ",\"overload\":{\"sign_in_rate\":", absl::StrFormat("%.1f", rate),
        ",\"readers\":", kReaders,
        ",\"get_user_p99_alone_us\":", absl::StrFormat("%.1f", alone.p99_us),
        ",\"get_user_p99_beside_us\":", absl::StrFormat("%.1f", beside.p99_us),
        ",\"offered\":", offered.offered, ",\"ok\":", offered.ok,
        ",\"refused\":", offered.refused,
        ",\"refused_p99_us\":", absl::StrFormat("%.1f", offered.refused_p99_us),
        ",\"other\":", offered.other, "}");
  }
  json += "}\n";
  std::cout << json;
  const std::string out = absl::GetFlag(FLAGS_json_out);
  if (!out.empty()) {
    std::ofstream(out) << json;
  }
  const int64_t max_errors = absl::GetFlag(FLAGS_max_errors);
  for (const Result& r : results) {
    if (max_errors >= 0 && r.errors > max_errors) {
      return 1;
    }
    if (r.calls == 0) {
      return 1;  // A scenario that completed nothing is broken.
    }
  }
  return 0;
}

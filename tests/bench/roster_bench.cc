// roster-bench: a closed-loop load generator for roster-server on gRPC's
// asynchronous (callback) client API. Several channels, a fixed number of
// calls in flight, a warm-up, then a fixed measured duration per scenario.
// Prints throughput and latency percentiles per scenario, each also as a ratio
// to `health` (grpc.health.v1.Health/Check on the same server: the same
// transport doing no work) measured in the same run, as a table and as JSON.
//
//   roster-bench --addr=127.0.0.1:50600 --seed=100000 --duration=10s
//
// --rounds=N runs the scenarios N times in turn and reports medians, each ratio
// taken within a round (see results.h). With --http_addr, get_me also runs
// over Connect JSON and gRPC-Web, reported against get_me over gRPC. The
// secret key comes from $ROSTER_SECRET_KEY.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/bench/http_lanes.h"
#include "tests/bench/load.h"
#include "tests/bench/results.h"
#include "tests/bench/totp_users.h"

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
    "health,get_user,list_by_email,list_by_metadata,list_page,list_first_page,"
    "list_deep_page,count,create_user,merge_metadata,sign_in,sign_up_complete,"
    "sign_in_totp,get_me,mixed,get_me_connect,get_me_grpc_web",
    "Comma-separated scenarios to run (health always runs first).");
ABSL_FLAG(std::string, http_addr, "",
          "roster-server's HTTP listener (host:port): enables get_me over "
          "Connect JSON (get_me_connect) and gRPC-Web (get_me_grpc_web), one "
          "keep-alive connection per call in flight.");
ABSL_FLAG(std::string, json_out, "", "Also write the results here as JSON.");
ABSL_FLAG(int, totp_users, 2000,
          "Users enrolled with an authenticator app for sign_in_totp. Each "
          "step's code signs a user in once, so the pool must outlast the "
          "run: about the sign-in rate times 30 s.");
ABSL_FLAG(int, hash_workers, 0,
          "The server's argon2id workers (default: this machine's cores but "
          "one, as roster-server sizes its pool); sign_in is reported against "
          "workers / time per hash, the hash timed here in the same run.");
ABSL_FLAG(bool, overload, false,
          "After the scenarios, offer sign_in open-loop at twice the hash "
          "pool's capacity while get_user runs, and report get_user's p99 "
          "against get_user alone and how every sign_in ended.");
ABSL_FLAG(int, server_pid, 0,
          "roster-server's pid (same machine): report its CPU per call from "
          "/proc/PID/stat.");
ABSL_FLAG(int, db_pid, 0,
          "The database server's pid (PostgreSQL's postmaster): its CPU and "
          "its children's per call is reported as `db µs`.");
ABSL_FLAG(std::string, compare_addr, "",
          "A second roster-server: run each scenario on both in alternating "
          "short slices and report the second's throughput over the first's "
          "(the same scenario, the same moments of the machine).");
ABSL_FLAG(int64_t, compare_seed, 10000,
          "Users the --compare_addr server's database must hold.");
ABSL_FLAG(int, compare_pid, 0, "The --compare_addr server's pid.");
ABSL_FLAG(int, slice_pairs, 10,
          "With --compare_addr: measured slices per server and scenario.");
ABSL_FLAG(absl::Duration, slice, absl::Milliseconds(500),
          "With --compare_addr: the measured part of each slice.");
ABSL_FLAG(int, rounds, 1,
          "Run the scenarios this many times in turn and report medians: "
          "each ratio is taken within a round, then the median of those.");
ABSL_FLAG(int64_t, max_errors, -1,
          "Exit 1 when a scenario sees more failed calls than this (-1: any "
          "number; the CI smoke run uses 0).");

namespace {

using roster::bench::Done;
using roster::bench::Drive;
using roster::bench::DriveInterleaved;
using roster::bench::Interleaved;
using roster::bench::Issue;
using roster::bench::Median;
using roster::bench::OfferOpenLoop;
using roster::bench::OpenLoopOutcome;
using roster::bench::Result;
using roster::bench::SecondsPerHash;
using roster::bench::Summary;
using roster::v1::BackendUsers;
using roster::v1::FrontendUsers;

constexpr char kPassword[] = "bench password 123";

// list_first_page and list_deep_page read oldest first, so that both pages
// hold seeded users. The write scenarios add thinner users (an email, no
// metadata) at the newest end, and a newest-first first page of those
// measured faster than any page of seeded users, depth or not.
constexpr char kPageOrder[] = "created_at";

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
        auto& metadata = *user->mutable_public_metadata()->mutable_fields();
        metadata["plan"].set_string_value(k % 3 == 0 ? "pro" : "free");
        // One user's own value, for list_by_metadata.
        metadata["account"].set_string_value(absl::StrCat("acct", k));
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
      const int64_t k = any_user(random_user);
      const std::string email = absl::StrCat("user", k, "@bench.example");
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
        accounts_.push_back(absl::StrCat("acct", k));
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

  // sign_in_totp's users, under names of this run.
  bool PrepareTotpUsers() {
    const absl::Time started = absl::Now();
    absl::Status prepared = totp_users_.Prepare(
        *backends_[0], *frontends_[0], key_, kPassword,
        absl::GetFlag(FLAGS_totp_users), absl::StrCat(run_id_));
    if (!prepared.ok()) {
      std::cerr << "cannot prepare sign_in_totp: " << prepared.message()
                << "\n";
      return false;
    }
    std::cerr << "enrolled " << absl::GetFlag(FLAGS_totp_users)
              << " TOTP users in "
              << absl::FormatDuration(absl::Now() - started) << "\n";
    return true;
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
    // The same one user as list_by_email, named by a public metadata value.
    s.emplace_back("list_by_metadata", [this](int slot, const Done& done) {
      auto call = std::make_shared<
          Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
      auto* filter = call->request.add_metadata_filters();
      filter->set_tier(roster::v1::MetadataFilter::TIER_PUBLIC);
      filter->set_path("account");
      filter->mutable_value()->set_string_value(Pick(accounts_));
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
    // A sign-up that completes in its first call (the server runs with
    // --sign_up_required=username,password): one argon2id hash, then the user
    // and its session in one transaction.
    s.emplace_back("sign_up_complete", [this](int slot, const Done& done) {
      auto call = std::make_shared<
          Call<roster::v1::CreateSignUpRequest, roster::v1::SignUpResponse>>();
      call->request.set_username(
          absl::StrCat("signup", run_id_, "x", created_++));
      call->request.set_password(kPassword);
      Deadline(call->context);
      frontends_[Channel(slot)]->async()->CreateSignUp(
          &call->context, &call->request, &call->response,
          [call, done](const grpc::Status& st) {
            done(st.ok() && call->response.sign_up().status() !=
                                roster::v1::SignUp::STATUS_COMPLETE
                     ? grpc::Status(grpc::StatusCode::INTERNAL,
                                    "the sign-up did not complete")
                     : st);
          });
    });
    // A sign-in with a second factor: SignIn (one argon2id hash) answers
    // NEEDS_SECOND_FACTOR, then AttemptSignInFactor with the app's code.
    s.emplace_back("sign_in_totp", [this](int slot, const Done& done) {
      SignInWithTotp(slot, done);
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
    if (http_ != nullptr) {
      // get_me as a browser makes it, the answer decoded as a client would.
      s.emplace_back("get_me_connect", [this](int slot, const Done& done) {
        http_->Post(slot, [this, done](httplib::Client& client) {
          auto answer = roster::bench::HttpLanes::PostRetrying(
              client, "/roster.v1.FrontendUsers/GetMe",
              {{"Authorization", "Bearer " + token_}}, "{}",
              "application/json");
          roster::v1::FrontendUser me;
          done(answer && answer->status == 200 &&
                       google::protobuf::util::JsonStringToMessage(answer->body,
                                                                   &me)
                           .ok() &&
                       !me.id().empty()
                   ? grpc::Status::OK
                   : HttpFailure(answer));
        });
      });
      s.emplace_back("get_me_grpc_web", [this](int slot, const Done& done) {
        http_->Post(slot, [this, done](httplib::Client& client) {
          auto answer = roster::bench::HttpLanes::PostRetrying(
              client, "/roster.v1.FrontendUsers/GetMe",
              {{"Authorization", "Bearer " + token_}}, std::string(5, '\0'),
              "application/grpc-web+proto");
          roster::v1::FrontendUser me;
          // One message frame, then the trailer frame with grpc-status:0.
          const bool ok =
              answer && answer->status == 200 && answer->body.size() > 5 &&
              me.ParseFromArray(answer->body.data() + 5,
                                static_cast<int>(FrameLength(answer->body))) &&
              absl::StrContains(answer->body, "grpc-status:0");
          done(ok ? grpc::Status::OK : HttpFailure(answer));
        });
      });
    }
    return s;
  }

  // The Connect and gRPC-Web scenarios' connections.
  void UseHttp(const std::string& addr, int lanes) {
    const size_t colon = addr.rfind(':');
    http_ = std::make_unique<roster::bench::HttpLanes>(
        addr.substr(0, colon), std::stoi(addr.substr(colon + 1)), lanes);
  }

 private:
  static grpc::Status HttpFailure(const httplib::Result& answer) {
    return grpc::Status(
        grpc::UNKNOWN,
        answer ? absl::StrCat("HTTP ", answer->status, " ",
                              answer->body.substr(0, 200))
               : absl::StrCat("HTTP error ", static_cast<int>(answer.error())));
  }
  // The length a gRPC-Web frame at the start of `body` declares.
  static size_t FrameLength(const std::string& body) {
    size_t length = 0;
    for (size_t i = 1; i < 5; ++i) {
      length = (length << 8) | static_cast<uint8_t>(body[i]);
    }
    return std::min(length, body.size() - 5);
  }
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

  // SignIn, then the second factor with the user's current code.
  void SignInWithTotp(int slot, const Done& done) {
    auto turn = totp_users_.Next(absl::Now());
    if (!turn.ok()) {
      done(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        std::string(turn.status().message())));
      return;
    }
    auto call = std::make_shared<
        Call<roster::v1::SignInRequest, roster::v1::SignInResponse>>();
    call->request.set_identifier(turn->email);
    call->request.set_password(kPassword);
    Deadline(call->context);
    auto* frontend = frontends_[Channel(slot)].get();
    frontend->async()->SignIn(
        &call->context, &call->request, &call->response,
        [call, done, frontend, code = turn->code](const grpc::Status& st) {
          if (!st.ok() ||
              call->response.status() !=
                  roster::v1::SignInAttempt::STATUS_NEEDS_SECOND_FACTOR) {
            done(st.ok() ? grpc::Status(grpc::StatusCode::INTERNAL,
                                        "no second factor was asked for")
                         : st);
            return;
          }
          auto factor =
              std::make_shared<Call<roster::v1::AttemptSignInFactorRequest,
                                    roster::v1::SignInResponse>>();
          factor->request.set_sign_in_attempt_id(
              call->response.sign_in_attempt().id());
          factor->request.set_strategy("totp");
          factor->request.set_code(code);
          Deadline(factor->context);
          frontend->async()->AttemptSignInFactor(
              &factor->context, &factor->request, &factor->response,
              [factor, done](const grpc::Status& second) {
                done(second.ok() && factor->response.session_token().empty()
                         ? grpc::Status(grpc::StatusCode::INTERNAL,
                                        "the second factor gave no session")
                         : second);
              });
        });
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

  // A user with a password to sign in as, and another's session token for
  // get_me.
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
    // get_me's session belongs to another user: sign_in's flood would revoke
    // it, since a user keeps only their newest 100 sessions.
    roster::v1::CreateUserRequest me;
    me.add_email_addresses("me@bench.example");
    me.set_request_id("bench-get-me-user");
    status =
        backends_[0]->CreateUser(Authed(absl::Seconds(30)).get(), me, &user);
    if (!status.ok()) {
      std::cerr << "cannot create the get_me user: " << status.error_message()
                << "\n";
      return false;
    }
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
  std::vector<std::string> accounts_;  // The sampled users' "account" values.
  std::string sign_in_email_, token_;
  roster::bench::TotpUserPool totp_users_;
  std::atomic<int64_t> created_{0};
  // Tells this run's created users from an earlier run's on a reused database
  // (rng_ is seeded the same every run, so reads repeat but names must not).
  const uint64_t run_id_ =
      (uint64_t{std::random_device()()} << 32) | std::random_device()();
  std::mutex rng_mu_;
  std::mt19937_64 rng_{42};
  std::map<int, std::string> tokens_;
  std::string deep_token_;
  std::unique_ptr<roster::bench::HttpLanes> http_;
};

// Whether the run asked for scenario `name` (health always runs: it is the
// floor every ratio is taken against).
bool Wanted(const std::string& name, const std::vector<std::string>& wanted) {
  return name == "health" ||
         std::find(wanted.begin(), wanted.end(), name) != wanted.end();
}

// Seconds per hash for the pool's capacity, timed on a settled server: timed
// right after a scenario it would share the cores with whatever the server is
// still finishing (a checkpoint, queued hashes). Noise only ever adds time, so
// the faster of two timings is the capacity.
double SettledSecondsPerHash(int workers) {
  absl::SleepFor(absl::Seconds(1));
  return std::min(SecondsPerHash(workers, kPassword),
                  SecondsPerHash(workers, kPassword));
}

// `values` as a JSON array of numbers with four decimals.
std::string JsonArray(const std::vector<double>& values) {
  return absl::StrCat("[",
                      absl::StrJoin(values, ",",
                                    [](std::string* out, double v) {
                                      absl::StrAppend(
                                          out, absl::StrFormat("%.4f", v));
                                    }),
                      "]");
}

// One scenario's summary as a JSON object, with each round's raw figures.
std::string ScenarioJson(const Summary& summary,
                         const std::vector<std::vector<Result>>& rounds,
                         size_t index) {
  const Result& r = summary.median;
  std::string per_round;
  for (size_t k = 0; k < rounds.size(); ++k) {
    const Result& x = rounds[k][index];
    absl::StrAppend(&per_round, k == 0 ? "" : ",",
                    absl::StrFormat("{\"qps\":%.1f,\"p50_us\":%.1f,\"p99_us\":"
                                    "%.1f,\"cpu_us_per_call\":%.2f,"
                                    "\"db_cpu_us_per_call\":%.2f}",
                                    x.qps, x.p50_us, x.p99_us,
                                    x.cpu_us_per_call, x.db_cpu_us_per_call));
  }
  return absl::StrCat(
      "{\"name\":\"", r.name, "\"",
      absl::StrFormat(",\"qps\":%.1f,\"ratio_to_health\":%.4f", r.qps,
                      summary.ratio_to_health),
      absl::StrFormat(",\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
                      "\"p999_us\":%.1f",
                      r.p50_us, r.p90_us, r.p99_us, r.p999_us),
      absl::StrFormat(",\"p99_ratio_to_health\":%.4f",
                      summary.p99_ratio_to_health),
      absl::StrFormat(",\"cpu_us_per_call\":%.2f,\"cpu_ratio_to_health\":%.3f",
                      r.cpu_us_per_call, summary.cpu_ratio_to_health),
      absl::StrFormat(",\"db_cpu_us_per_call\":%.2f", r.db_cpu_us_per_call),
      ",\"calls\":", r.calls, ",\"errors\":", r.errors,
      ",\"qps_ratios\":", JsonArray(summary.qps_ratios), ",\"rounds\":[",
      per_round, "]}");
}

// --compare_addr: health and each wanted scenario on `first` and on a second
// server, in alternating slices. Prints a table and JSON; returns the exit
// code.
int CompareServers(Bench& first, const std::vector<std::string>& wanted,
                   const std::string& key) {
  Bench second(absl::GetFlag(FLAGS_compare_addr), absl::GetFlag(FLAGS_channels),
               key);
  if (!second.Seed(absl::GetFlag(FLAGS_compare_seed))) {
    return 1;
  }
  const int pairs = std::max(1, absl::GetFlag(FLAGS_slice_pairs));
  const absl::Duration slice = absl::GetFlag(FLAGS_slice);
  // Scenarios() lists the same names in the same order for every Bench.
  auto ours = first.Scenarios();
  auto theirs = second.Scenarios();
  std::cout << absl::StrFormat("%-15s %10s %10s %7s %13s %8s %8s\n", "scenario",
                               "A calls/s", "B calls/s", "B/A", "slices",
                               "A cpu µs", "B cpu µs");
  std::string json = absl::StrCat(
      "{\"inflight\":", absl::GetFlag(FLAGS_inflight),
      ",\"slice_pairs\":", pairs, ",\"slice_s\":", absl::ToDoubleSeconds(slice),
      ",\"compare\":[");
  bool failed = false;
  for (size_t i = 0; i < ours.size(); ++i) {
    const std::string& name = ours[i].first;
    if (!Wanted(name, wanted)) {
      continue;
    }
    std::cerr << "comparing " << name << "…\n";
    const Interleaved run = DriveInterleaved(
        name, ours[i].second, absl::GetFlag(FLAGS_server_pid), theirs[i].second,
        absl::GetFlag(FLAGS_compare_pid), absl::GetFlag(FLAGS_inflight), pairs,
        absl::GetFlag(FLAGS_warmup), absl::Milliseconds(200), slice);
    const double ratio = run.a.qps > 0 ? run.b.qps / run.a.qps : 0;
    const auto [low, high] =
        std::minmax_element(run.slice_ratios.begin(), run.slice_ratios.end());
    std::cout << absl::StrFormat(
        "%-15s %10.0f %10.0f %7.3f %6.2f–%-6.2f %8.1f %8.1f\n", name, run.a.qps,
        run.b.qps, ratio, *low, *high, run.a.cpu_us_per_call,
        run.b.cpu_us_per_call);
    absl::StrAppend(
        &json, json.back() == '[' ? "" : ",", "{\"name\":\"", name, "\"",
        absl::StrFormat(",\"qps\":%.1f,\"compare_qps\":%.1f,\"ratio\":%.4f",
                        run.a.qps, run.b.qps, ratio),
        ",\"slice_ratios\":", JsonArray(run.slice_ratios),
        absl::StrFormat(",\"p50_us\":%.1f,\"compare_p50_us\":%.1f",
                        run.a.p50_us, run.b.p50_us),
        absl::StrFormat(",\"cpu_us_per_call\":%.2f,\"compare_cpu_us_per_call\":"
                        "%.2f",
                        run.a.cpu_us_per_call, run.b.cpu_us_per_call),
        ",\"errors\":", run.a.errors, ",\"compare_errors\":", run.b.errors,
        "}");
    failed = failed || run.a.calls == 0 || run.b.calls == 0 ||
             (absl::GetFlag(FLAGS_max_errors) >= 0 &&
              run.a.errors + run.b.errors > absl::GetFlag(FLAGS_max_errors));
  }
  json += "]}\n";
  std::cout << json;
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_json_out)) << json;
  }
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A keep-alive connection the server has closed (after its 100 requests)
  // must fail the write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // The load generator shares the host's two cores with the server, so it
  // does not pay for absl::Mutex's deadlock detector (on in Debian's absl
  // build; `perf` put ~1 µs of each get_user call's client CPU in it), as
  // the server does not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::ParseCommandLine(argc, argv);
  const char* key = std::getenv("ROSTER_SECRET_KEY");
  if (key == nullptr) {
    std::cerr << "set ROSTER_SECRET_KEY\n";
    return 64;
  }
  Bench bench(absl::GetFlag(FLAGS_addr), absl::GetFlag(FLAGS_channels), key);
  if (!absl::GetFlag(FLAGS_http_addr).empty()) {
    if (absl::GetFlag(FLAGS_inflight) > 6) {
      // The HTTP listener admits 8 connections per client address, and one
      // it closed (after 100 requests) counts a moment longer while its
      // replacement opens: 6 stay clear of that limit.
      std::cerr << "--http_addr needs --inflight of 6 or fewer\n";
      return 64;
    }
    bench.UseHttp(absl::GetFlag(FLAGS_http_addr),
                  absl::GetFlag(FLAGS_inflight));
  }
  if (!bench.Seed(absl::GetFlag(FLAGS_seed))) {
    return 1;
  }
  const std::vector<std::string> wanted =
      absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipEmpty());
  if (Wanted("sign_in_totp", wanted) && !bench.PrepareTotpUsers()) {
    return 1;
  }
  if (!absl::GetFlag(FLAGS_compare_addr).empty()) {
    return CompareServers(bench, wanted, key);
  }
  const int workers =
      absl::GetFlag(FLAGS_hash_workers) > 0
          ? absl::GetFlag(FLAGS_hash_workers)
          : std::max(1,
                     static_cast<int>(std::thread::hardware_concurrency()) - 1);
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  const int db_pid = absl::GetFlag(FLAGS_db_pid);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);

  // Every round runs the same scenarios, health first, so that each ratio
  // pairs figures measured seconds apart.
  std::vector<std::vector<Result>> measured(static_cast<size_t>(rounds));
  std::vector<double> hash_seconds;  // Per round, timed just before sign_in.
  std::vector<double> sign_in_ratios;
  for (int round = 0; round < rounds; ++round) {
    for (auto& [name, issue] : bench.Scenarios()) {
      if (!Wanted(name, wanted)) {
        continue;
      }
      if (name == "sign_in") {
        hash_seconds.push_back(SettledSecondsPerHash(workers));
      }
      std::cerr << "running " << name
                << (rounds > 1 ? absl::StrCat(" (round ", round + 1, " of ",
                                              rounds, ")")
                               : "")
                << "…\n";
      measured[static_cast<size_t>(round)].push_back(
          Drive(name, issue, absl::GetFlag(FLAGS_inflight), warmup, duration,
                server_pid, db_pid));
      if (name == "sign_in" && hash_seconds.back() > 0) {
        const double capacity = workers / hash_seconds.back();
        sign_in_ratios.push_back(
            measured[static_cast<size_t>(round)].back().qps / capacity);
      }
    }
  }
  const std::vector<Summary> summaries = Summarize(measured);

  std::cout << absl::StrFormat(
      "%-15s %10s %7s %9s %9s %9s %9s %7s %9s%s\n", "scenario", "calls/s",
      "ratio", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "errors", "cpu µs",
      db_pid > 0 ? absl::StrFormat(" %9s", "db µs") : "");
  std::string json =
      absl::StrCat("{\"channels\":", absl::GetFlag(FLAGS_channels),
                   ",\"inflight\":", absl::GetFlag(FLAGS_inflight),
                   ",\"duration_s\":", absl::ToDoubleSeconds(duration),
                   ",\"seed\":", absl::GetFlag(FLAGS_seed),
                   ",\"rounds\":", rounds, ",\"scenarios\":[");
  for (size_t i = 0; i < summaries.size(); ++i) {
    const Result& r = summaries[i].median;
    std::cout << absl::StrFormat(
        "%-15s %10.0f %7.3f %9.0f %9.0f %9.0f %9.0f %7d %9.1f%s\n", r.name,
        r.qps, summaries[i].ratio_to_health, r.p50_us, r.p90_us, r.p99_us,
        r.p999_us, r.errors, r.cpu_us_per_call,
        db_pid > 0 ? absl::StrFormat(" %9.1f", r.db_cpu_us_per_call) : "");
    if (rounds > 1) {
      std::cout << "  ratio per round: "
                << absl::StrJoin(summaries[i].qps_ratios, " ",
                                 [](std::string* out, double v) {
                                   absl::StrAppend(out,
                                                   absl::StrFormat("%.3f", v));
                                 })
                << "\n";
    }
    if (!r.first_error.empty()) {
      std::cout << "  first error: " << r.first_error << "\n";
    }
    absl::StrAppend(&json, i == 0 ? "" : ",",
                    ScenarioJson(summaries[i], measured, i));
  }
  json += "]";
  // The browsers' protocols against gRPC, round by round (DESIGN §12).
  for (const char* over : {"get_me_connect", "get_me_grpc_web"}) {
    std::vector<double> ratios;
    for (const std::vector<Result>& round : measured) {
      double grpc_qps = 0, over_qps = 0;
      for (const Result& r : round) {
        grpc_qps = r.name == "get_me" ? r.qps : grpc_qps;
        over_qps = r.name == over ? r.qps : over_qps;
      }
      if (grpc_qps > 0 && over_qps > 0) {
        ratios.push_back(over_qps / grpc_qps);
      }
    }
    if (!ratios.empty()) {
      std::cout << absl::StrFormat(
          "%s: %.3f of get_me over gRPC (the median of each round's ratio)\n",
          over, Median(ratios));
      absl::StrAppend(&json, ",\"", over,
                      "_ratio\":", absl::StrFormat("%.4f", Median(ratios)));
    }
  }
  for (const Summary& summary : summaries) {
    if (summary.median.name != "sign_in" || hash_seconds.empty()) {
      continue;
    }
    const double per_hash = Median(hash_seconds);
    const double capacity = per_hash > 0 ? workers / per_hash : 0;
    std::cout << absl::StrFormat(
        "sign_in: %.1f/s against a hash pool of %d workers x %.1f ms per hash "
        "= %.1f/s (%.3f, the median of each round's ratio)\n",
        summary.median.qps, workers, per_hash * 1000, capacity,
        Median(sign_in_ratios));
    absl::StrAppend(
        &json, absl::StrFormat(",\"hash_ms\":%.2f", per_hash * 1000),
        ",\"hash_workers\":", workers,
        absl::StrFormat(",\"sign_in_capacity_per_s\":%.1f", capacity),
        absl::StrFormat(",\"sign_in_capacity_ratio\":%.4f",
                        Median(sign_in_ratios)),
        ",\"sign_in_capacity_ratios\":", JsonArray(sign_in_ratios));
  }
  if (absl::GetFlag(FLAGS_overload)) {
    std::map<std::string, Issue> issues;
    for (auto& [name, issue] : bench.Scenarios()) {
      issues[name] = issue;
    }
    const double per_hash = hash_seconds.empty()
                                ? SettledSecondsPerHash(workers)
                                : Median(hash_seconds);
    const double rate = per_hash > 0 ? 2 * workers / per_hash : 100;
    constexpr int kReaders = 8;
    std::cerr << "running get_user alone, then beside sign_in at " << rate
              << "/s…\n";
    const Result alone = Drive("get_user", issues["get_user"], kReaders, warmup,
                               duration, server_pid);
    OpenLoopOutcome offered;
    std::thread flood([&] {
      offered = OfferOpenLoop(issues["sign_in"], rate, warmup + duration);
    });
    const Result beside = Drive("get_user", issues["get_user"], kReaders,
                                warmup, duration, server_pid);
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
  for (const auto& round : measured) {
    for (const Result& r : round) {
      if (max_errors >= 0 && r.errors > max_errors) {
        return 1;
      }
      if (r.calls == 0) {
        return 1;  // A scenario that completed nothing is broken.
      }
    }
  }
  return 0;
}

// A primary failover with nothing lost: two roster-server replicas on a
// PostgreSQL primary with a synchronous streaming standby, reached through a
// multi-host DSN (target_session_attrs=read-write). The primary is killed
// under write load and the standby promoted. Every acknowledged write must be
// on the new primary, the replicas must resume by themselves, the event
// stream must go on with no gap or duplicate, and calls caught in between
// must fail UNAVAILABLE, never with a wrong answer. Runs in the .postgres
// variant; the pair comes from tests/postgres/standby_pair.sh.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tcp.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.
using testing::kTestSecretKey;
using testing::ServerProcess;

constexpr int kReplicaCount = 2;

// What the writers saw: the users whose creation was acknowledged, and every
// other answer by code.
struct WriteLog {
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::map<grpc::StatusCode, int> failures;
  std::string first_failure;
};

// A WatchEvents consumer that resumes from its cursor whenever its stream
// ends, as docs/events.md tells consumers to.
class ResumingConsumer {
 public:
  explicit ResumingConsumer(BackendUsers::Stub& stub)
      : thread_([this, &stub] { Run(stub); }) {}
  ~ResumingConsumer() { Stop(); }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      if (context_ != nullptr) {
        context_->TryCancel();
      }
    }
    stopped_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  std::vector<Event> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // How many times a stream ended and was opened again.
  int Resumes() const { return resumes_; }

 private:
  void Run(BackendUsers::Stub& stub) {
    int64_t cursor = 0;
    while (!stopping_) {
      auto context = testing::Authed();
      context->set_deadline(std::chrono::system_clock::now() +
                            std::chrono::seconds(120));
      {
        std::lock_guard<std::mutex> lock(mu_);
        context_ = context.get();
      }
      WatchEventsRequest request;
      request.set_after_sequence(cursor);
      auto reader = stub.WatchEvents(context.get(), request);
      Event event;
      while (reader->Read(&event)) {
        cursor = event.sequence();
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(event);
      }
      reader->Finish().IgnoreError();
      ++resumes_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        context_ = nullptr;
      }
      // A consumer's backoff before it resumes; Stop ends it at once.
      std::unique_lock<std::mutex> lock(mu_);
      stopped_.wait_for(lock, std::chrono::milliseconds(100),
                        [this] { return stopping_.load(); });
    }
  }

  std::atomic<bool> stopping_{false};
  std::atomic<int> resumes_{0};
  std::mutex mu_;
  std::condition_variable stopped_;
  grpc::ClientContext* context_ = nullptr;
  std::vector<Event> events_;
  std::thread thread_;
};

class PgFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ROSTER_REQUIRE_POSTGRES();
    // PostgreSQL binds the ports it is given, seconds after they were found
    // free (initdb, the base backup): a parallel test may take one first.
    // The script then exits with kPortTaken, and the pair is built again.
    int up = kPortTaken;
    for (int attempt = 0; attempt < 3 && up == kPortTaken; ++attempt) {
      char pattern[] = "/tmp/roster-failover.XXXXXX";
      ASSERT_NE(mkdtemp(pattern), nullptr);
      pair_dir_ = pattern;
      primary_port_ = testing::UnusedPort();
      do {  // Nothing binds the first before the script: it could come twice.
        standby_port_ = testing::UnusedPort();
      } while (standby_port_ == primary_port_ && standby_port_ != 0);
      up = Pair(absl::StrCat("up ", pair_dir_, " ", primary_port_, " ",
                             standby_port_));
      if (up == kPortTaken) {
        Pair(absl::StrCat("down ", pair_dir_));
      }
    }
    ASSERT_EQ(up, 0);
    std::ofstream(dir_.File("signing.key")) << std::string(64, 'b');
  }

  void TearDown() override {
    stubs_.clear();
    replicas_.clear();
    if (!pair_dir_.empty()) {
      Pair(absl::StrCat("down ", pair_dir_));
    }
  }

  // standby_pair.sh's exit status when a port it was given is in use.
  static constexpr int kPortTaken = 75;

  // standby_pair.sh's exit status (-1 if it did not exit).
  static int Pair(const std::string& arguments) {
    const int status =
        std::system(absl::StrCat(ROSTER_STANDBY_PAIR, " ", arguments).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void StartReplicas() {
    const std::string dsn =
        absl::StrCat("postgresql://roster@127.0.0.1:", primary_port_,
                     ",127.0.0.1:", standby_port_,
                     "/postgres?target_session_attrs=read-write");
    for (int i = 0; i < kReplicaCount; ++i) {
      replicas_.push_back(std::make_unique<ServerProcess>(
          dir_, std::vector<std::string>{
                    "--db=" + dsn, "--listen=127.0.0.1:0",
                    absl::StrCat("--secret_keys=", kTestSecretKey),
                    "--log_rpcs=false",
                    "--signing_key_file=" + dir_.File("signing.key")}));
      const int port = replicas_.back()->WaitForPort();
      ASSERT_GT(port, 0) << replicas_.back()->Stderr();
      stubs_.push_back(BackendUsers::NewStub(
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                              grpc::InsecureChannelCredentials())));
    }
  }

  testing::TempDir dir_;
  std::string pair_dir_;
  int primary_port_ = 0;
  int standby_port_ = 0;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
  std::vector<std::unique_ptr<BackendUsers::Stub>> stubs_;
};

TEST_F(PgFailoverTest, APromotedSynchronousStandbyHasEveryAcknowledgedWrite) {
  StartReplicas();
  ResumingConsumer consumer(*stubs_[1]);
  WriteLog log;
  std::atomic<bool> stop_writing{false};
  std::atomic<int> serial{0};
  constexpr int kWriters = 4;
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      BackendUsers::Stub& stub = *stubs_[static_cast<size_t>(w % 2)];
      while (!stop_writing) {
        CreateUserRequest create;
        create.add_email_addresses(
            absl::StrCat("failover", serial++, "@example.com"));
        User user;
        const grpc::Status status =
            stub.CreateUser(testing::Authed().get(), create, &user);
        std::lock_guard<std::mutex> lock(log.mu);
        if (status.ok()) {
          log.acknowledged.insert(user.id());
        } else {
          if (log.failures.empty()) {
            log.first_failure = status.error_message();
          }
          ++log.failures[status.error_code()];
        }
      }
    });
  }
  const auto acknowledged = [&] {
    std::lock_guard<std::mutex> lock(log.mu);
    return log.acknowledged.size();
  };
  ASSERT_TRUE(testing::WaitUntil([&] { return acknowledged() >= 100; },
                                 absl::Seconds(30)));

  ASSERT_EQ(Pair(absl::StrCat("kill-primary ", pair_dir_)), 0);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(Pair(absl::StrCat("promote ", pair_dir_)), 0);
  const auto promoted = std::chrono::steady_clock::now();
  // Each replica writes again by itself: no restart, the same processes.
  std::vector<double> resumed_seconds;
  for (int i = 0; i < kReplicaCount; ++i) {
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          CreateUserRequest probe;
          probe.add_email_addresses(
              absl::StrCat("probe", serial++, "@example.com"));
          User user;
          return stubs_[static_cast<size_t>(i)]
              ->CreateUser(testing::Authed().get(), probe, &user)
              .ok();
        },
        absl::Seconds(30)))
        << "replica " << i << " did not resume:\n"
        << replicas_[static_cast<size_t>(i)]->Stderr();
    resumed_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - killed)
            .count());
  }
  const size_t after_failover = acknowledged();
  ASSERT_TRUE(
      testing::WaitUntil([&] { return acknowledged() >= after_failover + 100; },
                         absl::Seconds(30)));
  stop_writing = true;
  for (auto& t : writers) {
    t.join();
  }
  int unavailable = 0;
  for (const auto& [code, count] : log.failures) {
    unavailable += code == grpc::UNAVAILABLE ? count : 0;
  }
  std::printf(
      "failover: promote took %.2f s; replicas wrote again %.2f and %.2f s "
      "after the kill; %zu writes acknowledged, %d UNAVAILABLE\n",
      std::chrono::duration<double>(promoted - killed).count(),
      resumed_seconds[0], resumed_seconds[1], log.acknowledged.size(),
      unavailable);

  // Calls caught by the failover failed retryably, never with a wrong answer.
  for (const auto& [code, count] : log.failures) {
    EXPECT_EQ(code, grpc::UNAVAILABLE)
        << count << " calls failed with code " << code
        << ", first: " << log.first_failure;
  }
  // Every acknowledged write is on the new primary, through both replicas.
  for (const std::string& id : log.acknowledged) {
    GetUserRequest get;
    get.set_user_id(id);
    User user;
    for (auto& stub : stubs_) {
      const grpc::Status status =
          stub->GetUser(testing::Authed().get(), get, &user);
      ASSERT_TRUE(status.ok())
          << id
          << " was acknowledged and then lost: " << status.error_message();
    }
  }
  // The consumer has every acknowledged creation, each sequence once, in
  // order, with no gap across the failover.
  const auto created = [&] {
    std::set<std::string> seen;
    for (const Event& event : consumer.Events()) {
      if (event.type() == "user.created") {
        seen.insert(event.user_id());
      }
    }
    return std::includes(seen.begin(), seen.end(), log.acknowledged.begin(),
                         log.acknowledged.end());
  };
  EXPECT_TRUE(testing::WaitUntil(created, absl::Seconds(30)))
      << "the event stream is missing acknowledged creations";
  consumer.Stop();
  const std::vector<Event> events = consumer.Events();
  std::printf("failover: the consumer read %zu events and resumed %d times\n",
              events.size(), consumer.Resumes() - 1);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].sequence(), static_cast<int64_t>(i) + 1)
        << "a gap or a duplicate at position " << i;
  }
  for (auto& replica : replicas_) {
    EXPECT_EQ(replica->Stop(SIGTERM), 0) << replica->Stderr();
  }
}

}  // namespace
}  // namespace roster

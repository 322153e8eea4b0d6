// Three roster-server processes on one PostgreSQL database, as three pods
// behind a Kubernetes Service: writes spread across them must keep every
// invariant one process keeps. Runs in the .postgres variant of the suites.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/postgres.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"
#include "tests/testing/watcher.h"

namespace roster {
namespace {

using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.
using testing::kTestSecretKey;
using testing::ReasonOf;
using testing::ServerProcess;

constexpr int kReplicas = 3;

class PgReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ROSTER_REQUIRE_POSTGRES();
    ASSERT_TRUE(database_.postgres())
        << "runs in the .postgres variant (ROSTER_TEST_STORE=postgres)";
    // Written once before any starts: rewriting it per replica truncated
    // the file while an earlier one could be reading it.
    const std::string key_file = KeyFile();
    // Started together: they race to migrate the empty database.
    for (int i = 0; i < kReplicas; ++i) {
      replicas_.push_back(std::make_unique<ServerProcess>(
          dir_, std::vector<std::string>{
                    database_.flag(), "--listen=127.0.0.1:0",
                    absl::StrCat("--secret_keys=", kTestSecretKey),
                    "--log_rpcs=false", "--signing_key_file=" + key_file,
                    // Sign-in races reach the lockout, not the rate limits.
                    "--sign_in_failures_per_identifier=1000",
                    "--sign_in_failures_per_address=1000"}));
    }
    for (auto& replica : replicas_) {
      const int port = replica->WaitForPort();
      ASSERT_GT(port, 0) << replica->Stderr();
      auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                         grpc::InsecureChannelCredentials());
      stubs_.push_back(BackendUsers::NewStub(channel));
      frontends_.push_back(FrontendUsers::NewStub(channel));
    }
  }

  void TearDown() override {
    stubs_.clear();  // Idle channels would slow the graceful drain.
    frontends_.clear();
    for (auto& replica : replicas_) {
      EXPECT_EQ(replica->Stop(SIGTERM), 0) << replica->Stderr();
    }
  }

  // One signing key for all replicas, as a Secret would give them.
  std::string KeyFile() {
    std::string path = dir_.File("signing.key");
    std::ofstream(path) << std::string(64, 'a');
    return path;
  }

  BackendUsers::Stub& Replica(int i) {
    return *stubs_[static_cast<size_t>(i % kReplicas)];
  }
  FrontendUsers::Stub& FrontendReplica(int i) {
    return *frontends_[static_cast<size_t>(i % kReplicas)];
  }

  // Runs `guess(i)` for every i below `guesses` at once and counts how each
  // ended: a wrong password checked, refused as locked, or anything else.
  enum class Guess { kChecked, kLocked, kOther };
  struct GuessCounts {
    int checked = 0;
    int locked = 0;
    int other = 0;
  };
  static GuessCounts GuessAtOnce(int guesses,
                                 const std::function<Guess(int)>& guess) {
    std::atomic<int> checked{0}, locked{0}, other{0};
    std::vector<std::thread> guessers;
    guessers.reserve(static_cast<size_t>(guesses));
    for (int i = 0; i < guesses; ++i) {
      guessers.emplace_back([&, i] {
        switch (guess(i)) {
          case Guess::kChecked:
            ++checked;
            break;
          case Guess::kLocked:
            ++locked;
            break;
          case Guess::kOther:
            ++other;
            break;
        }
      });
    }
    for (auto& t : guessers) {
      t.join();
    }
    return {checked.load(), locked.load(), other.load()};
  }

  testing::TempDir dir_;
  testing::TestDatabase database_{dir_};
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
  std::vector<std::unique_ptr<BackendUsers::Stub>> stubs_;
  std::vector<std::unique_ptr<FrontendUsers::Stub>> frontends_;
};

TEST_F(PgReplicasTest, EveryReplicaServesTheSameUsers) {
  CreateUserRequest create;
  create.add_email_addresses("everywhere@example.com");
  User created;
  ASSERT_TRUE(
      Replica(0).CreateUser(testing::Authed().get(), create, &created).ok());
  for (int i = 0; i < kReplicas; ++i) {
    GetUserRequest get;
    get.set_user_id(created.id());
    User read;
    ASSERT_TRUE(Replica(i).GetUser(testing::Authed().get(), get, &read).ok())
        << i;
    EXPECT_EQ(read.email_addresses(0).email_address(),
              "everywhere@example.com");
  }
}

TEST_F(PgReplicasTest, RacingCreatesOfOneEmailLeaveExactlyOneOwner) {
  constexpr int kEmails = 10, kRacers = 6;
  std::map<std::string, int> created, clashed, other;
  std::mutex mu;
  std::vector<std::thread> racers;
  racers.reserve(kRacers);
  for (int r = 0; r < kRacers; ++r) {
    racers.emplace_back([&, r] {
      for (int e = 0; e < kEmails; ++e) {
        const std::string email = absl::StrCat("race", e, "@example.com");
        CreateUserRequest create;
        create.add_email_addresses(email);
        User user;
        const grpc::Status status =
            Replica(r).CreateUser(testing::Authed().get(), create, &user);
        std::lock_guard<std::mutex> lock(mu);
        if (status.ok()) {
          ++created[email];
        } else if (status.error_code() == grpc::ALREADY_EXISTS &&
                   ReasonOf(status) == "IDENTIFIER_EXISTS") {
          ++clashed[email];
        } else {
          ++other[absl::StrCat(status.error_code(), " ",
                               status.error_message())];
        }
      }
    });
  }
  for (auto& t : racers) {
    t.join();
  }
  EXPECT_TRUE(other.empty()) << other.begin()->first;
  for (int e = 0; e < kEmails; ++e) {
    const std::string email = absl::StrCat("race", e, "@example.com");
    EXPECT_EQ(created[email], 1) << email;
    EXPECT_EQ(clashed[email], kRacers - 1) << email;
  }
  ListUsersRequest list;
  list.add_email_addresses("race0@example.com");
  ListUsersResponse users;
  ASSERT_TRUE(Replica(1).ListUsers(testing::Authed().get(), list, &users).ok());
  EXPECT_EQ(users.total_count(), 1);
}

TEST_F(PgReplicasTest,
       ParallelWrongPasswordsOnAllReplicasLockAtExactlyTheLimit) {
  CreateUserRequest create;
  create.set_password("tr0ub4dor&3-staple");
  User user;
  ASSERT_TRUE(
      Replica(0).CreateUser(testing::Authed().get(), create, &user).ok());
  constexpr int kGuesses = 24;  // The limit is 10.
  const GuessCounts counts = GuessAtOnce(kGuesses, [&](int i) {
    VerifyPasswordRequest verify;
    verify.set_user_id(user.id());
    verify.set_password(absl::StrCat("guess ", i));
    VerifyPasswordResponse response;
    const grpc::Status status =
        Replica(i).VerifyPassword(testing::Authed().get(), verify, &response);
    if (status.ok() && !response.verified()) {
      return Guess::kChecked;
    }
    return status.error_code() == grpc::PERMISSION_DENIED &&
                   ReasonOf(status) == "USER_LOCKED"
               ? Guess::kLocked
               : Guess::kOther;
  });
  EXPECT_EQ(counts.checked, 10);
  EXPECT_EQ(counts.locked, kGuesses - 10);
  EXPECT_EQ(counts.other, 0);
  for (int i = 0; i < kReplicas; ++i) {
    GetUserRequest get;
    get.set_user_id(user.id());
    User read;
    ASSERT_TRUE(Replica(i).GetUser(testing::Authed().get(), get, &read).ok());
    EXPECT_TRUE(read.locked()) << i;
    EXPECT_EQ(read.verification_attempts_remaining(), 0) << i;
  }
}

// An identifier no user holds is counted as exactly as a user (no lost
// update between replicas), or racing guesses would tell the two apart.
TEST_F(PgReplicasTest,
       ParallelSignInsAtAnUnknownIdentifierLockAtExactlyTheLimit) {
  constexpr int kGuesses = 24;  // The limit is 10.
  const GuessCounts counts = GuessAtOnce(kGuesses, [&](int i) {
    SignInRequest sign_in;
    sign_in.set_identifier("nobody@example.com");
    sign_in.set_password(absl::StrCat("guess ", i));
    SignInResponse response;
    grpc::ClientContext context;
    const std::string reason =
        ReasonOf(FrontendReplica(i).SignIn(&context, sign_in, &response));
    return reason == "PASSWORD_INCORRECT" ? Guess::kChecked
           : reason == "USER_LOCKED"      ? Guess::kLocked
                                          : Guess::kOther;
  });
  EXPECT_EQ(counts.checked, 10);
  EXPECT_EQ(counts.locked, kGuesses - 10);
  EXPECT_EQ(counts.other, 0);
}

TEST_F(PgReplicasTest, AWatcherOnOneReplicaSeesEveryReplicasEventsInOrder) {
  testing::Watcher watcher(Replica(0), /*after_sequence=*/0);
  constexpr int kWriters = 6, kPerWriter = 15;
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        CreateUserRequest create;
        create.add_email_addresses(absl::StrCat("w", w, "i", i, "@ex.com"));
        User user;
        EXPECT_TRUE(
            Replica(w).CreateUser(testing::Authed().get(), create, &user).ok());
        UpdateUserMetadataRequest merge;
        merge.set_user_id(user.id());
        (*merge.mutable_public_metadata()->mutable_fields())["n"]
            .set_number_value(i);
        EXPECT_TRUE(
            Replica(w + 1)
                .UpdateUserMetadata(testing::Authed().get(), merge, &user)
                .ok());
      }
    });
  }
  for (auto& t : writers) {
    t.join();
  }
  constexpr int kEvents = kWriters * kPerWriter * 2;
  const std::vector<Event> events = watcher.Next(kEvents);
  ASSERT_EQ(static_cast<int>(events.size()), kEvents);
  std::map<std::string, int> created_by_type;
  for (size_t i = 0; i < events.size(); ++i) {
    // Every sequence, once, in order: nothing from replicas 1 and 2 missed.
    EXPECT_EQ(events[i].sequence(), static_cast<int64_t>(i) + 1);
    ++created_by_type[events[i].type()];
  }
  EXPECT_EQ(created_by_type["user.created"], kWriters * kPerWriter);
  EXPECT_EQ(created_by_type["user.updated"], kWriters * kPerWriter);
  // Each user's update comes after its creation.
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string& id = events[i].user_id();
    if (events[i].type() == "user.created") {
      position[id] = i;
    } else {
      ASSERT_TRUE(position.count(id) > 0) << "update before create of " << id;
    }
  }
}

// A replica cut off from its database: calls fail UNAVAILABLE (retryable,
// never INTERNAL), readiness turns NOT_SERVING so Kubernetes routes around it,
// and both recover by themselves once the database is back.
TEST(PgOutageTest,
     AnUnreachableDatabaseIsUnavailableAndNotServingUntilItReturns) {
  ROSTER_REQUIRE_POSTGRES();
  testing::TestServer server;
  ASSERT_TRUE(server.database().postgres())
      << "runs in the .postgres variant (ROSTER_TEST_STORE=postgres)";
  auto stub = server.Backend();
  auto health = grpc::health::v1::Health::NewStub(server.channel());
  auto status_of_backend = [&] {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("roster.v1.BackendUsers");
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(health->Check(&context, request, &response).ok());
    return response.status();
  };
  auto await_status =
      [&](grpc::health::v1::HealthCheckResponse::ServingStatus want) {
        return testing::WaitUntil([&] { return status_of_backend() == want; },
                                  absl::Seconds(10));
      };
  CreateUserRequest create;
  create.add_email_addresses("outage@example.com");
  User user;
  ASSERT_TRUE(stub->CreateUser(testing::Authed().get(), create, &user).ok());
  ASSERT_EQ(status_of_backend(),
            grpc::health::v1::HealthCheckResponse::SERVING);

  const std::string& dsn = server.db_path();
  const std::string name = dsn.substr(dsn.rfind('/') + 1);
  ASSERT_EQ(testing::PgCommand(
                testing::PostgresAdminDsn(),
                absl::StrCat("ALTER DATABASE ", name,
                             " ALLOW_CONNECTIONS false; SELECT "
                             "pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = '",
                             name, "'")),
            "");
  GetUserRequest get;
  get.set_user_id(user.id());
  for (int i = 0; i < 3; ++i) {
    const grpc::Status status =
        stub->GetUser(testing::Authed().get(), get, &user);
    EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE) << status.error_message();
  }
  EXPECT_TRUE(await_status(grpc::health::v1::HealthCheckResponse::NOT_SERVING));

  ASSERT_EQ(testing::PgCommand(testing::PostgresAdminDsn(),
                               absl::StrCat("ALTER DATABASE ", name,
                                            " ALLOW_CONNECTIONS true")),
            "");
  EXPECT_TRUE(await_status(grpc::health::v1::HealthCheckResponse::SERVING));
  EXPECT_TRUE(stub->GetUser(testing::Authed().get(), get, &user).ok());
}

// Sends call `i` of a flood over `channel`; `done` gets its status.
using FloodCall =
    std::function<void(int i, const std::shared_ptr<grpc::Channel>& channel,
                       std::function<void(grpc::Status)> done)>;

// DESIGN §14 on PostgreSQL: a backend GetUser or ListUsers and a frontend
// GetMe wait for the database outside any executor (UserStore::GetUserAsync,
// ListUsersAsync, GetSessionAndUserAsync), so the server counts those calls
// itself. With
// every read stalled behind a lock, 4,096 wait and the rest are refused at
// once with OVERLOADED; once the lock goes, every waiting call is answered and
// `call` works again.
void ExpectWaitingCallsBoundedWhileTheDatabaseStalls(
    testing::TestServer& server, const FloodCall& call) {
  // One statement holds the lock (a DO block is one transaction) until the
  // test adds a row to stall_released.
  const std::string dsn = server.db_path();
  ASSERT_EQ(testing::PgCommand(dsn, "CREATE TABLE stall_released (x int)"), "");
  std::thread stall([&] {
    EXPECT_EQ(testing::PgCommand(
                  dsn,
                  "DO $$ BEGIN LOCK TABLE users IN ACCESS EXCLUSIVE MODE; "
                  "WHILE NOT EXISTS (SELECT 1 FROM stall_released) LOOP "
                  "PERFORM pg_sleep(0.02); END LOOP; END $$"),
              "");
  });
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return testing::PgScalar(
                   dsn,
                   "SELECT count(*) FROM pg_locks l JOIN pg_class c ON "
                   "c.oid = l.relation WHERE c.relname = 'users' AND "
                   "l.mode = 'AccessExclusiveLock' AND l.granted") == "1";
      },
      absl::Seconds(10)));

  // 100 streams per connection: enough connections for every call at once.
  constexpr int kAdmitted = 4096;
  constexpr int kBeyond = 400;
  constexpr int kCalls = kAdmitted + kBeyond;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < 50; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("roster.test.connection", i);
    channels.push_back(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server.server().port()),
        grpc::InsecureChannelCredentials(), args));
  }
  absl::Mutex mu;
  std::map<grpc::StatusCode, int> codes;  // Every answer, by code.
  int overloaded = 0;  // RESOURCE_EXHAUSTED with reason OVERLOADED.
  int answered = 0;
  const absl::Time started = absl::Now();
  for (int i = 0; i < kCalls; ++i) {
    call(i, channels[static_cast<size_t>(i) % channels.size()],
         [&](const grpc::Status& status) {
           absl::MutexLock lock(&mu);
           ++codes[status.error_code()];
           if (status.error_code() == grpc::RESOURCE_EXHAUSTED &&
               ReasonOf(status) == "OVERLOADED") {
             ++overloaded;
           }
           ++answered;
         });
  }
  const auto answered_at_least = [&](int n) {
    return [&mu, &answered, n] {
      absl::MutexLock lock(&mu);
      return answered >= n;
    };
  };
  EXPECT_TRUE(
      testing::WaitUntil(answered_at_least(kBeyond), absl::Seconds(30)));
  const absl::Duration sending = absl::Now() - started;
  {
    absl::MutexLock lock(&mu);
    // The server's lock_timeout (5 s) fails a stalled batch with UNAVAILABLE
    // and frees its calls' places for later arrivals: only then may fewer
    // than kBeyond be refused.
    const int timed_out = codes[grpc::UNAVAILABLE];
    EXPECT_GE(overloaded + timed_out, kBeyond) << "after " << sending;
    EXPECT_GT(overloaded, 0);
    if (timed_out == 0) {
      EXPECT_EQ(overloaded, kBeyond) << "after " << sending;
    }
    EXPECT_EQ(codes[grpc::OK], 0) << "a read answered while the table was "
                                     "locked";
  }

  ASSERT_EQ(testing::PgCommand(dsn, "INSERT INTO stall_released VALUES (1)"),
            "");
  stall.join();
  EXPECT_TRUE(testing::WaitUntil(answered_at_least(kCalls), absl::Seconds(60)));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(codes[grpc::OK] + codes[grpc::RESOURCE_EXHAUSTED] +
                codes[grpc::UNAVAILABLE],
            kCalls);
  EXPECT_EQ(codes[grpc::RESOURCE_EXHAUSTED], overloaded);
  EXPECT_GT(codes[grpc::OK], 0);
}

// A user made through the backend, for the flood to read.
User StalledUser(testing::TestServer& server) {
  CreateUserRequest create;
  create.add_email_addresses("stalled@example.com");
  User user;
  EXPECT_TRUE(server.Backend()
                  ->CreateUser(testing::Authed().get(), create, &user)
                  .ok());
  return user;
}

TEST(PgOverloadTest, WaitingGetUserCallsAreBoundedWhileTheDatabaseStalls) {
  ROSTER_REQUIRE_POSTGRES();
  testing::TestServer server;
  ASSERT_TRUE(server.database().postgres())
      << "runs in the .postgres variant (ROSTER_TEST_STORE=postgres)";
  const User user = StalledUser(server);
  GetUserRequest get;
  get.set_user_id(user.id());
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<User> responses(5000);
  ExpectWaitingCallsBoundedWhileTheDatabaseStalls(
      server, [&](int i, const std::shared_ptr<grpc::Channel>& channel,
                  std::function<void(grpc::Status)> done) {
        contexts.push_back(testing::Authed());
        BackendUsers::NewStub(channel)->async()->GetUser(
            contexts.back().get(), &get, &responses.at(static_cast<size_t>(i)),
            std::move(done));
      });
  User again;
  EXPECT_TRUE(
      server.Backend()->GetUser(testing::Authed().get(), get, &again).ok());
  EXPECT_EQ(again.id(), user.id());
}

TEST(PgOverloadTest, WaitingListUsersCallsAreBoundedWhileTheDatabaseStalls) {
  ROSTER_REQUIRE_POSTGRES();
  testing::TestServer server;
  ASSERT_TRUE(server.database().postgres())
      << "runs in the .postgres variant (ROSTER_TEST_STORE=postgres)";
  const User user = StalledUser(server);
  ListUsersRequest list;
  list.add_email_addresses("stalled@example.com");
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<ListUsersResponse> responses(5000);
  ExpectWaitingCallsBoundedWhileTheDatabaseStalls(
      server, [&](int i, const std::shared_ptr<grpc::Channel>& channel,
                  std::function<void(grpc::Status)> done) {
        contexts.push_back(testing::Authed());
        BackendUsers::NewStub(channel)->async()->ListUsers(
            contexts.back().get(), &list, &responses.at(static_cast<size_t>(i)),
            std::move(done));
      });
  ListUsersResponse again;
  EXPECT_TRUE(
      server.Backend()->ListUsers(testing::Authed().get(), list, &again).ok());
  ASSERT_EQ(again.users_size(), 1);
  EXPECT_EQ(again.users(0).id(), user.id());
}

TEST(PgOverloadTest, WaitingGetMeCallsAreBoundedWhileTheDatabaseStalls) {
  ROSTER_REQUIRE_POSTGRES();
  testing::TestServer server;
  ASSERT_TRUE(server.database().postgres())
      << "runs in the .postgres variant (ROSTER_TEST_STORE=postgres)";
  const User user = StalledUser(server);
  const std::string token =
      testing::NewSessionToken(*server.Backend(), user.id());
  GetMeRequest get;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<FrontendUser> responses(5000);
  ExpectWaitingCallsBoundedWhileTheDatabaseStalls(
      server, [&](int i, const std::shared_ptr<grpc::Channel>& channel,
                  std::function<void(grpc::Status)> done) {
        contexts.push_back(testing::WithToken(token));
        FrontendUsers::NewStub(channel)->async()->GetMe(
            contexts.back().get(), &get, &responses.at(static_cast<size_t>(i)),
            std::move(done));
      });
  FrontendUser again;
  EXPECT_TRUE(FrontendUsers::NewStub(server.channel())
                  ->GetMe(testing::WithToken(token).get(), get, &again)
                  .ok());
  EXPECT_EQ(again.id(), user.id());
}

}  // namespace
}  // namespace roster

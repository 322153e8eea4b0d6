// Crash durability: the real binary takes concurrent creates and metadata
// merges from several clients and is killed with SIGKILL at a random moment,
// round after round. After each kill the database must pass
// PRAGMA integrity_check, every write the server acknowledged must be there
// (with its event in the stream), and nothing may be half-applied.
//
// 3 rounds in `make test`; ROSTER_CRASH_ROUNDS=20 (make test-long) for more.
// A kill in the middle of a password check must leave a lockout that runs
// out, not an attempt counted forever.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::roster::testing::ServerProcess;
using ::roster::testing::TempDir;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

constexpr char kKey[] = "sk_crash_0123456789abcdefghijklmnopqrstuvwxyz";

// Every server on one PostgreSQL database must sign with the same key, so the
// server requires one there; a fixed seed serves both stores.
std::string SigningKeyFlag(const TempDir& dir) {
  const std::string path = dir.File("signing.key");
  std::ofstream(path) << std::string(64, 'a');
  return "--signing_key_file=" + path;
}

std::unique_ptr<grpc::ClientContext> Call() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", std::string("Bearer ") + kKey);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
  return context;
}

// What the clients were told succeeded.
struct Acknowledged {
  std::mutex mu;
  std::map<std::string, std::string> users;  // id -> email
  std::map<std::string, int> counters;       // id -> last acknowledged merge
  int64_t writes = 0;
};

int Rounds() {
  const char* rounds = std::getenv("ROSTER_CRASH_ROUNDS");
  return rounds == nullptr ? 3 : std::max(1, std::atoi(rounds));
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  TempDir dir;
  const testing::TestDatabase database(dir);
  Acknowledged acked;
  std::mt19937 rng(std::random_device{}());
  int64_t verified_writes = 0;
  for (int round = 0; round < Rounds(); ++round) {
    ServerProcess server(
        dir, {database.flag(), SigningKeyFlag(dir), "--listen=127.0.0.1:0",
              absl::StrCat("--secret_keys=", kKey), "--log_rpcs=false"});
    const int port = server.WaitForPort();
    ASSERT_NE(port, 0) << server.Stderr();
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    clients.reserve(4);
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        auto stub = BackendUsers::NewStub(channel);
        std::string last_user;
        int counter = 0;
        for (int i = 0; !stop; ++i) {
          if (i % 2 == 0 || last_user.empty()) {
            CreateUserRequest create;
            const std::string email =
                absl::StrCat("r", round, "t", t, "i", i, "@crash.example");
            create.add_email_addresses(email);
            (*create.mutable_public_metadata()->mutable_fields())["round"]
                .set_number_value(round);
            User user;
            if (stub->CreateUser(Call().get(), create, &user).ok()) {
              std::lock_guard<std::mutex> lock(acked.mu);
              acked.users[user.id()] = email;
              ++acked.writes;
              last_user = user.id();
            }
          } else {
            UpdateUserMetadataRequest merge;
            merge.set_user_id(last_user);
            (*merge.mutable_private_metadata()->mutable_fields())["counter"]
                .set_number_value(++counter);
            User user;
            if (stub->UpdateUserMetadata(Call().get(), merge, &user).ok()) {
              std::lock_guard<std::mutex> lock(acked.mu);
              acked.counters[last_user] = counter;
              ++acked.writes;
            }
          }
        }
      });
    }
    // Killed at a random point of the load: after 20-200 more acknowledged
    // writes, whatever this machine's speed.
    const auto acknowledged = [&acked] {
      std::lock_guard<std::mutex> lock(acked.mu);
      return acked.writes;
    };
    const int64_t kill_after =
        acknowledged() + std::uniform_int_distribution<int>(20, 200)(rng);
    EXPECT_TRUE(testing::WaitUntil([&] { return acknowledged() >= kill_after; },
                                   absl::Seconds(20)));
    EXPECT_EQ(server.Stop(SIGKILL), -1) << "the server was killed mid-load";
    stop = true;
    for (auto& c : clients) {
      c.join();
    }

    // The database as the crash left it: consistent, every acknowledged
    // write present, nothing half-applied.
    if (!database.postgres()) {
      SQLite::Database db(dir.File("roster.db"), SQLite::OPEN_READONLY);
      EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
    }
    std::lock_guard<std::mutex> lock(acked.mu);
    for (const auto& [id, email] : acked.users) {
      // Ids and addresses here are [a-z0-9_@.]: safe as SQL literals.
      EXPECT_EQ(database.Int(absl::StrCat(
                    "SELECT COUNT(*) FROM email_addresses WHERE user_id = '",
                    id, "' AND email_address = '", email, "'")),
                1)
          << "lost user " << id;
      EXPECT_EQ(database.Int(absl::StrCat(
                    "SELECT COUNT(*) FROM events WHERE user_id = '", id,
                    "' AND type = 'user.created'")),
                1)
          << "lost event of " << id;
    }
    const std::string counter_of =
        database.postgres()
            ? "CAST(CAST(private_metadata AS jsonb) ->> 'counter' AS float8)"
            : "json_extract(private_metadata, '$.counter')";
    for (const auto& [id, counter] : acked.counters) {
      // A merge sent but not acknowledged may have committed too: at least.
      EXPECT_GE(database.Int(absl::StrCat("SELECT CAST(", counter_of,
                                          " AS BIGINT) FROM users WHERE id = '",
                                          id, "'")),
                counter)
          << id;
    }
    // No half-applied create: every user has its address and its event.
    EXPECT_EQ(database.Int("SELECT COUNT(*) FROM users u WHERE NOT EXISTS "
                           "(SELECT 1 FROM email_addresses e WHERE "
                           "e.user_id = u.id) OR NOT EXISTS (SELECT 1 FROM "
                           "events v WHERE v.user_id = u.id AND v.type = "
                           "'user.created')"),
              0);
    // Sequences stay gap-free across the crash.
    EXPECT_EQ(database.Int("SELECT COUNT(*) FROM events"),
              database.Int("SELECT MAX(sequence) FROM events"));
    verified_writes = acked.writes;
  }
  EXPECT_GT(verified_writes, 0);
  std::cout << Rounds() << " SIGKILL rounds, " << verified_writes
            << " acknowledged writes verified\n";
}

TEST(CrashTest, SigtermUnderLoadDrainsAndLosesNothing) {
  TempDir dir;
  const testing::TestDatabase database(dir);
  ServerProcess server(
      dir, {database.flag(), SigningKeyFlag(dir), "--listen=127.0.0.1:0",
            absl::StrCat("--secret_keys=", kKey), "--log_rpcs=false"});
  const int port = server.WaitForPort();
  ASSERT_NE(port, 0) << server.Stderr();
  std::mutex mu;
  std::set<std::string> acked;
  std::map<std::string, int> unexpected;  // Status code name -> count.
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  clients.reserve(4);
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto stub = BackendUsers::NewStub(
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                              grpc::InsecureChannelCredentials()));
      for (int i = 0; !stop; ++i) {
        CreateUserRequest create;
        create.add_email_addresses(
            absl::StrCat("t", t, "i", i, "@drain.example"));
        User user;
        const grpc::Status status =
            stub->CreateUser(Call().get(), create, &user);
        std::lock_guard<std::mutex> lock(mu);
        if (status.ok()) {
          acked.insert(user.id());
        } else if (status.error_code() != grpc::UNAVAILABLE &&
                   status.error_code() != grpc::CANCELLED) {
          // UNAVAILABLE: refused after shutdown began; CANCELLED: gRPC
          // cancels a call that arrived but had not started when the
          // server stopped accepting. Both are unacknowledged and retryable.
          ++unexpected[absl::StrCat(status.error_code(), " ",
                                    status.error_message())];
        }
      }
    });
  }
  // SIGTERM under load: once 100 creates were acknowledged.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acked.size() >= 100;
      },
      absl::Seconds(20)));
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Stderr();
  stop = true;
  for (auto& c : clients) {
    c.join();
  }
  // Refused calls are UNAVAILABLE or CANCELLED (retryable); nothing else
  // goes wrong.
  EXPECT_TRUE(unexpected.empty()) << unexpected.begin()->first;
  if (!database.postgres()) {
    SQLite::Database db(dir.File("roster.db"), SQLite::OPEN_READONLY);
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  }
  for (const auto& id : acked) {
    EXPECT_EQ(database.Int(absl::StrCat(
                  "SELECT COUNT(*) FROM users WHERE id = '", id, "'")),
              1)
        << "lost " << id;
  }
  EXPECT_GT(acked.size(), 0u);
}

// An argon2id digest slow enough (128 MiB, 4 passes) that a kill lands
// mid-check.
std::string SlowDigest(const std::string& password) {
  char digest[crypto_pwhash_STRBYTES];
  EXPECT_EQ(crypto_pwhash_str_alg(digest, password.data(), password.size(),
                                  /*opslimit=*/4, size_t{128} << 20,
                                  crypto_pwhash_ALG_ARGON2ID13),
            0);
  return digest;
}

TEST(CrashTest, AKillMidPasswordCheckLeavesALockoutThatRunsOut) {
  ASSERT_GE(sodium_init(), 0);
  TempDir dir;
  const testing::TestDatabase database(dir);
  // One attempt: the check in flight holds it when the server dies.
  const std::vector<std::string> flags = {
      database.flag(),        SigningKeyFlag(dir),
      "--listen=127.0.0.1:0", absl::StrCat("--secret_keys=", kKey),
      "--log_rpcs=false",     "--lockout_attempts=1",
      "--lockout_duration=4s"};
  std::string user_id;
  {
    ServerProcess server(dir, flags);
    const int port = server.WaitForPort();
    ASSERT_NE(port, 0) << server.Stderr();
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    auto backend = BackendUsers::NewStub(channel);
    CreateUserRequest create;
    create.add_email_addresses("slow@crash.example");
    create.set_password_digest(SlowDigest("the right one"));
    create.set_password_hasher("argon2id");
    User user;
    ASSERT_TRUE(backend->CreateUser(Call().get(), create, &user).ok());
    user_id = user.id();
    std::thread guess([&] {
      SignInRequest sign_in;
      sign_in.set_identifier("slow@crash.example");
      sign_in.set_password("a wrong one");
      grpc::ClientContext context;
      SignInResponse response;
      (void)FrontendUsers::NewStub(channel)->SignIn(&context, sign_in,
                                                    &response);
    });
    // The reservation is written before the slow check: kill once it shows.
    GetUserRequest get;
    get.set_user_id(user_id);
    User seen;
    const bool reserved = testing::WaitUntil(
        [&] {
          return backend->GetUser(Call().get(), get, &seen).ok() &&
                 seen.verification_attempts_remaining() == 0;
        },
        absl::Seconds(5));
    ASSERT_TRUE(reserved);
    EXPECT_TRUE(seen.locked()) << "the last attempt is a lockout while checked";
    EXPECT_EQ(server.Stop(SIGKILL), -1);
    guess.join();
  }
  ServerProcess server(dir, flags);
  const int port = server.WaitForPort();
  ASSERT_NE(port, 0) << server.Stderr();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto backend = BackendUsers::NewStub(channel);
  GetUserRequest get;
  get.set_user_id(user_id);
  User after_restart;
  ASSERT_TRUE(backend->GetUser(Call().get(), get, &after_restart).ok());
  EXPECT_TRUE(after_restart.locked());
  EXPECT_GT(after_restart.lockout_expires_in_seconds(), 0);
  // The lockout runs out, and the right password signs in.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        User seen;
        return backend->GetUser(Call().get(), get, &seen).ok() &&
               !seen.locked();
      },
      absl::Seconds(20)));
  SignInRequest sign_in;
  sign_in.set_identifier("slow@crash.example");
  sign_in.set_password("the right one");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  SignInResponse response;
  const grpc::Status signed_in =
      FrontendUsers::NewStub(channel)->SignIn(&context, sign_in, &response);
  EXPECT_TRUE(signed_in.ok()) << signed_in.error_message();
}

}  // namespace
}  // namespace roster

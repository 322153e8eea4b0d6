// Faults from the world around the server: a full disk that later has space
// again, a file system that turns read-only, a database directory that
// vanishes, a database locked by another process, clients that vanish in the
// middle of a stream, and deadlines that pass. Each must give a clean,
// retryable error (never INTERNAL, never a half-applied write), keep every
// acknowledged write, and serve again once the fault is gone.
//
// The disk faults use a real tmpfs mounted for the test, which needs root (or
// CAP_SYS_ADMIN); without it those tests are skipped with a printed reason.
#include <SQLiteCpp/Database.h>
#include <errno.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "tests/testing/binaries.h"
#include "tests/testing/require.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace roster::v1;  // NOLINT: the API under test.

// A tmpfs of `megabytes` on a fresh directory, unmounted when destroyed.
class SmallFilesystem {
 public:
  explicit SmallFilesystem(int megabytes)
      : options_(absl::StrCat("size=", megabytes, "m")) {
    if (mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, options_.c_str()) !=
        0) {
      error_ = std::strerror(errno);
    }
  }
  ~SmallFilesystem() {
    if (error_.empty()) {
      umount2(dir_.path().c_str(), MNT_DETACH);
    }
  }
  // Empty when mounted; otherwise why not.
  const std::string& error() const { return error_; }
  std::string File(const std::string& name) const { return dir_.File(name); }

  void SetReadOnly(bool read_only) {
    ASSERT_EQ(mount(nullptr, dir_.path().c_str(), nullptr,
                    MS_REMOUNT | (read_only ? MS_RDONLY : 0), options_.c_str()),
              0)
        << std::strerror(errno);
  }

  // Fills the remaining space with one file; returns its path.
  std::string Fill() {
    std::string path = File("ballast");
    std::ofstream out(path, std::ios::binary);
    const std::string chunk(4096, 'b');
    while (
        out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) {
      out.flush();
    }
    return path;
  }

 private:
  TempDir dir_;
  const std::string options_;
  std::string error_;
};

// Skips, or fails under CI, when the tmpfs could not be mounted.
#define SKIP_WITHOUT_MOUNT(fs)                             \
  ROSTER_REQUIRE(                                          \
      (fs).error().empty()                                 \
          ? std::string()                                  \
          : "cannot mount a tmpfs here (" + (fs).error() + \
                "): the disk-fault tests need root or CAP_SYS_ADMIN")

// A retryable storage failure as a client must see it: the right code, and a
// message that names neither SQL nor a file path.
void ExpectCleanStorageError(const grpc::Status& status,
                             const std::vector<grpc::StatusCode>& codes) {
  EXPECT_THAT(codes, ::testing::Contains(status.error_code()))
      << status.error_code() << ": " << status.error_message();
  EXPECT_THAT(status.error_message(), Not(HasSubstr("roster.db")));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("INSERT")));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("UPDATE")));
}

std::string IntegrityOf(const std::string& db_path) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  return db.execAndGet("PRAGMA integrity_check").getString();
}

grpc::Status Create(BackendUsers::Stub& stub, const std::string& email,
                    User* user) {
  CreateUserRequest request;
  request.set_first_name("Fault");
  request.add_email_addresses(email);
  (*request.mutable_public_metadata()->mutable_fields())["padding"]
      .set_string_value(std::string(2000, 'p'));
  return stub.CreateUser(Authed().get(), request, user);
}

int UsersWithEmail(BackendUsers::Stub& stub, const std::string& email) {
  ListUsersRequest request;
  request.add_email_addresses(email);
  ListUsersResponse response;
  auto status = stub.ListUsers(Authed().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.users_size();
}

TEST(DiskFaultsTest, FullDiskRefusesWritesCleanlyAndResumesWhenSpaceReturns) {
  SmallFilesystem fs(8);
  SKIP_WITHOUT_MOUNT(fs);
  const std::string db_path = fs.File("roster.db");
  TestServer server([&](app::ServerConfig& c) { c.db_path = db_path; });
  auto stub = server.Backend();
  std::vector<std::string> acknowledged;
  User user;
  ASSERT_TRUE(Create(*stub, "before@example.com", &user).ok());
  acknowledged.push_back(user.id());

  const std::string ballast = fs.Fill();
  grpc::Status refused;
  std::string refused_email;
  for (int i = 0; i < 2000 && refused.ok(); ++i) {
    refused_email = absl::StrCat("full", i, "@example.com");
    refused = Create(*stub, refused_email, &user);
    if (refused.ok()) {
      acknowledged.push_back(user.id());
    }
  }
  ASSERT_FALSE(refused.ok()) << "the disk never filled";
  std::cout << "disk full after " << acknowledged.size()
            << " acknowledged creates: " << refused.error_code() << " "
            << refused.error_message() << "\n";
  ExpectCleanStorageError(refused, {grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    grpc::StatusCode::UNAVAILABLE});
  // More writes while full fail the same way; reads keep working.
  for (int i = 0; i < 5; ++i) {
    ExpectCleanStorageError(
        Create(*stub, "again@example.com", &user),
        {grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::UNAVAILABLE});
  }
  for (const auto& id : acknowledged) {
    GetUserRequest get;
    get.set_user_id(id);
    EXPECT_TRUE(stub->GetUser(Authed().get(), get, &user).ok()) << id;
  }

  std::filesystem::remove(ballast);
  ASSERT_TRUE(Create(*stub, "after@example.com", &user).ok());
  acknowledged.push_back(user.id());
  // Nothing refused was half-applied.
  EXPECT_EQ(UsersWithEmail(*stub, refused_email), 0);
  EXPECT_EQ(UsersWithEmail(*stub, "again@example.com"), 0);

  stub.reset();
  server.Restart();
  stub = server.Backend();
  for (const auto& id : acknowledged) {
    GetUserRequest get;
    get.set_user_id(id);
    EXPECT_TRUE(stub->GetUser(Authed().get(), get, &user).ok()) << id;
  }
  EXPECT_EQ(IntegrityOf(db_path), "ok");
}

// Linux refuses to remount a file system read-only while a file on it is
// open for writing (EBUSY), so a running server cannot see its directory turn
// read-only; a restart onto one can.
TEST(DiskFaultsTest, ReadOnlyFileSystemIsRefusedAtStartAndDataKept) {
  SmallFilesystem fs(16);
  SKIP_WITHOUT_MOUNT(fs);
  const std::string db_path = fs.File("roster.db");
  app::ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.db_path = db_path;
  config.secret_keys = {testing::kTestSecretKey};
  std::string id;
  {
    auto server = app::RosterServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = BackendUsers::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                            grpc::InsecureChannelCredentials()));
    User user;
    ASSERT_TRUE(Create(*stub, "kept@example.com", &user).ok());
    id = user.id();
    stub.reset();
    (*server)->Shutdown(absl::Seconds(5));
  }
  fs.SetReadOnly(true);
  // The binary, as an operator starts it, says why and exits 2.
  TempDir work;
  testing::ServerProcess refused(
      work, {"--db=" + db_path, "--listen=127.0.0.1:0",
             absl::StrCat("--secret_keys=", testing::kTestSecretKey)});
  EXPECT_EQ(refused.Stop(0), 2);
  EXPECT_THAT(refused.Stderr(), HasSubstr("is not writable"));

  fs.SetReadOnly(false);
  TestServer server([&](app::ServerConfig& c) { c.db_path = db_path; });
  auto stub = server.Backend();
  GetUserRequest get;
  get.set_user_id(id);
  User user;
  EXPECT_TRUE(stub->GetUser(Authed().get(), get, &user).ok());
  EXPECT_EQ(IntegrityOf(db_path), "ok");
}

TEST(DiskFaultsTest, VanishedDatabaseDirectoryRefusesWritesInsteadOfLosing) {
  TempDir parent;
  const std::string dir = parent.File("data");
  std::filesystem::create_directory(dir);
  TestServer server(
      [&](app::ServerConfig& c) { c.db_path = dir + "/roster.db"; });
  auto stub = server.Backend();
  User user;
  ASSERT_TRUE(Create(*stub, "kept@example.com", &user).ok());

  std::filesystem::remove_all(dir);
  // A write now would go to an unlinked file and vanish at the next restart:
  // it must be refused, not acknowledged.
  ExpectCleanStorageError(Create(*stub, "lost@example.com", &user),
                          {grpc::StatusCode::UNAVAILABLE});
}

// The value of roster_rpcs_in_flight for `method`, or -1 if absent.
int InFlight(app::RosterServer& server, const std::string& method) {
  const std::regex line("roster_rpcs_in_flight\\{method=\"" + method +
                        "\"\\} (\\d+)");
  std::smatch match;
  const std::string text = server.RenderMetrics();
  return std::regex_search(text, match, line) ? std::stoi(match[1]) : -1;
}

// A server on its own database file, and another process that locks it.
class LockFaultsTest : public ::testing::Test {
 protected:
  // Starts another process that takes the database's write lock and holds
  // it until killed; returns its pid once the lock is held.
  pid_t HoldWriteLock() {
    const std::string ready = dir_.File("locked");
    std::filesystem::remove(ready);
    const std::string script = absl::StrCat(
        "import signal, sqlite3\n"
        "c = sqlite3.connect('",
        db_path_, "', isolation_level=None)\n",
        "c.execute('BEGIN IMMEDIATE')\n", "open('", ready, "', 'w').close()\n",
        "signal.pause()\n");
    const pid_t pid = testing::Spawn({"python3", "-c", script});
    EXPECT_GT(pid, 0) << "cannot start python3";
    EXPECT_TRUE(testing::WaitUntil([&] {
      return std::filesystem::exists(ready);
    })) << "python3 never locked";
    return pid;
  }

  // Its lock goes with the process.
  static void Release(pid_t holder) {
    kill(holder, SIGKILL);
    waitpid(holder, nullptr, 0);
  }

  // A lock released while a create of `email` waits on it, within the 5 s
  // busy timeout: the create, in flight before the release and unable to
  // commit until it, succeeds.
  void ExpectCreateWaitsOutABriefLock(const std::string& email) {
    const pid_t holder = HoldWriteLock();
    User user;
    grpc::Status waited;
    std::thread create([&] { waited = Create(*stub_, email, &user); });
    EXPECT_TRUE(testing::WaitUntil([&] {
      return InFlight(server_.server(), "/roster.v1.BackendUsers/CreateUser") ==
             1;
    })) << "the create never reached the server";
    Release(holder);
    create.join();
    EXPECT_TRUE(waited.ok()) << waited.error_message();
  }

  TempDir dir_;
  const std::string db_path_ = dir_.File("roster.db");
  TestServer server_{[this](app::ServerConfig& c) { c.db_path = db_path_; }};
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
};

TEST_F(LockFaultsTest, DatabaseLockedByAnotherProcessWaitsThenFailsRetryably) {
  User user;
  ASSERT_TRUE(Create(*stub_, "one@example.com", &user).ok());
  ExpectCreateWaitsOutABriefLock("waited@example.com");

  // Held for longer than the busy timeout: UNAVAILABLE with a retry hint,
  // while reads go on (WAL readers never wait for the writer).
  const pid_t holder = HoldWriteLock();
  GetUserRequest get;
  get.set_user_id(user.id());
  User read;
  EXPECT_TRUE(stub_->GetUser(Authed().get(), get, &read).ok());
  const grpc::Status busy = Create(*stub_, "busy@example.com", &user);
  ExpectCleanStorageError(busy, {grpc::StatusCode::UNAVAILABLE});
  Release(holder);
  EXPECT_TRUE(Create(*stub_, "after@example.com", &user).ok());
  EXPECT_EQ(UsersWithEmail(*stub_, "busy@example.com"), 0);
  EXPECT_EQ(IntegrityOf(db_path_), "ok");
}

// A retried CreateUser finds its idempotency key on the writer connection.
// Were that read left open, the writer would stay in a read transaction, and
// SQLite gives a connection that upgrades a read to a write no busy wait: the
// next write would fail at once on any lock held for a moment (a backup, an
// operator's sqlite3 shell), where it must wait as a first write does.
TEST_F(LockFaultsTest, AWriteAfterARetriedCreateStillWaitsForALock) {
  CreateUserRequest request;
  request.add_email_addresses("retried@example.com");
  request.set_request_id("create-retried");
  User first;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), request, &first).ok());
  User replayed;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), request, &replayed).ok());
  ASSERT_EQ(replayed.id(), first.id());
  ExpectCreateWaitsOutABriefLock("waited@example.com");
}

TEST(ClientFaultsTest, ClientsKilledMidStreamReleaseTheirStreams) {
  TestServer server;
  auto stub = server.Backend();
  User user;
  ASSERT_TRUE(Create(*stub, "stream@example.com", &user).ok());
  const std::string method = "/roster.v1.BackendUsers/WatchEvents";
  TempDir dir;
  std::vector<pid_t> watchers;
  for (int i = 0; i < 8; ++i) {
    const std::string out = dir.File(absl::StrCat("watch", i));
    const std::string command =
        absl::StrCat("exec env ROSTER_SECRET_KEY=", testing::kTestSecretKey,
                     " ", ::roster::testing::CliBinary(),
                     " --addr=127.0.0.1:", server.server().port(),
                     " events watch >", out, " 2>&1");
    const pid_t pid = testing::Spawn({"/bin/sh", "-c", command});
    ASSERT_GT(pid, 0) << "cannot start /bin/sh";
    watchers.push_back(pid);
  }
  testing::WaitUntil([&] { return InFlight(server.server(), method) >= 8; });
  ASSERT_EQ(InFlight(server.server(), method), 8);
  // Events flow to the streams, then every client dies without a goodbye.
  ASSERT_TRUE(Create(*stub, "more@example.com", &user).ok());
  for (pid_t pid : watchers) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  // Writes after the clients are gone find a dead peer and end the streams.
  int after = 0;
  testing::WaitUntil(
      [&] {
        EXPECT_TRUE(
            Create(*stub, absl::StrCat("after", after++, "@example.com"), &user)
                .ok());
        return InFlight(server.server(), method) == 0;
      },
      absl::Seconds(6));
  EXPECT_EQ(InFlight(server.server(), method), 0);
}

TEST(ClientFaultsTest, PassedDeadlinesEndCallsAndTheServerGoesOn) {
  TestServer server;
  auto stub = server.Backend();
  // A deadline already past when the call starts, and one that passes while
  // the server works (argon2id takes longer than a millisecond).
  for (int micros : {0, 1000}) {
    auto context = Authed();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(micros));
    CreateUserRequest request;
    request.set_first_name("Late");
    request.add_email_addresses(absl::StrCat("late", micros, "@example.com"));
    request.set_password("correct horse battery staple");
    User user;
    EXPECT_EQ(stub->CreateUser(context.get(), request, &user).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // A stream with a deadline ends with DEADLINE_EXCEEDED, not a hang.
  auto context = Authed();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(300));
  auto reader = stub->WatchEvents(context.get(), WatchEventsRequest());
  Event event;
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  testing::WaitUntil([&] {
    return InFlight(server.server(), "/roster.v1.BackendUsers/WatchEvents") ==
           0;
  });
  EXPECT_EQ(InFlight(server.server(), "/roster.v1.BackendUsers/WatchEvents"),
            0);
  User user;
  EXPECT_TRUE(Create(*stub, "ontime@example.com", &user).ok());
}

}  // namespace
}  // namespace roster

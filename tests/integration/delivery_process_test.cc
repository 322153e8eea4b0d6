// Code delivery by the real roster-server binary: killed with SIGKILL while an
// SMTP server holds its message, and run as two replicas on one PostgreSQL
// database. The SMTP server is aiosmtpd on loopback (tests/testing/
// smtp_sink.h), requiring STARTTLS and AUTH.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/require.h"
#include "tests/testing/server_process.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.
using testing::kTestSecretKey;
using testing::ServerProcess;
using testing::SmtpSink;
using testing::TempDir;
using testing::TestDatabase;
using testing::WaitUntil;

// A replica's stubs.
struct Replica {
  explicit Replica(int port) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    backend = BackendUsers::NewStub(channel);
    frontend = FrontendUsers::NewStub(channel);
  }

  void AddUser(const std::string& email) {
    CreateUserRequest create;
    create.add_email_addresses(email);
    User user;
    grpc::Status status =
        backend->CreateUser(testing::Authed().get(), create, &user);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // A sign-in code to `email`.
  void SendCode(const std::string& email) {
    StartSignInRequest start;
    start.set_identifier(email);
    SignInAttempt attempt;
    ASSERT_TRUE(
        frontend->StartSignIn(testing::NoCredentials().get(), start, &attempt)
            .ok());
    PrepareSignInFactorRequest prepare;
    prepare.set_sign_in_attempt_id(attempt.id());
    prepare.set_strategy("email_code");
    grpc::Status status = frontend->PrepareSignInFactor(
        testing::NoCredentials().get(), prepare, &attempt);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::vector<Event> CodeEvents() {
    ListEventsRequest request;
    request.add_types("email.created");
    request.set_limit(500);
    ListEventsResponse events;
    EXPECT_TRUE(
        backend->ListEvents(testing::Authed().get(), request, &events).ok());
    return {events.events().begin(), events.events().end()};
  }

  std::unique_ptr<BackendUsers::Stub> backend;
  std::unique_ptr<FrontendUsers::Stub> frontend;
};

class DeliveryProcessTest : public ::testing::Test {
 protected:
  // roster-server's flags for SMTP delivery to the sink on smtp_port_.
  std::vector<std::string> Flags() {
    const std::string credentials = dir_.File("smtp-credentials");
    std::ofstream(credentials)
        << testing::kSmtpUser << ":" << testing::kSmtpPassword << "\n";
    // One signing key for every replica (PostgreSQL requires one).
    const std::string signing_key = dir_.File("signing.key");
    std::ofstream(signing_key) << std::string(64, 'a');
    return {database_.flag(),
            "--listen=127.0.0.1:0",
            absl::StrCat("--secret_keys=", kTestSecretKey),
            "--log_rpcs=false",
            absl::StrCat("--smtp_url=smtp://127.0.0.1:", smtp_port_),
            "--smtp_credentials_file=" + credentials,
            "--mail_from=Roster <no-reply@roster.test>",
            "--delivery_ca_file=" + testing::SelfSignedCertificate(dir_),
            "--delivery_lease=2s",
            "--signing_key_file=" + signing_key};
  }

  // Every code event has been handled: the cursor passed it, nothing is in
  // flight or waiting.
  bool Drained(int64_t last_sequence) {
    return database_.Int("SELECT cursor FROM delivery_state") >=
               last_sequence &&
           database_.Int("SELECT in_flight FROM delivery_state") == 0 &&
           database_.Int("SELECT COUNT(*) FROM delivery_retries") == 0;
  }

  TempDir dir_;
  TestDatabase database_{dir_};
  int smtp_port_ = testing::UnusedPort();
};

TEST_F(DeliveryProcessTest, AKillMidSendLosesNoCodeAndLogsNone) {
  // The sink holds each message 3 s between DATA and its reply.
  SmtpSink sink(dir_, smtp_port_, /*data_delay=*/3);
  auto first = std::make_unique<ServerProcess>(dir_, Flags());
  const int port = first->WaitForPort();
  ASSERT_GT(port, 0) << first->Stderr();
  Replica replica(port);
  replica.AddUser("kim@example.com");
  replica.SendCode("kim@example.com");
  const std::vector<Event> events = replica.CodeEvents();
  ASSERT_EQ(events.size(), 1u);
  const std::string code = events[0].email().code();

  // Killed while the message is in flight: handed over, not acknowledged.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return database_.Int("SELECT in_flight FROM delivery_state") ==
               events[0].sequence();
      },
      absl::Seconds(10)));
  // Meanwhile the server answers: the held send is on no request's path (it
  // would wait out the sink's 3 s if it were).
  const absl::Time before = absl::Now();
  replica.AddUser("lee@example.com");
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
  const std::string first_log = first->Stderr();
  EXPECT_EQ(first->Stop(SIGKILL), -1);

  ServerProcess second(dir_, Flags());
  ASSERT_GT(second.WaitForPort(), 0) << second.Stderr();
  ASSERT_TRUE(WaitUntil([&] { return Drained(events[0].sequence()); },
                        absl::Seconds(30)))
      << second.Stderr();
  // At least once: the restarted server sent it again, and said so.
  bool delivered = false;
  for (const auto& mail : sink.WaitFor(1)) {
    delivered = delivered ||
                mail["text"].get<std::string>().find(code) != std::string::npos;
  }
  EXPECT_TRUE(delivered);
  const std::string second_log = second.Stderr();
  EXPECT_NE(second_log.find("resending a message an earlier sender may have "
                            "sent"),
            std::string::npos)
      << second_log;
  for (const std::string& log : {first_log, second_log}) {
    EXPECT_EQ(log.find(code), std::string::npos) << "a code in the log";
    EXPECT_EQ(log.find("kim@example.com"), std::string::npos)
        << "a whole address in the log";
  }
}

// Runs in the .postgres variant only: replicas share a PostgreSQL database.
class PgDeliveryTest : public DeliveryProcessTest {
 protected:
  void SetUp() override {
    ROSTER_REQUIRE_POSTGRES();
    ASSERT_TRUE(database_.postgres())
        << "runs in the .postgres variant (ROSTER_TEST_STORE=postgres)";
  }
};

TEST_F(PgDeliveryTest, TwoReplicasSendEachCodeOnce) {
  SmtpSink sink(dir_, smtp_port_);
  std::vector<std::unique_ptr<ServerProcess>> processes;
  std::vector<std::unique_ptr<Replica>> replicas;
  for (int i = 0; i < 2; ++i) {
    processes.push_back(std::make_unique<ServerProcess>(dir_, Flags()));
    const int port = processes.back()->WaitForPort();
    ASSERT_GT(port, 0) << processes.back()->Stderr();
    replicas.push_back(std::make_unique<Replica>(port));
  }
  constexpr size_t kUsers = 3;
  constexpr size_t kCodesEach = 4;
  for (size_t u = 0; u < kUsers; ++u) {
    replicas[u % 2]->AddUser(absl::StrCat("user", u, "@example.com"));
  }
  // Codes made on both replicas, interleaved.
  for (size_t round = 0; round < kCodesEach; ++round) {
    for (size_t u = 0; u < kUsers; ++u) {
      replicas[(round + u) % 2]->SendCode(
          absl::StrCat("user", u, "@example.com"));
    }
  }
  const std::vector<Event> events = replicas[0]->CodeEvents();
  ASSERT_EQ(events.size(), kUsers * kCodesEach);
  ASSERT_TRUE(WaitUntil([&] { return Drained(events.back().sequence()); },
                        absl::Seconds(30)));
  const auto messages = sink.WaitFor(events.size());
  std::set<std::string> ids;
  for (const auto& mail : messages) {
    ids.insert(mail["headers"]["message-id"].get<std::string>());
  }
  EXPECT_EQ(messages.size(), events.size()) << "one message per code";
  EXPECT_EQ(ids.size(), events.size());
}

// Each delivery flag that would send codes in clear text, nowhere, or with a
// typo stops the binary at start-up (exit 2) and names the flag, never the
// secret it read.
TEST(DeliveryFlagsTest, UnsafeOrIncompleteSettingsStopTheServer) {
  TempDir dir;
  const std::string short_secret = dir.File("short.secret");
  std::ofstream(short_secret) << "tiny-secret-value\n";
  std::filesystem::create_directories(dir.File("templates"));
  std::ofstream(dir.File("templates/sign-in.txt")) << "{{code}}\n";
  std::filesystem::create_directories(dir.File("typo"));
  std::ofstream(dir.File("typo/sign_in.txt")) << "Code: {{cod}}\n";
  const std::string smtp = "--smtp_url=smtps://mail.example.com";
  const std::string from = "--mail_from=no-reply@example.com";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--smtp_url=http://mail.example.com", from}, "--smtp_url"},
      {{"--smtp_url=smtp://mail.example.com:587", "--smtp_insecure", from},
       "--smtp_insecure"},
      {{smtp}, "--mail_from"},
      {{smtp, from, "--smtp_credentials_file=" + dir.File("none")},
       "--smtp_credentials_file"},
      {{"--sms_webhook_url=http://sms.example.com/hook",
        "--sms_webhook_secret_file=" + short_secret},
       "--sms_webhook_url"},
      {{"--sms_webhook_url=https://sms.example.com/hook",
        "--sms_webhook_secret_file=" + short_secret},
       "at least 32 bytes"},
      {{"--sms_provider=twilio"}, "--twilio_account_sid_file"},
      {{"--sms_provider=carrier-pigeon"}, "--sms_provider"},
      {{smtp, from, "--templates_dir=" + dir.File("templates")}, "sign-in.txt"},
      {{smtp, from, "--templates_dir=" + dir.File("typo")}, "{{cod}}"},
      {{"--app_name="}, "--app_name"},
      {{"--delivery_lease=0s"}, "--delivery_lease"},
  };
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> args = {
        "--db=roster.db", "--listen=127.0.0.1:0",
        absl::StrCat("--secret_keys=", kTestSecretKey)};
    args.insert(args.end(), flags.begin(), flags.end());
    ServerProcess server(dir, args);
    EXPECT_EQ(server.Stop(0), 2) << flags[0];
    const std::string log = server.Stderr();
    EXPECT_NE(log.find(expected), std::string::npos) << log;
    EXPECT_EQ(log.find("tiny-secret-value"), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace roster

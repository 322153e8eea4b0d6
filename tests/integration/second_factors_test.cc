// Second factors end to end (DESIGN §10) over a real server: an authenticator
// app enrolled and used with codes from independent implementations
// (`oathtool` and Python's `pyotp`), steps outside ±1 and replays refused,
// single-use backup codes (also under parallel use), the attempt's 5
// failures, backends removing factors, and TOTP secrets sealed at rest under
// --data_keys_file: nothing in clear in the database file, rotation, and a
// lost key refused at start-up. Phones as second factors:
// second_factor_phones_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/data_keys.h"
#include "server/domain/totp.h"
#include "tests/testing/second_factor_fixture.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::kTotpUserPassword;
using ::roster::testing::NoCredentials;
using ::roster::testing::OathtoolCode;
using ::roster::testing::ReasonOf;
using ::roster::testing::RunTool;
using ::roster::testing::SecondFactorsTest;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::roster::testing::WithToken;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

// The code of `secret` at `time` by Python's pyotp, a second independent
// implementation (Debian's python3 has it).
std::string PyotpCode(const std::string& secret, absl::Time time) {
  return RunTool(
      absl::StrCat("/usr/bin/python3 -c \"import pyotp; "
                   "print(pyotp.TOTP('",
                   secret, "').at(", absl::ToUnixSeconds(time), "))\""));
}

std::string StoredBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST_F(SecondFactorsTest,
       AnAppEnrollsWithCodesFromAnIndependentImplementation) {
  Totp totp;
  ASSERT_TRUE(
      frontend_
          ->CreateMyTotp(WithToken(token_).get(), CreateMyTotpRequest(), &totp)
          .ok());
  EXPECT_EQ(totp.secret().size(), 32u);  // 160 bits of base32.
  EXPECT_FALSE(totp.verified());
  EXPECT_EQ(totp.uri(), absl::StrCat("otpauth://totp/Roster:kim%40example.com"
                                     "?secret=",
                                     totp.secret(),
                                     "&issuer=Roster&algorithm=SHA1&digits=6"
                                     "&period=30"));
  EXPECT_TRUE(absl::StartsWith(totp.qr_code_svg(), "<svg "));
  EXPECT_FALSE(Me().totp_enabled());

  // Steps two away are refused; pyotp and oathtool agree on the current one.
  const absl::Time now = server_.Now();
  VerifyMyTotpRequest verify;
  Totp out;
  for (absl::Duration away : {absl::Seconds(-60), absl::Seconds(60)}) {
    verify.set_code(PyotpCode(totp.secret(), now + away));
    grpc::Status status =
        frontend_->VerifyMyTotp(WithToken(token_).get(), verify, &out);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");
  }
  verify.set_code("12345");
  grpc::Status status =
      frontend_->VerifyMyTotp(WithToken(token_).get(), verify, &out);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("code"));
  EXPECT_EQ(PyotpCode(totp.secret(), now), OathtoolCode(totp.secret(), now));
  verify.set_code(OathtoolCode(totp.secret(), now));
  status = frontend_->VerifyMyTotp(WithToken(token_).get(), verify, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(out.verified());
  EXPECT_TRUE(out.secret().empty());  // Shown once, at creation.

  const FrontendUser me = Me();
  EXPECT_TRUE(me.totp_enabled());
  EXPECT_TRUE(me.two_factor_enabled());
  EXPECT_FALSE(me.backup_code_enabled());
  EXPECT_TRUE(me.has_mfa_enabled_at());
  // A second app while one is verified.
  status = frontend_->CreateMyTotp(WithToken(token_).get(),
                                   CreateMyTotpRequest(), &out);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "TOTP_EXISTS");
}

TEST_F(SecondFactorsTest, SignInNeedsTheSecondFactorAndEachStepSignsInOnce) {
  const std::string secret = EnrollTotp();
  // The enrolment used the current step: a sign-in needs the next one.
  const SignInResponse first = SignInWithPassword();
  EXPECT_EQ(first.status(), SignInAttempt::STATUS_NEEDS_SECOND_FACTOR);
  EXPECT_FALSE(first.has_session());
  EXPECT_TRUE(first.session_token().empty());
  EXPECT_THAT(first.sign_in_attempt().supported_second_factors(),
              ElementsAre("totp"));
  SignInResponse out;
  grpc::Status status = Attempt(first.sign_in_attempt().id(), "totp",
                                OathtoolCode(secret, server_.Now()), &out);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED") << "a replayed step";
  const std::string next = PyotpCode(secret, server_.Now() + absl::Seconds(30));
  status = Attempt(first.sign_in_attempt().id(), "totp", next, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_FALSE(out.session_token().empty());
  EXPECT_EQ(out.user().id(), kim_.id());
  // The same code again, in a new sign-in.
  const SignInResponse second = SignInWithPassword();
  status = Attempt(second.sign_in_attempt().id(), "totp", next, &out);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");
  // A first-factor strategy does not fit a second-factor step.
  status = Attempt(second.sign_in_attempt().id(), "email_code", "123456", &out);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");
}

// A right password alone is no sign-in: last_sign_in_at moves only when the
// second factor completes it.
TEST_F(SecondFactorsTest, TheSignInTimeWaitsForTheSecondFactor) {
  const std::string secret = EnrollTotp();
  GetUserRequest get;
  get.set_user_id(kim_.id());
  User before;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &before).ok());
  server_.AdvanceClock(absl::Seconds(1));
  const SignInResponse first = SignInWithPassword();
  ASSERT_EQ(first.status(), SignInAttempt::STATUS_NEEDS_SECOND_FACTOR);
  User waiting;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &waiting).ok());
  EXPECT_EQ(waiting.last_sign_in_at().seconds(),
            before.last_sign_in_at().seconds());
  EXPECT_EQ(waiting.last_sign_in_at().nanos(),
            before.last_sign_in_at().nanos());
  SignInResponse out;
  ASSERT_TRUE(Attempt(first.sign_in_attempt().id(), "totp",
                      OathtoolCode(secret, server_.Now() + absl::Seconds(30)),
                      &out)
                  .ok());
  User after;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &after).ok());
  EXPECT_GT(after.last_sign_in_at().seconds(),
            before.last_sign_in_at().seconds());
}

TEST_F(SecondFactorsTest, AStartedSignInAsksForTheSecondFactorToo) {
  const std::string secret = EnrollTotp();
  StartSignInRequest start;
  start.set_identifier("kim@example.com");
  SignInAttempt attempt;
  ASSERT_TRUE(
      frontend_->StartSignIn(NoCredentials().get(), start, &attempt).ok());
  AttemptSignInFactorRequest password;
  password.set_sign_in_attempt_id(attempt.id());
  password.set_strategy("password");
  password.set_password(kTotpUserPassword);
  SignInResponse out;
  ASSERT_TRUE(
      frontend_->AttemptSignInFactor(NoCredentials().get(), password, &out)
          .ok());
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_NEEDS_SECOND_FACTOR);
  EXPECT_FALSE(out.has_session());
  grpc::Status status =
      Attempt(attempt.id(), "totp",
              OathtoolCode(secret, server_.Now() + absl::Seconds(30)), &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_FALSE(out.session_token().empty());
}

TEST_F(SecondFactorsTest, BackupCodesSignInOnceEach) {
  BackupCodes codes;
  grpc::Status status = frontend_->CreateMyBackupCodes(
      WithToken(token_).get(), CreateMyBackupCodesRequest(), &codes);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "SECOND_FACTOR_REQUIRED");
  EnrollTotp();
  ASSERT_TRUE(frontend_
                  ->CreateMyBackupCodes(WithToken(token_).get(),
                                        CreateMyBackupCodesRequest(), &codes)
                  .ok());
  ASSERT_EQ(codes.codes_size(), 10);
  EXPECT_TRUE(Me().backup_code_enabled());

  const SignInResponse first = SignInWithPassword();
  EXPECT_THAT(first.sign_in_attempt().supported_second_factors(),
              ElementsAre("totp", "backup_code"));
  SignInResponse out;
  status = Attempt(first.sign_in_attempt().id(), "backup_code", codes.codes(0),
                   &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);
  // Used up.
  const SignInResponse second = SignInWithPassword();
  status = Attempt(second.sign_in_attempt().id(), "backup_code", codes.codes(0),
                   &out);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");

  // One code sent in 8 parallel sign-ins signs in exactly once.
  std::vector<std::string> attempts;
  attempts.reserve(8);
  for (int i = 0; i < 8; ++i) {
    attempts.push_back(SignInWithPassword().sign_in_attempt().id());
  }
  std::atomic<int> completed{0};
  std::vector<std::thread> threads;
  threads.reserve(attempts.size());
  for (const auto& id : attempts) {
    threads.emplace_back([&, id] {
      SignInResponse response;
      if (Attempt(id, "backup_code", codes.codes(1), &response).ok()) {
        ++completed;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(completed.load(), 1);
  // New codes replace the old.
  BackupCodes renewed;
  ASSERT_TRUE(frontend_
                  ->CreateMyBackupCodes(WithToken(token_).get(),
                                        CreateMyBackupCodesRequest(), &renewed)
                  .ok());
  const SignInResponse third = SignInWithPassword();
  status = Attempt(third.sign_in_attempt().id(), "backup_code", codes.codes(2),
                   &out);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");
}

TEST_F(SecondFactorsTest, ATicketStillAsksForTheSecondFactor) {
  const std::string secret = EnrollTotp();
  auto ticket = server_.server().IssueSignInTicketForTest(kim_.id());
  ASSERT_TRUE(ticket.ok());
  SignInWithTicketRequest request;
  request.set_ticket(*ticket);
  SignInResponse first;
  ASSERT_TRUE(
      frontend_->SignInWithTicket(NoCredentials().get(), request, &first).ok());
  EXPECT_EQ(first.status(), SignInAttempt::STATUS_NEEDS_SECOND_FACTOR);
  EXPECT_FALSE(first.has_session());
  EXPECT_EQ(first.sign_in_attempt().identifier(), "kim@example.com");
  SignInResponse out;
  grpc::Status status =
      Attempt(first.sign_in_attempt().id(), "totp",
              OathtoolCode(secret, server_.Now() + absl::Seconds(30)), &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);
}

TEST_F(SecondFactorsTest, AnAttemptAllowsFiveFailedSecondFactors) {
  const std::string secret = EnrollTotp();
  const SignInResponse first = SignInWithPassword();
  const std::string wrong =
      OathtoolCode(secret, server_.Now()) == "000000" ? "000001" : "000000";
  SignInResponse out;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        ReasonOf(Attempt(first.sign_in_attempt().id(), "totp", wrong, &out)),
        "VERIFICATION_FAILED");
  }
  grpc::Status status =
      Attempt(first.sign_in_attempt().id(), "totp",
              OathtoolCode(secret, server_.Now() + absl::Seconds(30)), &out);
  EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(status), "TOO_MANY_ATTEMPTS");
  // Each failure also counted toward the user's lockout.
  User user;
  GetUserRequest get;
  get.set_user_id(kim_.id());
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &user).ok());
  EXPECT_EQ(user.verification_attempts_remaining(), 10 - 5);
}

TEST_F(SecondFactorsTest, ParallelSecondFactorGuessesStopExactlyAtFive) {
  const std::string secret = EnrollTotp();
  const std::string id = SignInWithPassword().sign_in_attempt().id();
  std::string wrong = "000000";
  for (int delta : {-1, 0, 1}) {  // Not one of the window's codes.
    if (OathtoolCode(secret, server_.Now() + absl::Seconds(30 * delta)) ==
        wrong) {
      wrong = "000001";
    }
  }
  std::atomic<int> failed{0};
  std::atomic<int> exhausted{0};
  std::vector<std::thread> threads;
  threads.reserve(10);
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&] {
      SignInResponse out;
      const std::string reason = ReasonOf(Attempt(id, "totp", wrong, &out));
      if (reason == "VERIFICATION_FAILED") {
        ++failed;
      } else if (reason == "TOO_MANY_ATTEMPTS") {
        ++exhausted;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failed.load(), 5);
  EXPECT_EQ(exhausted.load(), 5);
}

TEST_F(SecondFactorsTest, DeletingTheAppNeedsOneOfItsCodes) {
  const std::string secret = EnrollTotp();
  DeleteMyTotpRequest request;
  FrontendUser me;
  request.set_code("not a code");
  grpc::Status status =
      frontend_->DeleteMyTotp(WithToken(token_).get(), request, &me);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("code"));
  request.set_code(OathtoolCode(secret, server_.Now() + absl::Seconds(90)));
  status = frontend_->DeleteMyTotp(WithToken(token_).get(), request, &me);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");
  EXPECT_TRUE(Me().totp_enabled());
  request.set_code(OathtoolCode(secret, server_.Now() + absl::Seconds(30)));
  status = frontend_->DeleteMyTotp(WithToken(token_).get(), request, &me);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(me.totp_enabled());
  EXPECT_FALSE(me.two_factor_enabled());
  EXPECT_TRUE(me.has_mfa_disabled_at());
  EXPECT_EQ(SignInWithPassword().status(), SignInAttempt::STATUS_COMPLETE);
}

TEST_F(SecondFactorsTest, BackendsRemoveWhatAUserLost) {
  EnrollTotp();
  BackupCodes codes;
  ASSERT_TRUE(frontend_
                  ->CreateMyBackupCodes(WithToken(token_).get(),
                                        CreateMyBackupCodesRequest(), &codes)
                  .ok());
  User user;
  DeleteUserTotpRequest delete_totp;
  delete_totp.set_user_id(kim_.id());
  ASSERT_TRUE(
      backend_->DeleteUserTotp(Authed().get(), delete_totp, &user).ok());
  EXPECT_FALSE(user.totp_enabled());
  EXPECT_TRUE(user.backup_code_enabled());
  EXPECT_TRUE(user.two_factor_enabled());  // The backup codes remain.
  DeleteUserBackupCodesRequest delete_codes;
  delete_codes.set_user_id(kim_.id());
  ASSERT_TRUE(
      backend_->DeleteUserBackupCodes(Authed().get(), delete_codes, &user)
          .ok());
  EXPECT_FALSE(user.two_factor_enabled());
  EXPECT_TRUE(user.has_mfa_disabled_at());
  EXPECT_EQ(SignInWithPassword().status(), SignInAttempt::STATUS_COMPLETE);

  EnrollTotp();
  DisableUserMfaRequest disable;
  disable.set_user_id(kim_.id());
  ASSERT_TRUE(backend_->DisableUserMfa(Authed().get(), disable, &user).ok());
  EXPECT_FALSE(user.two_factor_enabled());
  EXPECT_FALSE(user.totp_enabled());
  disable.set_user_id("user_nope");
  grpc::Status status =
      backend_->DisableUserMfa(Authed().get(), disable, &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
}

// The secret at rest: sealed in the database, opened by a rotated key file,
// and a lost key is a start-up error.
TEST_F(SecondFactorsTest, SecretsAreSealedAtRestUnderTheDataKeys) {
  const std::string secret = EnrollTotp();
  server_.Stop();
  if (!server_.database().postgres()) {
    const std::string raw = *domain::Base32Decode(secret);
    const std::string stored = StoredBytes(server_.db_path()) +
                               StoredBytes(server_.db_path() + "-wal");
    ASSERT_GT(stored.size(), 4096u);
    EXPECT_EQ(stored.find(raw), std::string::npos);
    EXPECT_EQ(stored.find(secret), std::string::npos);
    EXPECT_EQ(stored.find(absl::AsciiStrToLower(secret)), std::string::npos);
  }

  // The key file lost: start-up says which key is missing.
  app::ServerConfig config = server_.config();
  const std::string old_keys = config.data_keys;
  auto old_id = domain::DataKeys::Parse(old_keys)->sealing_key_id();
  for (const std::string& keys : {std::string(), domain::DataKeys::NewFile()}) {
    config.data_keys = keys;
    auto refused = app::RosterServer::Start(config);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(refused.status().message(), HasSubstr(old_id));
  }
  // Rotated: a new key first, the old one still listed.
  config.data_keys = domain::DataKeys::NewFile() + old_keys;
  auto rotated = app::RosterServer::Start(config);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  rotated->reset();
  server_.Start();  // The fixture's own keys still open it.
}

TEST(SecondFactorsWithoutKeysTest, TotpIsRefusedWithoutADataKeysFile) {
  TestServer server;
  auto backend = server.Backend();
  auto frontend = FrontendUsers::NewStub(server.channel());
  CreateUserRequest create;
  create.add_email_addresses("lee@example.com");
  User lee;
  ASSERT_TRUE(backend->CreateUser(Authed().get(), create, &lee).ok());
  Totp totp;
  grpc::Status status = frontend->CreateMyTotp(
      WithToken(testing::NewSessionToken(*backend, lee.id())).get(),
      CreateMyTotpRequest(), &totp);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "DATA_KEYS_MISSING");
}

}  // namespace
}  // namespace roster

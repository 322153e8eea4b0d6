// Sign-in in steps end to end (DESIGN §10): password, email code and password
// reset factors over a real server, the same answers for an identifier no
// user holds, and the attempt's limit of 5 failures under parallel guesses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/test_server.h"
#include "tests/testing/watcher.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::roster::testing::Watcher;
using ::roster::testing::WithToken;
using ::testing::ElementsAre;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

constexpr char kRightPassword[] = "correct horse battery";

// A 6-digit code other than `code`.
std::string NotThe(const std::string& code) {
  return code == "000000" ? "000001" : "000000";
}

class SignInAttemptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateUserRequest create;
    create.add_email_addresses("kim@example.com");
    create.add_phone_numbers("+15555550100");
    create.set_username("kimsky");
    create.set_password(kRightPassword);
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &kim_).ok());
  }

  SignInAttempt Start(const std::string& identifier) {
    StartSignInRequest request;
    request.set_identifier(identifier);
    SignInAttempt attempt;
    grpc::Status status =
        frontend_->StartSignIn(NoCredentials().get(), request, &attempt);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return attempt;
  }

  grpc::Status Prepare(const std::string& id, const std::string& strategy) {
    PrepareSignInFactorRequest request;
    request.set_sign_in_attempt_id(id);
    request.set_strategy(strategy);
    SignInAttempt out;
    return frontend_->PrepareSignInFactor(NoCredentials().get(), request, &out);
  }

  grpc::Status Attempt(const std::string& id, const std::string& strategy,
                       const std::string& secret, SignInResponse* out) {
    AttemptSignInFactorRequest request;
    request.set_sign_in_attempt_id(id);
    request.set_strategy(strategy);
    if (strategy == "password") {
      request.set_password(secret);
    } else {
      request.set_code(secret);
    }
    return frontend_->AttemptSignInFactor(NoCredentials().get(), request, out);
  }

  // The code the mail service receives next.
  EmailMessage NextEmail() {
    auto events = mail_.Next(1);
    EXPECT_EQ(events.size(), 1u);
    return events.empty() ? EmailMessage() : events[0].email();
  }

  int EmailsSent() {
    ListEventsRequest request;
    request.add_types("email.created");
    request.set_limit(500);
    ListEventsResponse events;
    EXPECT_TRUE(backend_->ListEvents(Authed().get(), request, &events).ok());
    return events.events_size();
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
  std::unique_ptr<FrontendUsers::Stub> frontend_ =
      FrontendUsers::NewStub(server_.channel());
  Watcher mail_{*backend_, 0, {"email.created"}};
  User kim_;
};

TEST_F(SignInAttemptsTest, APasswordFactorCompletesTheSignIn) {
  const SignInAttempt attempt = Start(" Kim@Example.com ");
  EXPECT_TRUE(absl::StartsWith(attempt.id(), "sia_"));
  EXPECT_EQ(attempt.status(), SignInAttempt::STATUS_NEEDS_FIRST_FACTOR);
  EXPECT_EQ(attempt.identifier(), "kim@example.com");
  EXPECT_THAT(
      attempt.supported_first_factors(),
      ElementsAre("password", "email_code", "reset_password_email_code"));
  SignInResponse out;
  grpc::Status status = Attempt(attempt.id(), "password", "wrong one!", &out);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "PASSWORD_INCORRECT");
  status = Attempt(attempt.id(), "password", kRightPassword, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_EQ(out.user().id(), kim_.id());
  FrontendUser me;
  EXPECT_TRUE(
      frontend_
          ->GetMe(WithToken(out.session_token()).get(), GetMeRequest(), &me)
          .ok());
  // Complete: no further factor.
  status = Attempt(attempt.id(), "password", kRightPassword, &out);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");
}

TEST_F(SignInAttemptsTest, AnEmailCodeCompletesTheSignIn) {
  const SignInAttempt attempt = Start("kim@example.com");
  ASSERT_TRUE(Prepare(attempt.id(), "email_code").ok());
  const EmailMessage email = NextEmail();
  EXPECT_EQ(email.purpose(), "sign_in");
  EXPECT_EQ(email.sign_in_attempt_id(), attempt.id());
  EXPECT_EQ(email.user_id(), kim_.id());
  SignInResponse out;
  grpc::Status status =
      Attempt(attempt.id(), "email_code", NotThe(email.code()), &out);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");
  status = Attempt(attempt.id(), "email_code", email.code(), &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_FALSE(out.session_token().empty());
}

TEST_F(SignInAttemptsTest, AnUnknownIdentifierGetsTheSameAnswersAndNoCode) {
  const int sent_before = EmailsSent();
  const SignInAttempt known = Start("kim@example.com");
  const SignInAttempt unknown = Start("nobody@example.com");
  EXPECT_EQ(unknown.status(), known.status());
  EXPECT_THAT(unknown.supported_first_factors(),
              ::testing::ElementsAreArray(known.supported_first_factors()));
  ASSERT_TRUE(Prepare(unknown.id(), "email_code").ok());
  ASSERT_TRUE(Prepare(unknown.id(), "reset_password_email_code").ok());
  EXPECT_EQ(EmailsSent(), sent_before);  // Nothing reached anyone.
  SignInResponse out;
  EXPECT_EQ(ReasonOf(Attempt(unknown.id(), "reset_password_email_code",
                             "123456", &out)),
            "VERIFICATION_FAILED");
  EXPECT_EQ(ReasonOf(Attempt(unknown.id(), "password", kRightPassword, &out)),
            "PASSWORD_INCORRECT");

  EXPECT_THAT(
      Start("+1 555 555 0199").supported_first_factors(),
      ElementsAre("password", "phone_code", "reset_password_phone_code"));
  EXPECT_THAT(Start("somebody").supported_first_factors(),
              ElementsAre("password"));
  EXPECT_THAT(Start("kimsky").supported_first_factors(),
              ElementsAre("password"));
}

// A lockout must not tell a stranger that an account exists: an identifier no
// user holds is locked after the same failures and for the same time as a
// user, through SignIn and a sign-in attempt alike, and both forget failures
// after a quiet lockout duration.
TEST(SignInLockoutTest, AnIdentifierNoUserHoldsLocksAsAUserDoes) {
  TestServer server([](app::ServerConfig& config) {
    // The lockout is the subject here, not the rate limits before it.
    config.sign_in_failures_per_identifier = 1000;
    config.sign_in_failures_per_address = 1000;
  });
  auto backend = server.Backend();
  auto frontend = FrontendUsers::NewStub(server.channel());
  CreateUserRequest create;
  create.add_email_addresses("kim@example.com");
  create.set_password(kRightPassword);
  User kim;
  ASSERT_TRUE(backend->CreateUser(Authed().get(), create, &kim).ok());
  auto answer = [](const grpc::Status& status) {
    return status.ok()
               ? std::string("OK")
               : absl::StrCat(status.error_code(), " ", ReasonOf(status));
  };
  auto sign_in = [&](const std::string& identifier,
                     const std::string& password) {
    SignInRequest request;
    request.set_identifier(identifier);
    request.set_password(password);
    SignInResponse response;
    return answer(frontend->SignIn(NoCredentials().get(), request, &response));
  };
  auto attempt = [&](const std::string& identifier,
                     const std::string& password) {
    StartSignInRequest start;
    start.set_identifier(identifier);
    SignInAttempt started;
    EXPECT_TRUE(
        frontend->StartSignIn(NoCredentials().get(), start, &started).ok());
    AttemptSignInFactorRequest request;
    request.set_sign_in_attempt_id(started.id());
    request.set_strategy("password");
    request.set_password(password);
    SignInResponse response;
    return answer(frontend->AttemptSignInFactor(NoCredentials().get(), request,
                                                &response));
  };
  const std::string kIncorrect =
      absl::StrCat(grpc::UNAUTHENTICATED, " PASSWORD_INCORRECT");
  const std::string kLocked =
      absl::StrCat(grpc::PERMISSION_DENIED, " USER_LOCKED");
  const std::vector<std::string> identifiers = {"kim@example.com",
                                                "nobody@example.com"};

  // Ten failures, then locked: even the right password is refused.
  for (const std::string& identifier : identifiers) {
    std::vector<std::string> answers;
    for (int i = 0; i < 10; ++i) {
      answers.push_back(sign_in(identifier, absl::StrCat("wrong ", i)));
    }
    EXPECT_EQ(answers, std::vector<std::string>(10, kIncorrect)) << identifier;
    EXPECT_EQ(sign_in(identifier, kRightPassword), kLocked) << identifier;
    EXPECT_EQ(attempt(identifier, kRightPassword), kLocked) << identifier;
  }
  server.AdvanceClock(absl::Minutes(59));
  for (const std::string& identifier : identifiers) {
    EXPECT_EQ(attempt(identifier, "wrong"), kLocked) << identifier;
  }
  // The lockout runs out alike, and counts start afresh: nine failures
  // each, a quiet hour, and two more lock neither.
  server.AdvanceClock(absl::Minutes(1));
  for (const std::string& identifier : identifiers) {
    EXPECT_EQ(sign_in(identifier, "wrong"), kIncorrect) << identifier;
    for (int i = 0; i < 8; ++i) {
      ASSERT_EQ(attempt(identifier, "wrong"), kIncorrect) << identifier;
    }
  }
  server.AdvanceClock(absl::Hours(1) + absl::Seconds(1));
  for (const std::string& identifier : identifiers) {
    EXPECT_EQ(sign_in(identifier, "wrong"), kIncorrect) << identifier;
    EXPECT_EQ(sign_in(identifier, "wrong"), kIncorrect) << identifier;
  }
  GetUserRequest get;
  get.set_user_id(kim.id());
  ASSERT_TRUE(backend->GetUser(Authed().get(), get, &kim).ok());
  EXPECT_EQ(kim.verification_attempts_remaining(), 8);
  // The unknown identifier's count is kept under a digest, not its address.
  EXPECT_EQ(server.database().Int("SELECT count(*) FROM sign_in_failures"), 1);
  EXPECT_EQ(server.database().Int("SELECT count(*) FROM sign_in_failures "
                                  "WHERE identifier_key LIKE '%nobody%'"),
            0);
}

TEST_F(SignInAttemptsTest, AResetCodeLeadsToANewPasswordAndEndsOtherSessions) {
  CreateSessionRequest create;
  create.set_user_id(kim_.id());
  CreateSessionResponse old_session;
  ASSERT_TRUE(
      backend_->CreateSession(Authed().get(), create, &old_session).ok());

  const SignInAttempt attempt = Start("kim@example.com");
  ResetPasswordRequest reset;
  reset.set_sign_in_attempt_id(attempt.id());
  reset.set_password("a brand new password");
  SignInResponse out;
  grpc::Status status =
      frontend_->ResetPassword(NoCredentials().get(), reset, &out);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");  // No reset code yet.

  ASSERT_TRUE(Prepare(attempt.id(), "reset_password_email_code").ok());
  const EmailMessage email = NextEmail();
  EXPECT_EQ(email.purpose(), "reset_password");
  status =
      Attempt(attempt.id(), "reset_password_email_code", email.code(), &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_NEEDS_NEW_PASSWORD);
  EXPECT_TRUE(out.session_token().empty());

  reset.set_password("short");
  status = frontend_->ResetPassword(NoCredentials().get(), reset, &out);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("password"));
  reset.set_password("a brand new password");
  status = frontend_->ResetPassword(NoCredentials().get(), reset, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);

  // The old session is over; the new password signs in, the old does not.
  FrontendUser me;
  status = frontend_->GetMe(WithToken(old_session.session_token()).get(),
                            GetMeRequest(), &me);
  EXPECT_EQ(ReasonOf(status), "SESSION_INVALID");
  EXPECT_TRUE(
      frontend_
          ->GetMe(WithToken(out.session_token()).get(), GetMeRequest(), &me)
          .ok());
  SignInRequest sign_in;
  sign_in.set_identifier("kimsky");
  sign_in.set_password(kRightPassword);
  SignInResponse signed_in;
  EXPECT_EQ(
      ReasonOf(frontend_->SignIn(NoCredentials().get(), sign_in, &signed_in)),
      "PASSWORD_INCORRECT");
  sign_in.set_password("a brand new password");
  EXPECT_TRUE(
      frontend_->SignIn(NoCredentials().get(), sign_in, &signed_in).ok());
  EXPECT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
}

TEST_F(SignInAttemptsTest, ParallelGuessesStopExactlyAtFiveFailures) {
  for (const char* strategy : {"email_code", "password"}) {
    const SignInAttempt attempt = Start("kim@example.com");
    std::string wrong = "a wrong password";
    if (std::string(strategy) == "email_code") {
      ASSERT_TRUE(Prepare(attempt.id(), strategy).ok());
      wrong = NotThe(NextEmail().code());
    }
    std::atomic<int> failed{0}, exhausted{0};
    std::vector<std::thread> threads;
    threads.reserve(10);
    for (int i = 0; i < 10; ++i) {
      threads.emplace_back([&] {
        SignInResponse out;
        const std::string reason =
            ReasonOf(Attempt(attempt.id(), strategy, wrong, &out));
        failed +=
            reason == "PASSWORD_INCORRECT" || reason == "VERIFICATION_FAILED"
                ? 1
                : 0;
        exhausted += reason == "TOO_MANY_ATTEMPTS" ? 1 : 0;
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(failed.load(), 5) << strategy;
    EXPECT_EQ(exhausted.load(), 5) << strategy;
    SignInResponse out;
    EXPECT_EQ(ReasonOf(Attempt(attempt.id(), "password", kRightPassword, &out)),
              "TOO_MANY_ATTEMPTS");
  }
  // Both attempts' failures counted toward the user's lockout (10).
  GetUserRequest get;
  get.set_user_id(kim_.id());
  User after;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &after).ok());
  EXPECT_TRUE(after.locked()) << after.verification_attempts_remaining();
}

TEST_F(SignInAttemptsTest, BadInputStatesAndExpiryAreRefusedClearly) {
  StartSignInRequest start;
  start.set_identifier("not valid!");
  SignInAttempt attempt;
  grpc::Status status =
      frontend_->StartSignIn(NoCredentials().get(), start, &attempt);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("identifier"));

  const SignInAttempt open = Start("kim@example.com");
  status = Prepare(open.id(), "phone_code");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("strategy"));
  status = Prepare("sia_bad", "email_code");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("sign_in_attempt_id"));
  status = Prepare("sia_2Nq000000000000000000000000", "email_code");
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  SignInResponse out;
  status = Attempt(open.id(), "email_code", "123456", &out);
  EXPECT_EQ(ReasonOf(status), "NO_VERIFICATION_PENDING");
  status = Attempt(open.id(), "email_code", "12ab56", &out);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("code"));

  server_.AdvanceClock(absl::Minutes(11));
  status = Attempt(open.id(), "password", kRightPassword, &out);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");
  server_.AdvanceClock(absl::Hours(2));
  ASSERT_TRUE(server_.server().PruneAccountsForTest().ok());
  status = Attempt(open.id(), "password", kRightPassword, &out);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
}

TEST_F(SignInAttemptsTest, OneAddressStartsOnlySoManyAttemptsAnHour) {
  StartSignInRequest start;
  start.set_identifier("kimsky");
  SignInAttempt attempt;
  int started = 0;
  grpc::Status status;
  for (int i = 0; i < 200; ++i) {
    status = frontend_->StartSignIn(NoCredentials().get(), start, &attempt);
    if (!status.ok()) {
      break;
    }
    ++started;
  }
  EXPECT_EQ(started, 100);
  EXPECT_EQ(ReasonOf(status), "TOO_MANY_ATTEMPTS");
}

// Sign-in tickets: minted as social sign-in and the portal will, exchanged
// once, within 60 s, kept only as a digest.
TEST_F(SignInAttemptsTest, ATicketSignsInOnceWithinItsMinute) {
  auto ticket = server_.server().IssueSignInTicketForTest(kim_.id());
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  EXPECT_TRUE(absl::StartsWith(*ticket, "sit_"));
  EXPECT_EQ(server_.database().Int("SELECT count(*) FROM sign_in_tickets"), 1);
  EXPECT_EQ(server_.database().Int(
                "SELECT count(*) FROM sign_in_tickets WHERE digest = '" +
                *ticket + "'"),
            0);  // Only its digest is kept.
  SignInWithTicketRequest request;
  request.set_ticket(*ticket);
  SignInResponse out;
  grpc::Status status =
      frontend_->SignInWithTicket(NoCredentials().get(), request, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_EQ(out.user().id(), kim_.id());
  EXPECT_FALSE(out.session_token().empty());
  EXPECT_FALSE(out.has_sign_in_attempt());
  status = frontend_->SignInWithTicket(NoCredentials().get(), request, &out);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "TICKET_INVALID");
  for (const char* bad : {"", "sit_", "tkt_abc", "sit_nope"}) {
    request.set_ticket(bad);
    EXPECT_EQ(ReasonOf(frontend_->SignInWithTicket(NoCredentials().get(),
                                                   request, &out)),
              "TICKET_INVALID")
        << bad;
  }
  // Past its minute.
  ticket = server_.server().IssueSignInTicketForTest(kim_.id());
  ASSERT_TRUE(ticket.ok());
  server_.AdvanceClock(absl::Seconds(61));
  request.set_ticket(*ticket);
  EXPECT_EQ(ReasonOf(frontend_->SignInWithTicket(NoCredentials().get(), request,
                                                 &out)),
            "TICKET_INVALID");
  // Expired tickets are pruned.
  server_.AdvanceClock(absl::Hours(2));
  ASSERT_TRUE(server_.server().PruneAccountsForTest().ok());
  EXPECT_EQ(server_.database().Int("SELECT count(*) FROM sign_in_tickets"), 0);
}

TEST_F(SignInAttemptsTest, ATicketSentInParallelSignsInOnce) {
  auto ticket = server_.server().IssueSignInTicketForTest(kim_.id());
  ASSERT_TRUE(ticket.ok());
  std::atomic<int> signed_in{0};
  std::atomic<int> invalid{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      SignInWithTicketRequest request;
      request.set_ticket(*ticket);
      SignInResponse out;
      grpc::Status status =
          frontend_->SignInWithTicket(NoCredentials().get(), request, &out);
      if (status.ok()) {
        ++signed_in;
      } else if (ReasonOf(status) == "TICKET_INVALID") {
        ++invalid;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(signed_in.load(), 1);
  EXPECT_EQ(invalid.load(), 7);
}

// A wrong answer must not learn that an account exists, banned or not: only
// the right password or code hears USER_BANNED, and nothing signs in.
TEST_F(SignInAttemptsTest, OnlyARightAnswerLearnsThatTheUserIsBanned) {
  BanUserRequest ban;
  ban.set_user_id(kim_.id());
  User banned;
  ASSERT_TRUE(backend_->BanUser(Authed().get(), ban, &banned).ok());

  SignInRequest sign_in;
  sign_in.set_identifier("kim@example.com");
  sign_in.set_password("wrong one!");
  SignInResponse out;
  grpc::Status status = frontend_->SignIn(NoCredentials().get(), sign_in, &out);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "PASSWORD_INCORRECT");
  sign_in.set_identifier("nobody@example.com");
  grpc::Status unknown =
      frontend_->SignIn(NoCredentials().get(), sign_in, &out);
  EXPECT_EQ(status.error_message(), unknown.error_message());
  sign_in.set_identifier("kim@example.com");
  sign_in.set_password(kRightPassword);
  status = frontend_->SignIn(NoCredentials().get(), sign_in, &out);
  EXPECT_EQ(status.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(status), "USER_BANNED");

  SignInAttempt attempt = Start("kim@example.com");
  status = Attempt(attempt.id(), "password", "wrong one!", &out);
  EXPECT_EQ(ReasonOf(status), "PASSWORD_INCORRECT");
  status = Attempt(attempt.id(), "password", kRightPassword, &out);
  EXPECT_EQ(ReasonOf(status), "USER_BANNED");

  attempt = Start("kim@example.com");
  ASSERT_TRUE(Prepare(attempt.id(), "email_code").ok());
  const std::string code = NextEmail().code();
  status = Attempt(attempt.id(), "email_code", NotThe(code), &out);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");
  status = Attempt(attempt.id(), "email_code", code, &out);
  EXPECT_EQ(ReasonOf(status), "USER_BANNED");

  // No session came of any of it, and no sign-in time.
  ListSessionsRequest list;
  list.set_user_id(kim_.id());
  ListSessionsResponse sessions;
  ASSERT_TRUE(backend_->ListSessions(Authed().get(), list, &sessions).ok());
  EXPECT_EQ(sessions.sessions_size(), 0);
  GetUserRequest get;
  get.set_user_id(kim_.id());
  User after;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &after).ok());
  EXPECT_FALSE(after.has_last_sign_in_at());
  EXPECT_TRUE(after.banned());
}

}  // namespace
}  // namespace roster

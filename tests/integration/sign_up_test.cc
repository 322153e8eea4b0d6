// Sign-ups end to end (DESIGN §10): a real server, FrontendUsers calls without
// credentials, codes read from WatchEvents the way a mail service reads them,
// and the user and session that completing a sign-up creates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

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
using ::testing::IsEmpty;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

constexpr char kPassword[] = "correct horse battery";

// A code that is certainly not `code`.
std::string WrongCode(const std::string& code) {
  char out[8];
  std::snprintf(out, sizeof(out), "%06d", (std::stoi(code) + 1) % 1000000);
  return out;
}

class SignUpTest : public ::testing::Test {
 protected:
  explicit SignUpTest(
      const std::function<void(app::ServerConfig&)>& adjust = nullptr)
      : server_(adjust) {}

  grpc::Status Create(const CreateSignUpRequest& request, SignUpResponse* out) {
    return frontend_->CreateSignUp(NoCredentials().get(), request, out);
  }

  grpc::Status Update(const UpdateSignUpRequest& request, SignUpResponse* out) {
    return frontend_->UpdateSignUp(NoCredentials().get(), request, out);
  }

  grpc::Status Prepare(const std::string& id, const std::string& strategy,
                       SignUpResponse* out) {
    PrepareSignUpVerificationRequest request;
    request.set_sign_up_id(id);
    request.set_strategy(strategy);
    return frontend_->PrepareSignUpVerification(NoCredentials().get(), request,
                                                out);
  }

  grpc::Status Attempt(const std::string& id, const std::string& code,
                       SignUpResponse* out) {
    AttemptSignUpVerificationRequest request;
    request.set_sign_up_id(id);
    request.set_strategy("email_code");
    request.set_code(code);
    return frontend_->AttemptSignUpVerification(NoCredentials().get(), request,
                                                out);
  }

  // The next email the "mail service" receives.
  EmailMessage NextEmail() {
    auto events = mail_.Next(1);
    EXPECT_EQ(events.size(), 1u);
    return events.empty() ? EmailMessage() : events[0].email();
  }

  // A sign-up with an email address and a password, and the code sent to it.
  std::pair<std::string, std::string> StartWithCode(const std::string& email) {
    CreateSignUpRequest request;
    request.set_email_address(email);
    request.set_password(kPassword);
    SignUpResponse created;
    EXPECT_TRUE(Create(request, &created).ok());
    SignUpResponse prepared;
    EXPECT_TRUE(Prepare(created.sign_up().id(), "email_code", &prepared).ok());
    return {created.sign_up().id(), NextEmail().code()};
  }

  int64_t UsersWithEmail(const std::string& email) {
    CountUsersRequest request;
    request.add_email_addresses(email);
    CountUsersResponse count;
    EXPECT_TRUE(backend_->CountUsers(Authed().get(), request, &count).ok());
    return count.total_count();
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
  std::unique_ptr<FrontendUsers::Stub> frontend_ =
      FrontendUsers::NewStub(server_.channel());
  Watcher mail_{*backend_, 0, {"email.created"}};
};

TEST_F(SignUpTest, AnEmailCodeCompletesTheSignUpWithAUserAndASession) {
  CreateSignUpRequest request;
  request.set_email_address(" Ann@Example.COM ");
  request.set_password(kPassword);
  request.set_first_name("Ann");
  request.set_legal_accepted(true);
  SignUpResponse created;
  ASSERT_TRUE(Create(request, &created).ok());
  const SignUp& sign_up = created.sign_up();
  EXPECT_TRUE(absl::StartsWith(sign_up.id(), "su_")) << sign_up.id();
  EXPECT_EQ(sign_up.status(), SignUp::STATUS_MISSING_REQUIREMENTS);
  EXPECT_THAT(sign_up.required_fields(),
              ElementsAre("email_address", "password"));
  EXPECT_THAT(sign_up.missing_fields(), IsEmpty());
  EXPECT_THAT(sign_up.unverified_fields(), ElementsAre("email_address"));
  EXPECT_EQ(sign_up.email_address(), "ann@example.com");
  EXPECT_TRUE(sign_up.password_enabled());
  EXPECT_TRUE(sign_up.has_legal_accepted_at());
  EXPECT_TRUE(sign_up.has_expire_at());
  EXPECT_TRUE(created.session_token().empty());
  EXPECT_FALSE(created.has_user());
  EXPECT_EQ(UsersWithEmail("ann@example.com"), 0);

  SignUpResponse prepared;
  ASSERT_TRUE(Prepare(sign_up.id(), "email_code", &prepared).ok());
  const EmailMessage email = NextEmail();
  EXPECT_EQ(email.purpose(), "sign_up");
  EXPECT_EQ(email.sign_up_id(), sign_up.id());
  EXPECT_EQ(email.email_address(), "ann@example.com");
  EXPECT_TRUE(email.user_id().empty());
  ASSERT_EQ(email.code().size(), 6u);

  SignUpResponse wrong;
  grpc::Status status = Attempt(sign_up.id(), WrongCode(email.code()), &wrong);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "VERIFICATION_FAILED");
  EXPECT_EQ(status.error_message(), "the code is incorrect; 2 attempts left");

  SignUpResponse done;
  status = Attempt(sign_up.id(), email.code(), &done);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(done.sign_up().status(), SignUp::STATUS_COMPLETE);
  EXPECT_EQ(done.sign_up().created_user_id(), done.user().id());
  EXPECT_EQ(done.sign_up().created_session_id(), done.session().id());
  EXPECT_FALSE(done.session_secret().empty());
  ASSERT_EQ(done.user().email_addresses_size(), 1);
  const EmailAddress& address = done.user().email_addresses(0);
  EXPECT_EQ(address.verification().status(), Verification::STATUS_VERIFIED);
  EXPECT_EQ(address.verification().strategy(), "email_code");
  EXPECT_EQ(done.user().primary_email_address_id(), address.id());
  EXPECT_EQ(done.user().first_name(), "Ann");
  EXPECT_TRUE(done.user().password_enabled());
  EXPECT_TRUE(done.user().has_legal_accepted_at());

  // The token works, and the password signs in.
  FrontendUser me;
  ASSERT_TRUE(
      frontend_
          ->GetMe(WithToken(done.session_token()).get(), GetMeRequest(), &me)
          .ok());
  EXPECT_EQ(me.id(), done.user().id());
  SignInRequest sign_in;
  sign_in.set_identifier("ann@example.com");
  sign_in.set_password(kPassword);
  SignInResponse signed_in;
  EXPECT_TRUE(
      frontend_->SignIn(NoCredentials().get(), sign_in, &signed_in).ok());
  EXPECT_EQ(UsersWithEmail("ann@example.com"), 1);

  // A complete sign-up takes no more changes or codes.
  UpdateSignUpRequest again;
  again.set_sign_up_id(sign_up.id());
  again.set_first_name("Eve");
  status = Update(again, &wrong);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");
  status = Attempt(sign_up.id(), email.code(), &wrong);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");

  // user.created and session.created, in the transaction that completed it.
  Watcher log(*backend_, 0, {"user.created", "session.created"});
  const auto events = log.Next(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), "user.created");
  EXPECT_EQ(events[0].user_id(), done.user().id());
  EXPECT_EQ(events[1].type(), "session.created");
}

TEST_F(SignUpTest, UpdatesFillMissingFieldsAndAChangedAddressIsUnverified) {
  SignUpResponse created;
  ASSERT_TRUE(Create(CreateSignUpRequest(), &created).ok());
  EXPECT_THAT(created.sign_up().missing_fields(),
              ElementsAre("email_address", "password"));
  // Terms not accepted: no legal_accepted_at at all, not the epoch.
  EXPECT_FALSE(created.sign_up().has_legal_accepted_at());
  const std::string id = created.sign_up().id();

  UpdateSignUpRequest update;
  update.set_sign_up_id(id);
  update.set_email_address("bob@example.com");
  SignUpResponse updated;
  ASSERT_TRUE(Update(update, &updated).ok());
  EXPECT_THAT(updated.sign_up().missing_fields(), ElementsAre("password"));
  EXPECT_THAT(updated.sign_up().unverified_fields(),
              ElementsAre("email_address"));

  // Verified, then changed: the new address needs its own code.
  SignUpResponse prepared;
  ASSERT_TRUE(Prepare(id, "email_code", &prepared).ok());
  SignUpResponse verified;
  ASSERT_TRUE(Attempt(id, NextEmail().code(), &verified).ok());
  EXPECT_THAT(verified.sign_up().unverified_fields(), IsEmpty());
  EXPECT_EQ(verified.sign_up().status(), SignUp::STATUS_MISSING_REQUIREMENTS);
  update.set_email_address("bobby@example.com");
  ASSERT_TRUE(Update(update, &updated).ok());
  EXPECT_THAT(updated.sign_up().unverified_fields(),
              ElementsAre("email_address"));

  // The password is the last requirement once the new address is verified.
  ASSERT_TRUE(Prepare(id, "email_code", &prepared).ok());
  ASSERT_TRUE(Attempt(id, NextEmail().code(), &verified).ok());
  EXPECT_TRUE(verified.session_token().empty());
  UpdateSignUpRequest password;
  password.set_sign_up_id(id);
  password.set_password(kPassword);
  SignUpResponse done;
  ASSERT_TRUE(Update(password, &done).ok());
  EXPECT_EQ(done.sign_up().status(), SignUp::STATUS_COMPLETE);
  EXPECT_FALSE(done.session_token().empty());
  EXPECT_EQ(done.user().email_addresses(0).email_address(),
            "bobby@example.com");
  EXPECT_FALSE(done.sign_up().has_legal_accepted_at());
  EXPECT_FALSE(done.user().has_legal_accepted_at());
  EXPECT_EQ(UsersWithEmail("bob@example.com"), 0);
}

TEST_F(SignUpTest, AnIdentifierAUserOwnsIsRefusedWhenGiven) {
  CreateUserRequest existing;
  existing.add_email_addresses("taken@example.com");
  existing.set_username("taken");
  User user;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), existing, &user).ok());

  CreateSignUpRequest request;
  request.set_email_address("Taken@example.com");
  SignUpResponse out;
  grpc::Status status = Create(request, &out);
  EXPECT_EQ(status.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(status), "IDENTIFIER_EXISTS");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("email_address"));

  request.clear_email_address();
  request.set_username("TAKEN");
  status = Create(request, &out);
  EXPECT_EQ(ReasonOf(status), "IDENTIFIER_EXISTS");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("username"));
}

TEST_F(SignUpTest, TwoSignUpsRacingForOneAddressMakeExactlyOneUser) {
  for (int round = 0; round < 3; ++round) {
    const std::string email = absl::StrCat("race", round, "@example.com");
    const auto first = StartWithCode(email);
    const auto second = StartWithCode(email);
    std::atomic<int> completed{0}, refused{0};
    std::vector<std::thread> threads;
    for (const auto& [id, code] : {first, second}) {
      threads.emplace_back([&, id = id, code = code] {
        SignUpResponse out;
        grpc::Status status = Attempt(id, code, &out);
        if (status.ok()) {
          EXPECT_EQ(out.sign_up().status(), SignUp::STATUS_COMPLETE);
          ++completed;
        } else {
          EXPECT_EQ(status.error_code(), grpc::ALREADY_EXISTS)
              << status.error_message();
          EXPECT_EQ(ReasonOf(status), "IDENTIFIER_EXISTS");
          ++refused;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(completed.load(), 1);
    EXPECT_EQ(refused.load(), 1);
    EXPECT_EQ(UsersWithEmail(email), 1);
  }
}

TEST_F(SignUpTest, ParallelWrongCodesAreCountedExactly) {
  const auto [id, code] = StartWithCode("guess@example.com");
  const std::string wrong = WrongCode(code);
  std::atomic<int> failed{0}, exhausted{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, id = id] {
      SignUpResponse out;
      const std::string reason = ReasonOf(Attempt(id, wrong, &out));
      failed += reason == "VERIFICATION_FAILED" ? 1 : 0;
      exhausted += reason == "TOO_MANY_ATTEMPTS" ? 1 : 0;
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // Three wrong codes end the code; every later guess is refused.
  EXPECT_EQ(failed.load(), 3);
  EXPECT_EQ(exhausted.load(), 5);
  SignUpResponse out;
  EXPECT_EQ(ReasonOf(Attempt(id, code, &out)), "TOO_MANY_ATTEMPTS");
}

TEST_F(SignUpTest, BadInputNamesItsFieldAndWritesNothing) {
  struct Case {
    const char* what;
    std::function<void(CreateSignUpRequest&)> set;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"email", [](auto& r) { r.set_email_address("not-an-email"); },
       "email_address"},
      {"phone", [](auto& r) { r.set_phone_number("12345"); }, "phone_number"},
      {"username", [](auto& r) { r.set_username("a b"); }, "username"},
      {"short password", [](auto& r) { r.set_password("short"); }, "password"},
      {"long name", [](auto& r) { r.set_first_name(std::string(300, 'x')); },
       "first_name"},
      {"password equal to the email",
       [](auto& r) {
         r.set_email_address("same@example.com");
         r.set_password("same@example.com");
       },
       "password"},
  };
  for (const Case& c : cases) {
    CreateSignUpRequest request;
    c.set(request);
    SignUpResponse out;
    grpc::Status status = Create(request, &out);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(ViolatedFields(status), ::testing::Contains(c.field)) << c.what;
  }
  // Metadata over 8 KiB.
  CreateSignUpRequest big;
  (*big.mutable_unsafe_metadata()->mutable_fields())["k"].set_string_value(
      std::string(9000, 'x'));
  SignUpResponse out;
  grpc::Status status = Create(big, &out);
  EXPECT_EQ(ReasonOf(status), "METADATA_TOO_LARGE");

  // Ids, strategies and codes.
  UpdateSignUpRequest update;
  update.set_sign_up_id("not-an-id");
  status = Update(update, &out);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("sign_up_id"));
  update.set_sign_up_id("su_2Nq000000000000000000000000");
  status = Update(update, &out);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  SignUpResponse created;
  ASSERT_TRUE(Create(CreateSignUpRequest(), &created).ok());
  status = Prepare(created.sign_up().id(), "sms", &out);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("strategy"));
  // A code for an address the sign-up has not got: a sound request, made too
  // early.
  status = Prepare(created.sign_up().id(), "email_code", &out);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "SIGN_UP_INCOMPLETE");
  EXPECT_THAT(ViolatedFields(status), ElementsAre("strategy"));
  status = Prepare(created.sign_up().id(), "phone_code", &out);
  EXPECT_EQ(ReasonOf(status), "SIGN_UP_INCOMPLETE");
  status = Attempt(created.sign_up().id(), "12ab56", &out);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("code"));

  // A refused update leaves the sign-up as it was.
  UpdateSignUpRequest half;
  half.set_sign_up_id(created.sign_up().id());
  half.set_first_name("Kept");
  half.set_email_address("bad");
  EXPECT_EQ(Update(half, &out).error_code(), grpc::INVALID_ARGUMENT);
  UpdateSignUpRequest read;
  read.set_sign_up_id(created.sign_up().id());
  ASSERT_TRUE(Update(read, &out).ok());
  EXPECT_EQ(out.sign_up().first_name(), "");
  EXPECT_EQ(out.sign_up().email_address(), "");
}

TEST_F(SignUpTest, ASignUpIsAbandonedAfterADayAndPrunedADayLater) {
  SignUpResponse created;
  ASSERT_TRUE(Create(CreateSignUpRequest(), &created).ok());
  UpdateSignUpRequest update;
  update.set_sign_up_id(created.sign_up().id());
  server_.AdvanceClock(absl::Hours(25));
  SignUpResponse out;
  grpc::Status status = Update(update, &out);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");
  ASSERT_TRUE(server_.server().PruneAccountsForTest().ok());
  EXPECT_EQ(ReasonOf(Update(update, &out)), "ATTEMPT_STATE");
  server_.AdvanceClock(absl::Hours(24));
  ASSERT_TRUE(server_.server().PruneAccountsForTest().ok());
  EXPECT_EQ(Update(update, &out).error_code(), grpc::NOT_FOUND);
}

class RestrictedSignUpTest : public SignUpTest {
 protected:
  RestrictedSignUpTest()
      : SignUpTest([](app::ServerConfig& config) {
          config.sign_up_mode = "restricted";
        }) {}
};

TEST_F(RestrictedSignUpTest, WithoutAnInvitationASignUpIsRefused) {
  CreateSignUpRequest request;
  request.set_email_address("eve@example.com");
  SignUpResponse out;
  grpc::Status status = Create(request, &out);
  EXPECT_EQ(status.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(status), "SIGN_UP_RESTRICTED");
  request.set_ticket("made-up");
  status = Create(request, &out);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "TICKET_INVALID");
}

class UsernameSignUpTest : public SignUpTest {
 protected:
  UsernameSignUpTest()
      : SignUpTest([](app::ServerConfig& config) {
          config.sign_up_required = {"username", "password"};
          config.sign_ups_per_address_per_hour = 3;
        }) {}
};

TEST_F(UsernameSignUpTest, WithNothingToVerifyTheFirstCallCompletes) {
  CreateSignUpRequest request;
  request.set_username("carol");
  request.set_password(kPassword);
  SignUpResponse done;
  ASSERT_TRUE(Create(request, &done).ok());
  EXPECT_EQ(done.sign_up().status(), SignUp::STATUS_COMPLETE);
  EXPECT_EQ(done.user().username(), "carol");
  EXPECT_FALSE(done.session_token().empty());
  // An optional email given must be verified before the sign-up completes.
  request.set_username("dave");
  request.set_email_address("dave@example.com");
  ASSERT_TRUE(Create(request, &done).ok());
  EXPECT_EQ(done.sign_up().status(), SignUp::STATUS_MISSING_REQUIREMENTS);
  EXPECT_THAT(done.sign_up().unverified_fields(), ElementsAre("email_address"));
}

TEST_F(UsernameSignUpTest, OneAddressStartsOnlySoManySignUpsAnHour) {
  SignUpResponse out;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Create(CreateSignUpRequest(), &out).ok()) << i;
  }
  grpc::Status status = Create(CreateSignUpRequest(), &out);
  EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(status), "TOO_MANY_ATTEMPTS");
}

}  // namespace
}  // namespace roster

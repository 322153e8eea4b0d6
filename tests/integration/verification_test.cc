// Verification codes and the signed-in user's own identifiers, end to end: a
// real server, FrontendUsers calls with real session tokens, and the codes
// read from WatchEvents the way a mail or SMS service reads them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/test_server.h"
#include "tests/testing/watcher.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NewSessionToken;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::Watcher;
using ::roster::testing::WithToken;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

constexpr auto kVerified = Verification::STATUS_VERIFIED;

// A code that is certainly not `code`.
std::string OtherThan(const std::string& code) {
  char out[8];
  std::snprintf(out, sizeof(out), "%06d", (std::stoi(code) + 1) % 1000000);
  return out;
}

class VerificationTest : public ::testing::Test {
 protected:
  struct Account {
    User user;
    std::string token;
  };

  // A user with one verified email address, signed in through a session the
  // backend created.
  Account NewAccount(const std::string& email) {
    CreateUserRequest create;
    create.add_email_addresses(email);
    Account account;
    EXPECT_TRUE(
        backend_->CreateUser(Authed().get(), create, &account.user).ok());
    CreateSessionRequest session_request;
    session_request.set_user_id(account.user.id());
    CreateSessionResponse session;
    EXPECT_TRUE(
        backend_->CreateSession(Authed().get(), session_request, &session)
            .ok());
    account.token = session.session_token();
    return account;
  }

  FrontendUser Me(const Account& account) {
    FrontendUser me;
    EXPECT_TRUE(
        frontend_->GetMe(WithToken(account.token).get(), GetMeRequest(), &me)
            .ok());
    return me;
  }

  grpc::Status AddEmail(const Account& account, const std::string& address,
                        EmailAddress* out) {
    CreateMyEmailAddressRequest request;
    request.set_email_address(address);
    return frontend_->CreateMyEmailAddress(WithToken(account.token).get(),
                                           request, out);
  }

  grpc::Status PrepareEmail(const Account& account, const std::string& id) {
    PrepareEmailAddressVerificationRequest request;
    request.set_email_address_id(id);
    EmailAddress out;
    return frontend_->PrepareEmailAddressVerification(
        WithToken(account.token).get(), request, &out);
  }

  grpc::Status AttemptEmail(const Account& account, const std::string& id,
                            const std::string& code, EmailAddress* out) {
    AttemptEmailAddressVerificationRequest request;
    request.set_email_address_id(id);
    request.set_code(code);
    return frontend_->AttemptEmailAddressVerification(
        WithToken(account.token).get(), request, out);
  }

  // The next code the "mail service" receives.
  EmailMessage NextEmail() {
    auto events = mail_.Next(1);
    EXPECT_EQ(events.size(), 1u);
    if (events.empty()) {
      return EmailMessage();
    }
    EXPECT_EQ(events[0].type(), "email.created");
    return events[0].email();
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
  std::unique_ptr<FrontendUsers::Stub> frontend_ =
      FrontendUsers::NewStub(server_.channel());
  Watcher mail_{*backend_, 0, {"email.created"}};
};

TEST_F(VerificationTest, AddPrepareAttemptMakePrimaryAndDeleteAnEmailAddress) {
  Account ada = NewAccount("ada@example.com");
  const std::string old_id = ada.user.primary_email_address_id();

  EmailAddress added;
  ASSERT_TRUE(AddEmail(ada, " Ada@Work.example ", &added).ok());
  EXPECT_EQ(added.email_address(), "ada@work.example");
  EXPECT_NE(added.verification().status(), kVerified);
  const std::string etag_before = Me(ada).etag();

  ASSERT_TRUE(PrepareEmail(ada, added.id()).ok());
  const EmailMessage mail = NextEmail();
  EXPECT_EQ(mail.email_address_id(), added.id());
  EXPECT_EQ(mail.email_address(), "ada@work.example");
  EXPECT_EQ(mail.user_id(), ada.user.id());
  EXPECT_THAT(mail.code(), ::testing::MatchesRegex("[0-9]{6}"));
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(std::abs(mail.expire_at().seconds() - (now + 600)), 5);
  FrontendUser prepared = Me(ada);
  EXPECT_NE(prepared.etag(), etag_before);
  EXPECT_EQ(prepared.email_addresses(1).verification().strategy(),
            "email_code");

  EmailAddress verified;
  ASSERT_TRUE(AttemptEmail(ada, added.id(), mail.code(), &verified).ok());
  EXPECT_EQ(verified.verification().status(), kVerified);
  EXPECT_EQ(verified.verification().strategy(), "email_code");

  UpdateMeRequest make_primary;
  make_primary.set_primary_email_address_id(added.id());
  FrontendUser me;
  ASSERT_TRUE(
      frontend_->UpdateMe(WithToken(ada.token).get(), make_primary, &me).ok());
  EXPECT_EQ(me.primary_email_address_id(), added.id());

  DeleteMyEmailAddressRequest remove;
  remove.set_email_address_id(old_id);
  DeletedObject deleted;
  ASSERT_TRUE(
      frontend_
          ->DeleteMyEmailAddress(WithToken(ada.token).get(), remove, &deleted)
          .ok());
  EXPECT_TRUE(deleted.deleted());
  me = Me(ada);
  ASSERT_EQ(me.email_addresses_size(), 1);
  EXPECT_EQ(me.email_addresses(0).id(), added.id());

  // The verified address signs in at once.
  GetUserRequest get;
  get.set_user_id(ada.user.id());
  User backend_view;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &backend_view).ok());
  EXPECT_EQ(backend_view.primary_email_address_id(), added.id());
}

TEST_F(VerificationTest, AddPrepareAttemptMakePrimaryAndDeleteAPhoneNumber) {
  Account ada = NewAccount("ada@example.com");
  Watcher sms(*backend_, 0, {"sms.created"});

  CreateMyPhoneNumberRequest add;
  add.set_phone_number("+1 415 555 0100");
  PhoneNumber phone;
  ASSERT_TRUE(
      frontend_->CreateMyPhoneNumber(WithToken(ada.token).get(), add, &phone)
          .ok());
  EXPECT_EQ(phone.phone_number(), "+14155550100");

  PreparePhoneNumberVerificationRequest prepare;
  prepare.set_phone_number_id(phone.id());
  prepare.set_strategy("phone_code");
  ASSERT_TRUE(frontend_
                  ->PreparePhoneNumberVerification(WithToken(ada.token).get(),
                                                   prepare, &phone)
                  .ok());
  auto events = sms.Next(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), "sms.created");
  EXPECT_EQ(events[0].sms().phone_number(), "+14155550100");
  EXPECT_EQ(events[0].sms().phone_number_id(), phone.id());
  EXPECT_EQ(events[0].sms().user_id(), ada.user.id());

  AttemptPhoneNumberVerificationRequest attempt;
  attempt.set_phone_number_id(phone.id());
  attempt.set_code(events[0].sms().code());
  ASSERT_TRUE(frontend_
                  ->AttemptPhoneNumberVerification(WithToken(ada.token).get(),
                                                   attempt, &phone)
                  .ok());
  EXPECT_EQ(phone.verification().status(), kVerified);
  EXPECT_EQ(phone.verification().strategy(), "phone_code");
  // The first verified number became primary by itself.
  EXPECT_EQ(Me(ada).primary_phone_number_id(), phone.id());

  DeleteMyPhoneNumberRequest remove;
  remove.set_phone_number_id(phone.id());
  DeletedObject deleted;
  ASSERT_TRUE(
      frontend_
          ->DeleteMyPhoneNumber(WithToken(ada.token).get(), remove, &deleted)
          .ok());
  const FrontendUser me = Me(ada);
  EXPECT_EQ(me.phone_numbers_size(), 0);
  EXPECT_EQ(me.primary_phone_number_id(), "");
}

TEST_F(VerificationTest, ThreeWrongCodesFailTheVerification) {
  Account ada = NewAccount("ada@example.com");
  EmailAddress added;
  ASSERT_TRUE(AddEmail(ada, "second@example.com", &added).ok());
  ASSERT_TRUE(PrepareEmail(ada, added.id()).ok());
  const std::string code = NextEmail().code();

  EmailAddress out;
  const std::string messages[] = {
      "the code is incorrect; 2 attempts left",
      "the code is incorrect; 1 attempt left",
      "the code is incorrect; no attempts left, prepare a new one"};
  for (const std::string& message : messages) {
    grpc::Status wrong = AttemptEmail(ada, added.id(), OtherThan(code), &out);
    EXPECT_EQ(wrong.error_code(), grpc::INVALID_ARGUMENT);
    EXPECT_EQ(ReasonOf(wrong), "VERIFICATION_FAILED");
    EXPECT_EQ(wrong.error_message(), message);
  }
  const Verification failed = Me(ada).email_addresses(1).verification();
  EXPECT_EQ(failed.status(), Verification::STATUS_FAILED);
  EXPECT_EQ(failed.attempts(), 3);
  // Even the right code is refused now.
  grpc::Status late = AttemptEmail(ada, added.id(), code, &out);
  EXPECT_EQ(late.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(late), "TOO_MANY_ATTEMPTS");

  // A new code starts over.
  ASSERT_TRUE(PrepareEmail(ada, added.id()).ok());
  ASSERT_TRUE(AttemptEmail(ada, added.id(), NextEmail().code(), &out).ok());
  EXPECT_EQ(out.verification().status(), kVerified);
}

TEST_F(VerificationTest, ASecondPrepareVoidsTheFirstCode) {
  Account ada = NewAccount("ada@example.com");
  EmailAddress added;
  ASSERT_TRUE(AddEmail(ada, "second@example.com", &added).ok());
  ASSERT_TRUE(PrepareEmail(ada, added.id()).ok());
  const std::string first = NextEmail().code();
  std::string second = first;
  // Two codes collide once in a million; prepare again rather than flake.
  while (second == first) {
    ASSERT_TRUE(PrepareEmail(ada, added.id()).ok());
    second = NextEmail().code();
  }
  EmailAddress out;
  grpc::Status voided = AttemptEmail(ada, added.id(), first, &out);
  EXPECT_EQ(ReasonOf(voided), "VERIFICATION_FAILED");
  ASSERT_TRUE(AttemptEmail(ada, added.id(), second, &out).ok());
  EXPECT_EQ(out.verification().status(), kVerified);
}

TEST_F(VerificationTest, PendingAndVerifiedStatesAreChecked) {
  Account ada = NewAccount("ada@example.com");
  EmailAddress added;
  ASSERT_TRUE(AddEmail(ada, "second@example.com", &added).ok());
  EmailAddress out;
  grpc::Status none = AttemptEmail(ada, added.id(), "123456", &out);
  EXPECT_EQ(none.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(none), "NO_VERIFICATION_PENDING");

  grpc::Status malformed = AttemptEmail(ada, added.id(), "12345x", &out);
  EXPECT_EQ(malformed.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(testing::ViolatedFields(malformed), ::testing::Contains("code"));

  grpc::Status verified =
      PrepareEmail(ada, ada.user.primary_email_address_id());
  EXPECT_EQ(verified.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(verified), "ALREADY_VERIFIED");

  PrepareEmailAddressVerificationRequest wrong_strategy;
  wrong_strategy.set_email_address_id(added.id());
  wrong_strategy.set_strategy("phone_code");
  grpc::Status strategy = frontend_->PrepareEmailAddressVerification(
      WithToken(ada.token).get(), wrong_strategy, &out);
  EXPECT_EQ(strategy.error_code(), grpc::INVALID_ARGUMENT);
}

TEST_F(VerificationTest, PrimaryAndLastIdentifierRulesHold) {
  Account ada = NewAccount("ada@example.com");
  EmailAddress unverified;
  ASSERT_TRUE(AddEmail(ada, "second@example.com", &unverified).ok());

  UpdateMeRequest make_primary;
  make_primary.set_primary_email_address_id(unverified.id());
  FrontendUser me;
  grpc::Status primary =
      frontend_->UpdateMe(WithToken(ada.token).get(), make_primary, &me);
  EXPECT_EQ(primary.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(primary), "PRIMARY_MUST_BE_VERIFIED");

  // The unverified address is no way in, so the verified one is the last.
  DeleteMyEmailAddressRequest remove;
  remove.set_email_address_id(ada.user.primary_email_address_id());
  DeletedObject deleted;
  grpc::Status last = frontend_->DeleteMyEmailAddress(
      WithToken(ada.token).get(), remove, &deleted);
  EXPECT_EQ(last.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(last), "LAST_IDENTIFIER");
  EXPECT_EQ(Me(ada).email_addresses_size(), 2);
}

TEST_F(VerificationTest, NoUserCanTouchAnotherUsersIdentifiers) {
  Account ada = NewAccount("ada@example.com");
  Account eve = NewAccount("eve@example.com");
  EmailAddress adas;
  ASSERT_TRUE(AddEmail(ada, "ada2@example.com", &adas).ok());
  CreateExternalAccountRequest link;
  link.set_user_id(ada.user.id());
  link.set_provider("oauth_github");
  link.set_provider_user_id("4242");
  ExternalAccount account;
  ASSERT_TRUE(
      backend_->CreateExternalAccount(Authed().get(), link, &account).ok());
  const FrontendUser ada_before = Me(ada);

  auto expect_not_found = [](const grpc::Status& status) {
    EXPECT_EQ(status.error_code(), grpc::NOT_FOUND) << status.error_message();
    EXPECT_EQ(ReasonOf(status), "NOT_FOUND");
  };
  expect_not_found(PrepareEmail(eve, adas.id()));
  EmailAddress out;
  expect_not_found(AttemptEmail(eve, adas.id(), "123456", &out));
  DeleteMyEmailAddressRequest remove;
  remove.set_email_address_id(adas.id());
  DeletedObject deleted;
  expect_not_found(frontend_->DeleteMyEmailAddress(WithToken(eve.token).get(),
                                                   remove, &deleted));
  remove.set_email_address_id(ada.user.primary_email_address_id());
  expect_not_found(frontend_->DeleteMyEmailAddress(WithToken(eve.token).get(),
                                                   remove, &deleted));
  DeleteMyExternalAccountRequest unlink;
  unlink.set_external_account_id(account.id());
  expect_not_found(frontend_->DeleteMyExternalAccount(
      WithToken(eve.token).get(), unlink, &deleted));
  UpdateMeRequest steal_primary;
  steal_primary.set_primary_email_address_id(
      ada.user.primary_email_address_id());
  FrontendUser eve_after;
  EXPECT_FALSE(
      frontend_->UpdateMe(WithToken(eve.token).get(), steal_primary, &eve_after)
          .ok());

  EXPECT_EQ(Me(ada).etag(), ada_before.etag());  // Nothing changed.
  // The owner can unlink it.
  ASSERT_TRUE(frontend_
                  ->DeleteMyExternalAccount(WithToken(ada.token).get(), unlink,
                                            &deleted)
                  .ok());
  EXPECT_EQ(Me(ada).external_accounts_size(), 0);
}

TEST_F(VerificationTest, TheFirstToVerifyAnAddressWinsIt) {
  Account ada = NewAccount("ada@example.com");
  Account eve = NewAccount("eve@example.com");
  EmailAddress adas, eves;
  ASSERT_TRUE(AddEmail(ada, "shared@example.com", &adas).ok());
  // An unverified claim does not block another user's claim...
  ASSERT_TRUE(AddEmail(eve, "shared@example.com", &eves).ok());

  ASSERT_TRUE(PrepareEmail(ada, adas.id()).ok());
  EmailAddress out;
  ASSERT_TRUE(AttemptEmail(ada, adas.id(), NextEmail().code(), &out).ok());

  // ...but the verified one removes it.
  const FrontendUser eve_after = Me(eve);
  ASSERT_EQ(eve_after.email_addresses_size(), 1);
  EXPECT_EQ(eve_after.email_addresses(0).email_address(), "eve@example.com");
  grpc::Status gone = PrepareEmail(eve, eves.id());
  EXPECT_EQ(gone.error_code(), grpc::NOT_FOUND);
  grpc::Status taken = AddEmail(eve, "shared@example.com", &out);
  EXPECT_EQ(taken.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(taken), "IDENTIFIER_EXISTS");
}

TEST_F(VerificationTest, TwoUsersVerifyingOneAddressAtOnceHaveOneWinner) {
  Account ada = NewAccount("ada@example.com");
  Account eve = NewAccount("eve@example.com");
  EmailAddress adas, eves;
  ASSERT_TRUE(AddEmail(ada, "race@example.com", &adas).ok());
  ASSERT_TRUE(AddEmail(eve, "race@example.com", &eves).ok());
  ASSERT_TRUE(PrepareEmail(ada, adas.id()).ok());
  const std::string ada_code = NextEmail().code();
  ASSERT_TRUE(PrepareEmail(eve, eves.id()).ok());
  const std::string eve_code = NextEmail().code();

  grpc::Status ada_result, eve_result;
  std::thread ada_thread([&] {
    EmailAddress out;
    ada_result = AttemptEmail(ada, adas.id(), ada_code, &out);
  });
  std::thread eve_thread([&] {
    EmailAddress out;
    eve_result = AttemptEmail(eve, eves.id(), eve_code, &out);
  });
  ada_thread.join();
  eve_thread.join();
  // Writes are serialised: the first verifies and removes the other's claim,
  // so the second finds no such address.
  ASSERT_NE(ada_result.ok(), eve_result.ok());
  const grpc::Status& loser = ada_result.ok() ? eve_result : ada_result;
  EXPECT_EQ(loser.error_code(), grpc::NOT_FOUND);
  ListUsersRequest list;
  list.add_email_addresses("race@example.com");
  ListUsersResponse holders;
  ASSERT_TRUE(backend_->ListUsers(Authed().get(), list, &holders).ok());
  ASSERT_EQ(holders.users_size(), 1);
  EXPECT_EQ(holders.users(0).id(),
            ada_result.ok() ? ada.user.id() : eve.user.id());
}

TEST_F(VerificationTest, CodesToOneAddressAreRateLimited) {
  Account ada = NewAccount("ada@example.com");
  EmailAddress added;
  ASSERT_TRUE(AddEmail(ada, "second@example.com", &added).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(PrepareEmail(ada, added.id()).ok());
  }
  grpc::Status sixth = PrepareEmail(ada, added.id());
  EXPECT_EQ(sixth.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(sixth), "TOO_MANY_ATTEMPTS");

  // Deleting and adding the address again does not reset the count.
  DeleteMyEmailAddressRequest remove;
  remove.set_email_address_id(added.id());
  DeletedObject deleted;
  ASSERT_TRUE(
      frontend_
          ->DeleteMyEmailAddress(WithToken(ada.token).get(), remove, &deleted)
          .ok());
  ASSERT_TRUE(AddEmail(ada, "second@example.com", &added).ok());
  EXPECT_EQ(ReasonOf(PrepareEmail(ada, added.id())), "TOO_MANY_ATTEMPTS");
}

// The RetryInfo delay of a failed call, in seconds (-1 when absent).
int64_t RetryDelaySeconds(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) {
    return -1;
  }
  for (const auto& any : details.details()) {
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&retry)) {
      return retry.retry_delay().seconds();
    }
  }
  return -1;
}

// Toll fraud: one account adding address after address to be sent codes.
TEST_F(VerificationTest, CodesToOneUserAreCappedAcrossTheirAddresses) {
  Account ada = NewAccount("ada@example.com");
  std::vector<EmailAddress> added(3);
  for (size_t i = 0; i < added.size(); ++i) {
    ASSERT_TRUE(
        AddEmail(ada, absl::StrCat("extra", i, "@example.com"), &added[i])
            .ok());
  }
  for (size_t i = 0; i < 10; ++i) {  // 5 to each of two addresses.
    ASSERT_TRUE(PrepareEmail(ada, added[i / 5].id()).ok()) << i;
  }
  const grpc::Status eleventh = PrepareEmail(ada, added[2].id());
  EXPECT_EQ(eleventh.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(eleventh), "TOO_MANY_ATTEMPTS");
  EXPECT_THAT(eleventh.error_message(), ::testing::HasSubstr("this user"));
  EXPECT_EQ(RetryDelaySeconds(eleventh), 3600);
  // Another user is not held back by Ada's count.
  Account eve = NewAccount("eve@example.com");
  EmailAddress eves;
  ASSERT_TRUE(AddEmail(eve, "eve2@example.com", &eves).ok());
  EXPECT_TRUE(PrepareEmail(eve, eves.id()).ok());
}

// The operator's budget: every code the service sends, whoever asks.
TEST(VerificationBudgetTest, TheServiceSendsNoMoreCodesThanItsHourlyBudget) {
  TestServer server(
      [](app::ServerConfig& config) { config.codes_per_hour = 3; });
  auto backend = server.Backend();
  auto frontend = FrontendUsers::NewStub(server.channel());
  int sent = 0;
  grpc::Status last;
  for (int i = 0; i < 5; ++i) {
    CreateUserRequest create;
    create.add_email_addresses(absl::StrCat("user", i, "@example.com"));
    User user;
    ASSERT_TRUE(backend->CreateUser(Authed().get(), create, &user).ok());
    const std::string token = NewSessionToken(*backend, user.id());
    CreateMyEmailAddressRequest add;
    add.set_email_address(absl::StrCat("second", i, "@example.com"));
    EmailAddress address;
    ASSERT_TRUE(
        frontend->CreateMyEmailAddress(WithToken(token).get(), add, &address)
            .ok());
    PrepareEmailAddressVerificationRequest prepare;
    prepare.set_email_address_id(address.id());
    last = frontend->PrepareEmailAddressVerification(WithToken(token).get(),
                                                     prepare, &address);
    sent += last.ok() ? 1 : 0;
  }
  EXPECT_EQ(sent, 3);
  EXPECT_EQ(ReasonOf(last), "TOO_MANY_ATTEMPTS");
  EXPECT_THAT(last.error_message(), ::testing::HasSubstr("this service"));
}

}  // namespace
}  // namespace roster

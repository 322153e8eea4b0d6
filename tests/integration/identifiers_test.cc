// Email addresses and phone numbers through BackendUsers: the primary and
// last-identifier rules, uniqueness races, and the user.updated event every
// change emits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

class IdentifiersTest : public ::testing::Test {
 protected:
  User NewUser() {
    User user;
    EXPECT_TRUE(
        stub_->CreateUser(Authed().get(), CreateUserRequest(), &user).ok());
    return user;
  }
  grpc::Status AddEmail(const std::string& user_id, const std::string& address,
                        bool verified, bool primary, EmailAddress* out) {
    CreateEmailAddressRequest request;
    request.set_user_id(user_id);
    request.set_email_address(address);
    request.set_verified(verified);
    request.set_primary(primary);
    return stub_->CreateEmailAddress(Authed().get(), request, out);
  }
  User Get(const std::string& id) {
    GetUserRequest request;
    request.set_user_id(id);
    User user;
    EXPECT_TRUE(stub_->GetUser(Authed().get(), request, &user).ok());
    return user;
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
};

TEST_F(IdentifiersTest, AddVerifyMakePrimaryAndDeleteAnEmailAddress) {
  User user = NewUser();
  EmailAddress first, second;
  ASSERT_TRUE(
      AddEmail(user.id(), " First@Example.com", false, false, &first).ok());
  EXPECT_EQ(first.email_address(), "first@example.com");
  EXPECT_EQ(first.verification().status(), Verification::STATUS_UNVERIFIED);
  EXPECT_FALSE(Get(user.id()).has_primary_email_address_id());

  UpdateEmailAddressRequest verify;
  verify.set_email_address_id(first.id());
  verify.set_verified(true);
  ASSERT_TRUE(stub_->UpdateEmailAddress(Authed().get(), verify, &first).ok());
  EXPECT_EQ(first.verification().status(), Verification::STATUS_VERIFIED);
  EXPECT_EQ(Get(user.id()).primary_email_address_id(),
            first.id());  // First verified: primary.

  EmailAddress unverified;
  grpc::Status status =
      AddEmail(user.id(), "x@example.com", false, true, &unverified);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "PRIMARY_MUST_BE_VERIFIED");
  ASSERT_TRUE(
      AddEmail(user.id(), "second@example.com", true, true, &second).ok());
  EXPECT_EQ(Get(user.id()).primary_email_address_id(), second.id());

  UpdateEmailAddressRequest unverify;
  unverify.set_email_address_id(second.id());
  unverify.set_verified(false);
  EmailAddress ignored;
  status = stub_->UpdateEmailAddress(Authed().get(), unverify, &ignored);
  EXPECT_EQ(ReasonOf(status), "PRIMARY_MUST_BE_VERIFIED");

  DeleteEmailAddressRequest remove;
  remove.set_email_address_id(second.id());
  DeletedObject deleted;
  ASSERT_TRUE(stub_->DeleteEmailAddress(Authed().get(), remove, &deleted).ok());
  EXPECT_EQ(Get(user.id()).primary_email_address_id(),
            first.id());  // Promoted.
  remove.set_email_address_id(first.id());
  status = stub_->DeleteEmailAddress(Authed().get(), remove, &deleted);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "LAST_IDENTIFIER");
  GetEmailAddressRequest get;
  get.set_email_address_id(first.id());
  ASSERT_TRUE(stub_->GetEmailAddress(Authed().get(), get, &ignored).ok());
  EXPECT_EQ(ignored.email_address(), "first@example.com");
  GetPhoneNumberRequest wrong_kind;
  wrong_kind.set_phone_number_id(first.id());
  PhoneNumber phone;
  EXPECT_EQ(
      stub_->GetPhoneNumber(Authed().get(), wrong_kind, &phone).error_code(),
      grpc::NOT_FOUND);

  ListEventsRequest events_request;
  events_request.set_user_id(user.id());
  ListEventsResponse events;
  ASSERT_TRUE(stub_->ListEvents(Authed().get(), events_request, &events).ok());
  EXPECT_EQ(events.events_size(), 5);  // created + add + verify + add + delete.
}

TEST_F(IdentifiersTest,
       PhoneNumbersFollowTheSameRulesPlusSecondFactorReservation) {
  User user = NewUser();
  CreatePhoneNumberRequest add;
  add.set_user_id(user.id());
  add.set_phone_number("+44 20 7946 0958");
  add.set_verified(true);
  add.set_reserved_for_second_factor(true);
  PhoneNumber phone;
  ASSERT_TRUE(stub_->CreatePhoneNumber(Authed().get(), add, &phone).ok());
  EXPECT_EQ(phone.phone_number(), "+442079460958");
  EXPECT_TRUE(phone.reserved_for_second_factor());
  EXPECT_EQ(Get(user.id()).primary_phone_number_id(), phone.id());
  UpdatePhoneNumberRequest update;
  update.set_phone_number_id(phone.id());
  update.set_reserved_for_second_factor(false);
  ASSERT_TRUE(stub_->UpdatePhoneNumber(Authed().get(), update, &phone).ok());
  EXPECT_FALSE(phone.reserved_for_second_factor());
  add.set_phone_number("12345");
  EXPECT_EQ(stub_->CreatePhoneNumber(Authed().get(), add, &phone).error_code(),
            grpc::INVALID_ARGUMENT);
}

// Unverified claims may coexist (DESIGN §3 as refined in docs/api.md); a
// verified one is unique, so racing to add it verified has one winner.
TEST_F(IdentifiersTest, TwoUsersRacingForOneAddressHaveExactlyOneWinner) {
  std::vector<User> users;
  users.reserve(8);
  for (int i = 0; i < 8; ++i) {
    users.push_back(NewUser());
  }
  std::atomic<int> won{0}, lost{0};
  std::vector<std::thread> racers;
  racers.reserve(users.size());
  for (const auto& user : users) {
    racers.emplace_back([&, id = user.id()] {
      auto stub = server_.Backend();
      CreateEmailAddressRequest request;
      request.set_user_id(id);
      request.set_email_address("contested@example.com");
      request.set_verified(true);
      EmailAddress out;
      grpc::Status status =
          stub->CreateEmailAddress(Authed().get(), request, &out);
      if (status.ok()) {
        ++won;
      } else if (ReasonOf(status) == "IDENTIFIER_EXISTS") {
        ++lost;
      }
    });
  }
  for (auto& t : racers) {
    t.join();
  }
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), 7);
}

TEST_F(IdentifiersTest, AUsernameWithAPasswordCountsAsAWayIn) {
  CreateUserRequest create;
  create.set_username("has_a_password");
  create.set_password("long enough password");
  create.add_email_addresses("only@example.com");
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  DeleteEmailAddressRequest remove;
  remove.set_email_address_id(user.email_addresses(0).id());
  DeletedObject deleted;
  EXPECT_TRUE(stub_->DeleteEmailAddress(Authed().get(), remove, &deleted).ok());
  EXPECT_FALSE(Get(user.id()).has_primary_email_address_id());
}

TEST_F(IdentifiersTest, ExternalAccountsLinkTheirVerifiedEmailAndAreUnique) {
  User user = NewUser();
  CreateExternalAccountRequest link;
  link.set_user_id(user.id());
  link.set_provider("oauth_google");
  link.set_provider_user_id("g-12345");
  link.set_email_address("Oauth@Example.com");
  link.set_email_verified(true);
  link.add_approved_scopes("email");
  ExternalAccount account;
  grpc::Status status =
      stub_->CreateExternalAccount(Authed().get(), link, &account);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(absl::StartsWith(account.id(), "eac_"));
  EXPECT_EQ(account.verification().strategy(), "from_oauth_google");
  User linked = Get(user.id());
  ASSERT_EQ(linked.email_addresses_size(), 1);
  EXPECT_EQ(linked.email_addresses(0).email_address(), "oauth@example.com");
  EXPECT_THAT(linked.email_addresses(0).linked_to(),
              ::testing::ElementsAre(account.id()));
  EXPECT_EQ(linked.primary_email_address_id(), linked.email_addresses(0).id());

  User other = NewUser();
  link.set_user_id(other.id());
  link.clear_email_address();
  status = stub_->CreateExternalAccount(Authed().get(), link, &account);
  EXPECT_EQ(status.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(status), "IDENTIFIER_EXISTS");
  link.set_provider("google");
  EXPECT_EQ(
      stub_->CreateExternalAccount(Authed().get(), link, &account).error_code(),
      grpc::INVALID_ARGUMENT);

  // The email address still lets the user in, so the account may go.
  DeleteExternalAccountRequest unlink;
  unlink.set_external_account_id(linked.external_accounts(0).id());
  DeletedObject deleted;
  ASSERT_TRUE(
      stub_->DeleteExternalAccount(Authed().get(), unlink, &deleted).ok());
  EXPECT_EQ(Get(user.id()).external_accounts_size(), 0);
  EXPECT_EQ(stub_->DeleteExternalAccount(Authed().get(), unlink, &deleted)
                .error_code(),
            grpc::NOT_FOUND);
}

}  // namespace
}  // namespace roster

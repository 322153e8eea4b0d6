// Phone numbers as second factors (DESIGN §10) over a real server: a verified
// phone reserved for two-step, its texted codes at sign-in, and backup codes,
// which stand in for an app or such a phone, gone with the last of them when
// the user removes it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/time/time.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/second_factor_fixture.h"
#include "tests/testing/test_server.h"
#include "tests/testing/watcher.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::OathtoolCode;
using ::roster::testing::ReasonOf;
using ::roster::testing::SecondFactorsTest;
using ::roster::testing::ViolatedFields;
using ::roster::testing::WithToken;
using ::testing::ElementsAre;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

TEST_F(SecondFactorsTest, AVerifiedPhoneIsASecondFactorByCode) {
  // Kim's own verified phone, an unverified one, and another user's.
  const PhoneNumber phone = KimsVerifiedPhone();
  CreateMyPhoneNumberRequest unverified_request;
  unverified_request.set_phone_number("+15555550124");
  PhoneNumber unverified;
  ASSERT_TRUE(frontend_
                  ->CreateMyPhoneNumber(WithToken(token_).get(),
                                        unverified_request, &unverified)
                  .ok());
  CreateUserRequest other_request;
  other_request.add_phone_numbers("+15555550125");
  User other;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), other_request, &other).ok());

  UpdateMyPhoneNumberRequest update;
  update.set_reserved_for_second_factor(true);
  PhoneNumber out;
  update.set_phone_number_id(unverified.id());
  grpc::Status status =
      frontend_->UpdateMyPhoneNumber(WithToken(token_).get(), update, &out);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "IDENTIFIER_NOT_VERIFIED");
  update.set_phone_number_id("idn_nope");
  status =
      frontend_->UpdateMyPhoneNumber(WithToken(token_).get(), update, &out);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("phone_number_id"));
  update.set_phone_number_id(other.phone_numbers(0).id());
  status =
      frontend_->UpdateMyPhoneNumber(WithToken(token_).get(), update, &out);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  EXPECT_FALSE(Me().two_factor_enabled());
  update.set_phone_number_id(phone.id());
  update.clear_reserved_for_second_factor();
  update.set_default_second_factor(true);  // Reserves it too.
  status =
      frontend_->UpdateMyPhoneNumber(WithToken(token_).get(), update, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(out.reserved_for_second_factor());
  EXPECT_TRUE(out.default_second_factor());
  EXPECT_TRUE(Me().two_factor_enabled());
  EXPECT_FALSE(Me().totp_enabled());

  roster::testing::Watcher sms(*backend_, 0, {"sms.created"});
  const SignInResponse first = SignInWithPassword();
  EXPECT_EQ(first.status(), SignInAttempt::STATUS_NEEDS_SECOND_FACTOR);
  EXPECT_THAT(first.sign_in_attempt().supported_second_factors(),
              ElementsAre("phone_code"));
  const std::string id = first.sign_in_attempt().id();
  SignInResponse signed_in;
  status = Attempt(id, "phone_code", "123456", &signed_in);
  EXPECT_EQ(ReasonOf(status), "NO_VERIFICATION_PENDING");
  PrepareSignInFactorRequest prepare;
  prepare.set_sign_in_attempt_id(id);
  prepare.set_strategy("totp");
  SignInAttempt prepared;
  status =
      frontend_->PrepareSignInFactor(NoCredentials().get(), prepare, &prepared);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  prepare.set_strategy("phone_code");
  status =
      frontend_->PrepareSignInFactor(NoCredentials().get(), prepare, &prepared);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(prepared.status(), SignInAttempt::STATUS_NEEDS_SECOND_FACTOR);
  const auto events = sms.Next(1);
  ASSERT_EQ(events.size(), 1u);
  const SmsMessage message = events[0].sms();
  EXPECT_EQ(message.phone_number(), "+15555550123");
  EXPECT_EQ(message.purpose(), "second_factor");
  EXPECT_EQ(message.sign_in_attempt_id(), id);
  const std::string wrong = message.code() == "000000" ? "000001" : "000000";
  EXPECT_EQ(ReasonOf(Attempt(id, "phone_code", wrong, &signed_in)),
            "VERIFICATION_FAILED");
  status = Attempt(id, "phone_code", message.code(), &signed_in);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_FALSE(signed_in.session_token().empty());

  // A phone second factor admits backup codes; un-reserving it, the last
  // factor they stood in for, ends 2FA and takes them too.
  BackupCodes codes;
  EXPECT_TRUE(frontend_
                  ->CreateMyBackupCodes(WithToken(token_).get(),
                                        CreateMyBackupCodesRequest(), &codes)
                  .ok());
  EXPECT_TRUE(Me().backup_code_enabled());
  update.clear_default_second_factor();
  update.set_reserved_for_second_factor(false);
  ASSERT_TRUE(
      frontend_->UpdateMyPhoneNumber(WithToken(token_).get(), update, &out)
          .ok());
  EXPECT_FALSE(out.default_second_factor());
  EXPECT_FALSE(Me().backup_code_enabled());
  EXPECT_FALSE(Me().two_factor_enabled());
  EXPECT_TRUE(Me().has_mfa_disabled_at());
  EXPECT_EQ(SignInWithPassword().status(), SignInAttempt::STATUS_COMPLETE);
}

// Backup codes stand in for an app or a second-factor phone. A user who
// removes the last of those has turned two-step verification off: the codes
// go with it, for they could neither be renewed nor removed by the user. While
// another factor remains, they stay. (A backend removing a lost factor keeps
// them: BackendsRemoveWhatAUserLost.)
TEST_F(SecondFactorsTest, RemovingTheLastFactorTakesTheBackupCodesWithIt) {
  std::string secret = EnrollTotp();
  const PhoneNumber phone = KimsVerifiedPhone();
  UpdateMyPhoneNumberRequest reserve;
  reserve.set_phone_number_id(phone.id());
  reserve.set_reserved_for_second_factor(true);
  PhoneNumber reserved;
  ASSERT_TRUE(
      frontend_
          ->UpdateMyPhoneNumber(WithToken(token_).get(), reserve, &reserved)
          .ok());
  BackupCodes codes;
  ASSERT_TRUE(frontend_
                  ->CreateMyBackupCodes(WithToken(token_).get(),
                                        CreateMyBackupCodesRequest(), &codes)
                  .ok());

  // The app goes; the phone remains, and so do the codes.
  DeleteMyTotpRequest remove_app;
  remove_app.set_code(OathtoolCode(secret, server_.Now() + absl::Seconds(30)));
  FrontendUser me;
  grpc::Status status =
      frontend_->DeleteMyTotp(WithToken(token_).get(), remove_app, &me);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(me.totp_enabled());
  EXPECT_TRUE(me.backup_code_enabled());
  EXPECT_TRUE(me.two_factor_enabled());

  // The phone goes too: nothing is left for the codes to stand in for.
  DeleteMyPhoneNumberRequest remove_phone;
  remove_phone.set_phone_number_id(phone.id());
  DeletedObject deleted;
  status = frontend_->DeleteMyPhoneNumber(WithToken(token_).get(), remove_phone,
                                          &deleted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  me = Me();
  EXPECT_FALSE(me.backup_code_enabled());
  EXPECT_FALSE(me.two_factor_enabled());
  EXPECT_TRUE(me.has_mfa_disabled_at());
  SignInResponse signed_in = SignInWithPassword();
  EXPECT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  EXPECT_FALSE(signed_in.session_token().empty());

  // An app removed with one of the backup codes, as its only factor.
  secret = EnrollTotp();
  ASSERT_TRUE(frontend_
                  ->CreateMyBackupCodes(WithToken(token_).get(),
                                        CreateMyBackupCodesRequest(), &codes)
                  .ok());
  remove_app.set_code(codes.codes(0));
  status = frontend_->DeleteMyTotp(WithToken(token_).get(), remove_app, &me);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(me.backup_code_enabled());
  EXPECT_FALSE(me.two_factor_enabled());
  EXPECT_EQ(SignInWithPassword().status(), SignInAttempt::STATUS_COMPLETE);
}

}  // namespace
}  // namespace roster

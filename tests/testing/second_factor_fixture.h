// SecondFactorsTest: Kim, a user with an email address and a password, and a
// session token, on a real server with --data_keys_file; codes come from
// `oathtool`, an implementation independent of ours. Shared by the second
// factor suites (second_factors_test.cc, second_factor_phones_test.cc).
#ifndef ROSTER_TESTS_TESTING_SECOND_FACTOR_FIXTURE_H_
#define ROSTER_TESTS_TESTING_SECOND_FACTOR_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/data_keys.h"
#include "tests/testing/run_tool.h"
#include "tests/testing/test_server.h"

namespace roster::testing {

inline constexpr char kTotpUserPassword[] = "correct horse battery";

// The code of `secret` (base32) at `time`, by oathtool.
inline std::string OathtoolCode(const std::string& secret, absl::Time time) {
  return RunTool(absl::StrCat("oathtool --totp -b --now @",
                              absl::ToUnixSeconds(time), " ", secret));
}

class SecondFactorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::CreateUserRequest create;
    create.add_email_addresses("kim@example.com");
    create.set_password(kTotpUserPassword);
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &kim_).ok());
    // Codes are checked against the server's clock: start 15 s into a step,
    // so a step computed here is the server's for the next 15 s.
    const int64_t into_step = absl::ToUnixSeconds(server_.Now()) % 30;
    server_.AdvanceClock(absl::Seconds((45 - into_step) % 30));
    token_ = NewSessionToken(*backend_, kim_.id());
  }

  // A verified authenticator app for Kim; its base32 secret.
  std::string EnrollTotp() {
    v1::Totp totp;
    grpc::Status status = frontend_->CreateMyTotp(
        WithToken(token_).get(), v1::CreateMyTotpRequest(), &totp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::VerifyMyTotpRequest verify;
    verify.set_code(OathtoolCode(totp.secret(), server_.Now()));
    v1::Totp verified;
    status =
        frontend_->VerifyMyTotp(WithToken(token_).get(), verify, &verified);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(verified.verified());
    return totp.secret();
  }

  // +15555550123, added to Kim's account by a backend, verified.
  v1::PhoneNumber KimsVerifiedPhone() {
    v1::CreatePhoneNumberRequest add;
    add.set_user_id(kim_.id());
    add.set_phone_number("+15555550123");
    add.set_verified(true);
    v1::PhoneNumber phone;
    grpc::Status status =
        backend_->CreatePhoneNumber(Authed().get(), add, &phone);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return phone;
  }

  // SignIn with Kim's password.
  v1::SignInResponse SignInWithPassword() {
    v1::SignInRequest request;
    request.set_identifier("kim@example.com");
    request.set_password(kTotpUserPassword);
    v1::SignInResponse out;
    grpc::Status status =
        frontend_->SignIn(NoCredentials().get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  grpc::Status Attempt(const std::string& id, const std::string& strategy,
                       const std::string& code, v1::SignInResponse* out) {
    v1::AttemptSignInFactorRequest request;
    request.set_sign_in_attempt_id(id);
    request.set_strategy(strategy);
    request.set_code(code);
    return frontend_->AttemptSignInFactor(NoCredentials().get(), request, out);
  }

  v1::FrontendUser Me() {
    v1::FrontendUser me;
    EXPECT_TRUE(
        frontend_->GetMe(WithToken(token_).get(), v1::GetMeRequest(), &me)
            .ok());
    return me;
  }

  TestServer server_{[](app::ServerConfig& config) {
    config.data_keys = domain::DataKeys::NewFile();
  }};
  std::unique_ptr<v1::BackendUsers::Stub> backend_ = server_.Backend();
  std::unique_ptr<v1::FrontendUsers::Stub> frontend_ =
      v1::FrontendUsers::NewStub(server_.channel());
  v1::User kim_;
  std::string token_;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_SECOND_FACTOR_FIXTURE_H_

// A social sign-up that needs more than the provider gave, as an app meets
// it: SignInWithTicket answers SIGN_UP_INCOMPLETE naming the sign-up, which
// UpdateSignUp reads and completes.
#ifndef ROSTER_TESTS_TESTING_PENDING_SIGN_UP_H_
#define ROSTER_TESTS_TESTING_PENDING_SIGN_UP_H_

#include <gtest/gtest.h>

#include <string>

#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/error_details.h"
#include "tests/testing/test_server.h"

namespace roster::testing {

// The sign-up `ticket` stands for ("" when it stood for none: a failure).
inline std::string PendingSignUpOf(roster::v1::FrontendUsers::Stub& frontend,
                                   const std::string& ticket) {
  roster::v1::SignInWithTicketRequest request;
  request.set_ticket(ticket);
  roster::v1::SignInResponse unused;
  const grpc::Status status =
      frontend.SignInWithTicket(NoCredentials().get(), request, &unused);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION)
      << status.error_message();
  EXPECT_EQ(ReasonOf(status), "SIGN_UP_INCOMPLETE");
  return ErrorMetadataOf(status, "sign_up_id");
}

// The sign-up `sign_up_id` as it stands (an UpdateSignUp that sets nothing).
inline roster::v1::SignUp ReadSignUp(roster::v1::FrontendUsers::Stub& frontend,
                                     const std::string& sign_up_id) {
  roster::v1::UpdateSignUpRequest request;
  request.set_sign_up_id(sign_up_id);
  roster::v1::SignUpResponse response;
  const grpc::Status status =
      frontend.UpdateSignUp(NoCredentials().get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.sign_up();
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_PENDING_SIGN_UP_H_

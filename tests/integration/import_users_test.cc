// ImportUsers end to end: per-item results, in-batch duplicates, validate_only,
// idempotency.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::TestServer;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

std::string ReasonIn(const google::rpc::Status& status) {
  for (const auto& any : status.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) {
      return info.reason();
    }
  }
  return "";
}

class ImportUsersTest : public ::testing::Test {
 protected:
  ImportUsersRequest Batch() {
    ImportUsersRequest request;
    auto* digest = request.add_users();
    digest->add_email_addresses("one@example.com");
    digest->set_password_digest(
        "7c6a180b36896a0a8c02787eeafb0e4c");  // md5("password1")
    digest->set_password_hasher("md5");
    request.add_users()->add_email_addresses("not an email");
    request.add_users()->add_email_addresses(
        "ONE@example.com");  // Repeats item 0.
    auto* plain = request.add_users();
    plain->add_email_addresses("two@example.com");
    plain->set_password("plaintext password");
    return request;
  }

  int64_t Count() {
    CountUsersResponse count;
    EXPECT_TRUE(
        stub_->CountUsers(Authed().get(), CountUsersRequest(), &count).ok());
    return count.total_count();
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
};

TEST_F(ImportUsersTest, EachItemSucceedsOrFailsOnItsOwn) {
  ImportUsersResponse response;
  grpc::Status status = stub_->ImportUsers(Authed().get(), Batch(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).status().code(), 0);
  EXPECT_TRUE(response.results(0).user().password_enabled());
  EXPECT_EQ(response.results(1).status().code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonIn(response.results(1).status()), "INVALID_ARGUMENT_FORMAT");
  EXPECT_EQ(response.results(2).status().code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(ReasonIn(response.results(2).status()), "IDENTIFIER_EXISTS");
  EXPECT_EQ(response.results(3).status().code(), 0);
  EXPECT_EQ(Count(), 2);
  VerifyPasswordRequest verify;
  verify.set_user_id(response.results(0).user().id());
  verify.set_password("password1");
  VerifyPasswordResponse verified;
  ASSERT_TRUE(stub_->VerifyPassword(Authed().get(), verify, &verified).ok());
  EXPECT_TRUE(verified.verified());
}

TEST_F(ImportUsersTest,
       ValidateOnlyStoresNothingAndABatchRequestIdMakesRetriesIdempotent) {
  ImportUsersRequest request = Batch();
  request.set_validate_only(true);
  ImportUsersResponse checked;
  ASSERT_TRUE(stub_->ImportUsers(Authed().get(), request, &checked).ok());
  ASSERT_EQ(checked.results_size(), 4);
  EXPECT_EQ(checked.results(0).status().code(), 0);
  EXPECT_EQ(checked.results(2).status().code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(Count(), 0);
  ListEventsResponse events;
  ASSERT_TRUE(
      stub_->ListEvents(Authed().get(), ListEventsRequest(), &events).ok());
  EXPECT_EQ(events.events_size(), 0);

  request.set_validate_only(false);
  request.set_request_id("batch-7");
  ImportUsersResponse first, retried;
  ASSERT_TRUE(stub_->ImportUsers(Authed().get(), request, &first).ok());
  ASSERT_TRUE(stub_->ImportUsers(Authed().get(), request, &retried).ok());
  EXPECT_EQ(retried.results(0).user().id(), first.results(0).user().id());
  EXPECT_EQ(retried.results(3).user().id(), first.results(3).user().id());
  EXPECT_EQ(Count(), 2);
}

TEST_F(ImportUsersTest, EmptyOrOversizedBatchesAreInvalid) {
  ImportUsersResponse response;
  EXPECT_EQ(stub_->ImportUsers(Authed().get(), ImportUsersRequest(), &response)
                .error_code(),
            grpc::INVALID_ARGUMENT);
  ImportUsersRequest huge;
  for (int i = 0; i < 1001; ++i) {
    huge.add_users();
  }
  EXPECT_EQ(stub_->ImportUsers(Authed().get(), huge, &response).error_code(),
            grpc::INVALID_ARGUMENT);
  EXPECT_EQ(Count(), 0);
}

}  // namespace
}  // namespace roster

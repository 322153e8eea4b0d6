#include "server/api/status_mapping.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

struct Decoded {
  google::rpc::Status status;
  google::rpc::ErrorInfo info;
  google::rpc::BadRequest bad_request;
  bool has_retry_info = false;
};

Decoded Decode(const grpc::Status& status) {
  Decoded d;
  EXPECT_TRUE(d.status.ParseFromString(status.error_details()));
  for (const auto& any : d.status.details()) {
    if (any.Is<google::rpc::ErrorInfo>()) {
      any.UnpackTo(&d.info);
    } else if (any.Is<google::rpc::BadRequest>()) {
      any.UnpackTo(&d.bad_request);
    } else if (any.Is<google::rpc::RetryInfo>()) {
      d.has_retry_info = true;
    }
  }
  return d;
}

struct CodeCase {
  absl::StatusCode absl_code;
  grpc::StatusCode grpc_code;
  const char* default_reason;
  bool message_hidden;  // Server-side failures never send their message.
};

constexpr CodeCase kCodes[] = {
    {absl::StatusCode::kCancelled, grpc::CANCELLED, "CANCELLED", false},
    {absl::StatusCode::kUnknown, grpc::UNKNOWN, "INTERNAL", true},
    {absl::StatusCode::kInvalidArgument, grpc::INVALID_ARGUMENT,
     "INVALID_ARGUMENT_FORMAT", false},
    {absl::StatusCode::kDeadlineExceeded, grpc::DEADLINE_EXCEEDED,
     "DEADLINE_EXCEEDED", false},
    {absl::StatusCode::kNotFound, grpc::NOT_FOUND, "NOT_FOUND", false},
    {absl::StatusCode::kAlreadyExists, grpc::ALREADY_EXISTS, "ALREADY_EXISTS",
     false},
    {absl::StatusCode::kPermissionDenied, grpc::PERMISSION_DENIED,
     "PERMISSION_DENIED", false},
    {absl::StatusCode::kResourceExhausted, grpc::RESOURCE_EXHAUSTED,
     "RESOURCE_EXHAUSTED", true},
    {absl::StatusCode::kFailedPrecondition, grpc::FAILED_PRECONDITION,
     "FAILED_PRECONDITION", true},
    {absl::StatusCode::kAborted, grpc::ABORTED, "ABORTED", false},
    {absl::StatusCode::kOutOfRange, grpc::OUT_OF_RANGE, "OUT_OF_RANGE", false},
    {absl::StatusCode::kUnimplemented, grpc::UNIMPLEMENTED, "UNIMPLEMENTED",
     false},
    {absl::StatusCode::kInternal, grpc::INTERNAL, "INTERNAL", true},
    {absl::StatusCode::kUnavailable, grpc::UNAVAILABLE, "UNAVAILABLE", true},
    {absl::StatusCode::kDataLoss, grpc::DATA_LOSS, "INTERNAL", true},
    {absl::StatusCode::kUnauthenticated, grpc::UNAUTHENTICATED,
     "UNAUTHENTICATED", false},
};

TEST(ToGrpcStatusTest, OkHasNoDetails) {
  grpc::Status status = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(status.error_details().empty());
}

TEST(ToGrpcStatusTest, EveryCodeMapsWithErrorInfoAndServerSideMessagesHidden) {
  for (const auto& c : kCodes) {
    const absl::Status in(c.absl_code, "SELECT secret FROM /var/lib/roster.db");
    grpc::Status out = ToGrpcStatus(in);
    EXPECT_EQ(out.error_code(), c.grpc_code) << in;
    Decoded d = Decode(out);
    EXPECT_EQ(d.status.code(), static_cast<int>(c.grpc_code));
    EXPECT_EQ(d.info.domain(), "roster");
    EXPECT_EQ(d.info.reason(), c.default_reason) << in;
    const bool leaked = absl::StrContains(out.error_message(), "SELECT");
    EXPECT_EQ(leaked, !c.message_hidden) << in;
    EXPECT_EQ(d.status.message(), out.error_message());
    EXPECT_EQ(d.has_retry_info, c.absl_code == absl::StatusCode::kUnavailable);
  }
}

TEST(ToGrpcStatusTest, DomainReasonAndFieldViolationsBecomeDetails) {
  domain::Violations violations;
  violations.Add("username", "must be 4-64 characters",
                 domain::reason::kUsernameInvalid);
  violations.Add("email_addresses[2]", "must be an email address");
  grpc::Status out = ToGrpcStatus(violations.ToStatus());
  EXPECT_EQ(out.error_code(), grpc::INVALID_ARGUMENT);
  Decoded d = Decode(out);
  EXPECT_EQ(d.info.reason(), "USERNAME_INVALID");
  ASSERT_EQ(d.bad_request.field_violations_size(), 2);
  EXPECT_EQ(d.bad_request.field_violations(0).field(), "username");
  EXPECT_EQ(d.bad_request.field_violations(1).field(), "email_addresses[2]");
  EXPECT_EQ(d.bad_request.field_violations(1).description(),
            "must be an email address");
}

TEST(ToGrpcStatusTest, DomainRuleFailuresKeepTheirMessage) {
  absl::Status rule =
      domain::Error(absl::StatusCode::kFailedPrecondition,
                    domain::reason::kPrimaryMustBeVerified, "must be verified");
  grpc::Status out = ToGrpcStatus(rule);
  EXPECT_EQ(out.error_message(), "must be verified");
  EXPECT_EQ(Decode(out).info.reason(), "PRIMARY_MUST_BE_VERIFIED");
}

}  // namespace
}  // namespace roster::api

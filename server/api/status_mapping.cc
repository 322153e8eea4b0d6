#include "server/api/status_mapping.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/api/log.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

// A reason for statuses that did not set one, e.g. from the storage layer.
const char* DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return domain::reason::kInvalidArgumentFormat;
    case absl::StatusCode::kNotFound:
      return domain::reason::kNotFound;
    case absl::StatusCode::kUnauthenticated:
      return domain::reason::kUnauthenticated;
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    default:
      return "INTERNAL";
  }
}

// Statuses whose message may hold server internals (SQL errors, file paths).
bool IsServerSide(const absl::Status& status, const std::string& reason) {
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return true;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
      return reason.empty();  // From storage, not a domain rule.
    default:
      return false;
  }
}

}  // namespace

grpc::StatusCode ToGrpcCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return grpc::StatusCode::OK;
    case absl::StatusCode::kCancelled:
      return grpc::StatusCode::CANCELLED;
    case absl::StatusCode::kUnknown:
      return grpc::StatusCode::UNKNOWN;
    case absl::StatusCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case absl::StatusCode::kDeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case absl::StatusCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case absl::StatusCode::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case absl::StatusCode::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case absl::StatusCode::kAborted:
      return grpc::StatusCode::ABORTED;
    case absl::StatusCode::kOutOfRange:
      return grpc::StatusCode::OUT_OF_RANGE;
    case absl::StatusCode::kUnimplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case absl::StatusCode::kInternal:
      return grpc::StatusCode::INTERNAL;
    case absl::StatusCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case absl::StatusCode::kDataLoss:
      return grpc::StatusCode::DATA_LOSS;
    case absl::StatusCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    default:
      return grpc::StatusCode::UNKNOWN;
  }
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status details;
  if (status.ok()) {
    return details;
  }
  const std::string own_reason = domain::ReasonOf(status);
  const std::string reason =
      own_reason.empty() ? DefaultReason(status.code()) : own_reason;
  std::string message(status.message());
  if (IsServerSide(status, own_reason)) {
    LogJson("error", message,
            absl::StrCat(",\"code\":\"",
                         absl::StatusCodeToString(status.code()), "\""));
    message = status.code() == absl::StatusCode::kUnavailable
                  ? "the database is temporarily unavailable; retry"
              : status.code() == absl::StatusCode::kResourceExhausted
                  ? "the server is out of storage space"
                  : "internal error";
  }
  details.set_code(static_cast<int32_t>(ToGrpcCode(status.code())));
  details.set_message(message);
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain(kErrorDomain);
  for (auto& [key, value] : domain::ErrorMetadataOf(status)) {
    (*info.mutable_metadata())[key] = std::move(value);
  }
  details.add_details()->PackFrom(info);
  const auto violations = domain::FieldViolationsOf(status);
  if (!violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const auto& v : violations) {
      auto* out = bad_request.add_field_violations();
      out->set_field(v.field);
      out->set_description(v.description);
    }
    details.add_details()->PackFrom(bad_request);
  }
  if (const auto after = domain::RetryAfterOf(status)) {
    // Whole seconds, rounded up: retrying early is refused again.
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(
        absl::ToInt64Seconds(absl::Ceil(*after, absl::Seconds(1))));
    details.add_details()->PackFrom(retry);
  } else if (status.code() == absl::StatusCode::kUnavailable) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(1);
    details.add_details()->PackFrom(retry);
  }
  return details;
}

grpc::Status ErrorStatus(
    absl::StatusCode code, absl::string_view reason, absl::string_view message,
    const std::vector<std::pair<std::string, std::string>>& violations) {
  std::vector<domain::FieldViolation> fields;
  fields.reserve(violations.size());
  for (const auto& [field, description] : violations) {
    fields.push_back({field, description});
  }
  return ToGrpcStatus(domain::Error(code, reason, message, fields));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  const google::rpc::Status details = ToRpcStatus(status);
  return grpc::Status(static_cast<grpc::StatusCode>(details.code()),
                      details.message(), details.SerializeAsString());
}

}  // namespace roster::api

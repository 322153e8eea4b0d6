// What a failed call's google.rpc.Status details say, for tests and the abuse
// harness: the ErrorInfo reason and metadata.
#ifndef ROSTER_TESTS_TESTING_ERROR_DETAILS_H_
#define ROSTER_TESTS_TESTING_ERROR_DETAILS_H_

#include <grpcpp/support/status.h>

#include <optional>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace roster::testing {

// The ErrorInfo in a failed call's details, if any.
inline std::optional<google::rpc::ErrorInfo> ErrorInfoOf(
    const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) {
      return info;
    }
  }
  return std::nullopt;
}

// The ErrorInfo reason in a failed call's details ("" when absent).
inline std::string ReasonOf(const grpc::Status& status) {
  const auto info = ErrorInfoOf(status);
  if (!info.has_value()) {
    return "";
  }
  return info->domain() == "roster" ? info->reason()
                                    : "wrong domain: " + info->domain();
}

// The ErrorInfo metadata value under `key` ("" when absent).
inline std::string ErrorMetadataOf(const grpc::Status& status,
                                   const std::string& key) {
  const auto info = ErrorInfoOf(status);
  if (!info.has_value()) {
    return "";
  }
  const auto found = info->metadata().find(key);
  return found == info->metadata().end() ? "" : found->second;
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_ERROR_DETAILS_H_

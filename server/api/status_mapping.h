// The one place an absl::Status becomes a grpc::Status, with google.rpc.Status
// details in grpc-status-details-bin: always an ErrorInfo (domain "roster", the
// reason), a BadRequest when the status carries field violations, and RetryInfo
// for UNAVAILABLE. Internal failures are logged in full and sent as a generic
// message, so no SQL, path or stack text leaves the server.
#ifndef ROSTER_SERVER_API_STATUS_MAPPING_H_
#define ROSTER_SERVER_API_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/status.pb.h"

namespace roster::api {

inline constexpr char kErrorDomain[] = "roster";

// `status` as gRPC sends it. OK maps to OK with no details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The google.rpc.Status that ToGrpcStatus sends as details (code, message,
// ErrorInfo, BadRequest, RetryInfo), for answers that carry a status per item
// (ImportUsers). OK is an empty message (code 0).
google::rpc::Status ToRpcStatus(const absl::Status& status);

// A status with `reason` and (field, description) violations, as
// ToGrpcStatus sends one, for the layers above the domain (server/web).
grpc::Status ErrorStatus(
    absl::StatusCode code, absl::string_view reason, absl::string_view message,
    const std::vector<std::pair<std::string, std::string>>& violations = {});

// The gRPC code for an absl code (they share numbering; the switch makes it
// explicit).
grpc::StatusCode ToGrpcCode(absl::StatusCode code);

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_STATUS_MAPPING_H_

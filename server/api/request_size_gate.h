// RequestSizeGate: a gRPC service that serves another callback service's
// methods under the same names, and refuses a request above its method's
// limit (MaxRequestBytesOf) before gRPC parses it (DESIGN §14).
//
// gRPC 1.51 parses a request before any handler can look at it, and its
// receive limit is one per server (11 MiB, for image uploads). Parsing
// 10 MiB sent to a 64 KiB method cost the server more CPU than reading it
// (roster-abuse's oversized gRPC messages, docs/reliability.md). Here the
// caller gets the method's RESOURCE_EXHAUSTED (REQUEST_TOO_LARGE) before
// authentication, and its bytes are never copied.
#ifndef ROSTER_SERVER_API_REQUEST_SIZE_GATE_H_
#define ROSTER_SERVER_API_REQUEST_SIZE_GATE_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/impl/codegen/service_type.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "server/api/bounded_executor.h"

namespace roster::api {

// An upload admitted on its call's metadata (credentials, request id, rate
// limits): `serve` parses the request once it is read, does the call's work
// and writes the response, on `executor` (inline when null; `what` names its
// work when the executor is full).
struct AdmittedUpload {
  BoundedExecutor* executor = nullptr;
  const char* what = "";
  absl::AnyInvocable<absl::Status(const grpc::ByteBuffer& request,
                                  grpc::ByteBuffer& response) &&>
      serve;
};
// Admits an upload, or gives the status to answer before its request is read.
using UploadAdmission = std::function<absl::StatusOr<AdmittedUpload>(
    const grpc::CallbackServerContext& context)>;

class RequestSizeGate final : public grpc::Service {
 public:
  // Serves `service`'s methods through `handler_at(i)`, the handler of its
  // method i in the descriptor's order (a callback service's GetHandler),
  // except the methods named in `uploads`, which it serves through their
  // admission. The handlers are not owned and must outlive this.
  RequestSizeGate(
      const google::protobuf::ServiceDescriptor& service,
      const std::function<grpc::internal::MethodHandler*(int)>& handler_at,
      absl::flat_hash_map<std::string, UploadAdmission> uploads);

 private:
  // The methods' paths; gRPC keeps pointers to them.
  std::vector<std::unique_ptr<std::string>> paths_;
  // By method name; the upload handlers refer to them.
  const absl::flat_hash_map<std::string, UploadAdmission> uploads_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_REQUEST_SIZE_GATE_H_

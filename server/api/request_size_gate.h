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

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace roster::api {

class RequestSizeGate final : public grpc::Service {
 public:
  // Serves `service`'s methods through `handler_at(i)`, the handler of its
  // method i in the descriptor's order (a callback service's GetHandler).
  // The handlers are not owned and must outlive this.
  RequestSizeGate(
      const google::protobuf::ServiceDescriptor& service,
      const std::function<grpc::internal::MethodHandler*(int)>& handler_at);

 private:
  // The methods' paths; gRPC keeps pointers to them.
  std::vector<std::unique_ptr<std::string>> paths_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_REQUEST_SIZE_GATE_H_

// RpcGateway: how a browser reaches the gRPC services (DESIGN §12). A Connect
// unary request (JSON or binary protobuf) or a gRPC-Web request (binary or
// base64 text) on the HTTP listener becomes one call on the server's
// in-process channel, so it passes the same interceptors, authentication,
// limits, logs and metrics as a call on the gRPC port; the answer is encoded
// back in the caller's protocol, errors with their ErrorInfo and BadRequest.
// The caller's address travels as kClientAddressHeader, which the services
// believe only beside the process's GatewayKey() (server/api/call_context.h).
#ifndef ROSTER_SERVER_WEB_RPC_GATEWAY_H_
#define ROSTER_SERVER_WEB_RPC_GATEWAY_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

namespace roster::web {

// A POST to /<package>.<Service>/<Method>, as the HTTP listener read it.
struct HttpCall {
  std::string path;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Names lowered.
  std::string peer;  // The caller, as gRPC spells a peer: "ipv4:1.2.3.4:5".
};

struct HttpAnswer {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A Connect error answer (HTTP status and JSON body with the details) for a
// non-OK `status`.
HttpAnswer ConnectErrorAnswer(const grpc::Status& status);

class RpcGateway {
 public:
  // `channels`: full service name ("roster.v1.FrontendUsers") to the
  // in-process channel that serves it. Services not named are 404.
  explicit RpcGateway(
      std::map<std::string, std::shared_ptr<grpc::Channel>> channels);

  // The call made and answered. Thread-safe; blocks for the call's time
  // (bounded by the caller's timeout header and kMaxCallTime).
  HttpAnswer Call(const HttpCall& call) const;

  // Whether `call` is a server-streaming method in a streaming protocol
  // (Connect's application/connect+json or +proto, or gRPC-Web): Stream
  // answers it, not Call.
  bool IsStreaming(const HttpCall& call) const;

  // The content type of Stream's answer to `call`.
  static std::string StreamContentType(const HttpCall& call);

  // Answers a streaming `call` (HTTP 200): each message is framed and given
  // to `write` as the server sends it, then the status (Connect's end-stream
  // frame, or gRPC-Web's trailers). `write` returns false, or `keep_going`
  // does when polled every 200 ms, once the browser is gone: the call is
  // then cancelled. Blocks for the stream's life; thread-safe.
  void Stream(const HttpCall& call,
              const std::function<bool(const std::string&)>& write,
              const std::function<bool()>& keep_going) const;

  static constexpr absl::Duration kMaxCallTime = absl::Seconds(60);

 private:
  // The method `path` names on a served service, and its channel; nullptr
  // for any other path.
  const google::protobuf::MethodDescriptor* MethodOf(
      const std::string& path, std::shared_ptr<grpc::Channel>* channel) const;

  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

}  // namespace roster::web

#endif  // ROSTER_SERVER_WEB_RPC_GATEWAY_H_

#include "server/web/rpc_gateway.h"

#include <grpcpp/generic/generic_stub.h>

#include <future>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "server/api/call_context.h"
#include "server/api/log.h"
#include "server/web/web_codec.h"

namespace roster::web {
namespace {

using codec::ConnectCode;
using codec::ConnectErrorJson;
using codec::Frame;
using codec::GrpcWebTrailers;
using codec::IsConnect;
using codec::Protocol;
using codec::ProtocolOf;

}  // namespace

HttpAnswer ConnectErrorAnswer(const grpc::Status& status) {
  HttpAnswer answer;
  answer.status = ConnectCode(status.error_code()).second;
  answer.content_type = "application/json";
  answer.body = ConnectErrorJson(status);
  return answer;
}

RpcGateway::RpcGateway(
    std::map<std::string, std::shared_ptr<grpc::Channel>> channels)
    : channels_(std::move(channels)) {}

const google::protobuf::MethodDescriptor* RpcGateway::MethodOf(
    const std::string& path, std::shared_ptr<grpc::Channel>* channel) const {
  // "/roster.v1.FrontendUsers/GetMe"
  const std::vector<std::string> parts =
      absl::StrSplit(absl::StripPrefix(path, "/"), '/');
  const auto found =
      parts.size() == 2 ? channels_.find(parts[0]) : channels_.end();
  if (found == channels_.end()) {
    return nullptr;
  }
  *channel = found->second;
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      absl::StrCat(parts[0], ".", parts[1]));
}

bool RpcGateway::IsStreaming(const HttpCall& call) const {
  // Connect unary (the browsers' usual call) is never a stream: no lookup.
  const std::optional<Protocol> protocol = ProtocolOf(call.content_type);
  if (!protocol.has_value() || IsConnect(*protocol)) {
    return false;
  }
  std::shared_ptr<grpc::Channel> channel;
  const google::protobuf::MethodDescriptor* method =
      MethodOf(call.path, &channel);
  return method != nullptr && method->server_streaming() &&
         !method->client_streaming();
}

HttpAnswer RpcGateway::Call(const HttpCall& call) const {
  HttpAnswer answer;
  const std::optional<Protocol> protocol = ProtocolOf(call.content_type);
  if (!protocol.has_value() || codec::IsConnectStream(*protocol)) {
    answer.status = 415;
    answer.content_type = "text/plain";
    answer.body = "unsupported content type\n";
    return answer;
  }
  answer.content_type = call.content_type;
  if (*protocol == Protocol::kConnectJson) {
    answer.content_type = "application/json";
  }
  auto finish = [&](const grpc::Status& status, const std::string& reply) {
    if (IsConnect(*protocol)) {
      if (status.ok()) {
        answer.body = reply;
      } else {
        // Connect errors are JSON whatever the request's codec.
        answer.status = ConnectCode(status.error_code()).second;
        answer.content_type = "application/json";
        answer.body = ConnectErrorJson(status);
      }
      return answer;
    }
    // gRPC-Web: always 200; the status is in the trailer frame.
    std::string body = status.ok() ? Frame(0, reply) : "";
    body += Frame(0x80, GrpcWebTrailers(status));
    answer.body = *protocol == Protocol::kGrpcWebText ? absl::Base64Escape(body)
                                                      : std::move(body);
    return answer;
  };

  std::shared_ptr<grpc::Channel> channel;
  const google::protobuf::MethodDescriptor* method =
      MethodOf(call.path, &channel);
  if (method == nullptr) {
    return finish(grpc::Status(grpc::UNIMPLEMENTED,
                               absl::StrCat("no method ", call.path)),
                  "");
  }
  if (method->client_streaming() ||
      (method->server_streaming() && IsConnect(*protocol))) {
    return finish(grpc::Status(grpc::UNIMPLEMENTED,
                               "streaming methods take Connect's streaming "
                               "content types or gRPC-Web"),
                  "");
  }

  std::string request_bytes;
  if (grpc::Status decoded =
          codec::RequestBytes(*protocol, *method, call.body, &request_bytes);
      !decoded.ok()) {
    return finish(decoded, "");
  }
  grpc::ClientContext context;
  codec::PrepareContext(call, kMaxCallTime, context);
  grpc::GenericStub stub(channel);
  grpc::Slice slice(request_bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(
      &context, call.path, grpc::StubOptions(), &request, &response,
      [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  // The call's request id (the caller's, or the one the server made up), so
  // a browser's report can be matched to the server's log line.
  if (std::string id = codec::RequestIdOf(context); !id.empty()) {
    answer.headers.emplace_back(api::kRequestIdHeader, std::move(id));
  }
  if (!status.ok()) {
    return finish(status, "");
  }
  grpc::Slice reply_slice;
  if (!response.DumpToSingleSlice(&reply_slice).ok()) {
    return finish(grpc::Status(grpc::INTERNAL, "unreadable response"), "");
  }
  std::string reply(reinterpret_cast<const char*>(reply_slice.begin()),
                    reply_slice.size());
  if (grpc::Status encoded = codec::EncodeReply(*protocol, *method, &reply);
      !encoded.ok()) {
    return finish(encoded, "");
  }
  return finish(status, reply);
}

}  // namespace roster::web

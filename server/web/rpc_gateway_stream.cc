// RpcGateway's server streams (WatchEvents) over Connect's streaming protocol
// and gRPC-Web: one generic call on the in-process channel, driven on the
// HTTP worker's thread through a completion queue of its own, so the stream
// can be cancelled when the browser goes away.
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <memory>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/api/call_context.h"
#include "server/api/log.h"
#include "server/web/rpc_gateway.h"
#include "server/web/web_codec.h"

namespace roster::web {
namespace {

using codec::Frame;
using codec::Protocol;

// Connect's end-of-stream flag; gRPC-Web's trailers flag.
constexpr uint8_t kConnectEndStream = 0x02;
constexpr uint8_t kGrpcWebTrailers = 0x80;

// Waits for the one operation in flight on `cq`. While it waits, polls
// `keep_going` every 200 ms and cancels the call once it says no, so a
// browser that left gives its stream slot back soon. False when the
// operation failed (the stream is over).
bool Await(grpc::CompletionQueue& cq, grpc::ClientContext& context,
           const std::function<bool()>& keep_going, bool& cancelled) {
  for (;;) {
    void* tag = nullptr;
    bool ok = false;
    switch (cq.AsyncNext(
        &tag, &ok,
        std::chrono::system_clock::now() + std::chrono::seconds(1))) {
      case grpc::CompletionQueue::GOT_EVENT:
        return ok;
      case grpc::CompletionQueue::TIMEOUT:
        if (!cancelled && !keep_going()) {
          context.TryCancel();
          cancelled = true;
        }
        break;
      case grpc::CompletionQueue::SHUTDOWN:
        return false;
    }
  }
}

}  // namespace

std::string RpcGateway::StreamContentType(const HttpCall& call) {
  const std::optional<Protocol> protocol = codec::ProtocolOf(call.content_type);
  if (protocol == Protocol::kConnectStreamJson) {
    return "application/connect+json";
  }
  if (protocol == Protocol::kConnectStreamProto) {
    return "application/connect+proto";
  }
  return protocol == Protocol::kGrpcWebText ? "application/grpc-web-text+proto"
                                            : "application/grpc-web+proto";
}

void RpcGateway::Stream(const HttpCall& call,
                        const std::function<bool(const std::string&)>& write,
                        const std::function<bool()>& keep_going) const {
  const Protocol protocol =
      codec::ProtocolOf(call.content_type).value_or(Protocol::kGrpcWeb);
  auto send = [&](uint8_t flags, const std::string& bytes) {
    const std::string frame = Frame(flags, bytes);
    return write(protocol == Protocol::kGrpcWebText ? absl::Base64Escape(frame)
                                                    : frame);
  };
  // The status: Connect's end-stream message, or gRPC-Web's trailers, each
  // with the request id the server logged the call under.
  auto end = [&](const grpc::Status& status, const std::string& request_id) {
    if (codec::IsConnectStream(protocol)) {
      std::string json = "{";
      if (!status.ok()) {
        absl::StrAppend(&json, "\"error\":", codec::ConnectErrorJson(status));
      }
      if (!request_id.empty()) {
        absl::StrAppend(&json, status.ok() ? "" : ",",
                        "\"metadata\":{\"x-request-id\":[\"",
                        api::JsonEscape(request_id), "\"]}");
      }
      send(kConnectEndStream, json + "}");
      return;
    }
    std::string trailers = codec::GrpcWebTrailers(status);
    if (!request_id.empty()) {
      absl::StrAppend(&trailers, api::kRequestIdHeader, ":", request_id,
                      "\r\n");
    }
    send(kGrpcWebTrailers, trailers);
  };

  std::shared_ptr<grpc::Channel> channel;
  const google::protobuf::MethodDescriptor* method =
      MethodOf(call.path, &channel);
  if (method == nullptr) {
    end(grpc::Status(grpc::UNIMPLEMENTED,
                     absl::StrCat("no method ", call.path)),
        "");
    return;
  }
  std::string request_bytes;
  if (grpc::Status decoded =
          codec::RequestBytes(protocol, *method, call.body, &request_bytes);
      !decoded.ok()) {
    end(decoded, "");
    return;
  }

  grpc::ClientContext context;
  // A stream lasts as long as the browser wants it, unless it asks less.
  codec::PrepareContext(call, absl::InfiniteDuration(), context);
  grpc::CompletionQueue cq;
  grpc::GenericStub stub(channel);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> rpc =
      stub.PrepareCall(&context, call.path, &cq);
  int tag = 0;
  bool cancelled = false;
  rpc->StartCall(&tag);
  bool ok = Await(cq, context, keep_going, cancelled);
  grpc::Slice slice(request_bytes);
  const grpc::ByteBuffer request(&slice, 1);
  if (ok) {
    rpc->Write(request, &tag);
    ok = Await(cq, context, keep_going, cancelled);
  }
  if (ok) {
    rpc->WritesDone(&tag);
    ok = Await(cq, context, keep_going, cancelled);
  }
  grpc::ByteBuffer buffer;
  while (ok) {
    rpc->Read(&buffer, &tag);
    if (!Await(cq, context, keep_going, cancelled)) {
      break;
    }
    grpc::Slice reply_slice;
    std::string reply;
    if (buffer.DumpToSingleSlice(&reply_slice).ok()) {
      reply.assign(reinterpret_cast<const char*>(reply_slice.begin()),
                   reply_slice.size());
    }
    if (!codec::EncodeReply(protocol, *method, &reply).ok() ||
        !send(0, reply)) {
      context.TryCancel();  // The browser is gone, or the reply unprintable.
      cancelled = true;
    }
  }
  grpc::Status status;
  rpc->Finish(&status, &tag);
  Await(cq, context, keep_going, cancelled);
  cq.Shutdown();
  void* ignored_tag = nullptr;
  bool ignored_ok = false;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  if (!cancelled || keep_going()) {
    end(status, codec::RequestIdOf(context));
  }
}

}  // namespace roster::web

// How the browsers' protocols carry a gRPC call (server/web's own helpers):
// Connect unary and streaming (JSON or protobuf) and gRPC-Web (binary or
// base64 text), their frames, error bodies and trailers, and the metadata a
// call takes onto the in-process channel.
#ifndef ROSTER_SERVER_WEB_WEB_CODEC_H_
#define ROSTER_SERVER_WEB_WEB_CODEC_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "server/web/rpc_gateway.h"

namespace roster::web::codec {

enum class Protocol {
  kConnectJson,         // Connect unary, application/json.
  kConnectProto,        // Connect unary, application/proto.
  kConnectStreamJson,   // Connect streaming, application/connect+json.
  kConnectStreamProto,  // Connect streaming, application/connect+proto.
  kGrpcWeb,             // application/grpc-web(+proto).
  kGrpcWebText,         // application/grpc-web-text(+proto).
};

// The protocol a Content-Type names; nullopt for any other.
std::optional<Protocol> ProtocolOf(const std::string& content_type);
bool IsConnect(Protocol protocol);  // Unary Connect.
bool IsConnectStream(Protocol protocol);
bool IsJson(Protocol protocol);

// Connect's name for a gRPC code, and the HTTP status it travels with.
std::pair<const char*, int> ConnectCode(grpc::StatusCode code);
// A Connect error object: code, message, and each detail of the rich status
// as {type, value (base64 protobuf), debug (its JSON)}.
std::string ConnectErrorJson(const grpc::Status& status);

// A frame (gRPC-Web's and Connect streaming's envelope): flags, 4-byte
// big-endian length, bytes.
std::string Frame(uint8_t flags, const std::string& bytes);
// The message of a body that is exactly one uncompressed data frame.
std::optional<std::string> UnframeRequest(const std::string& body);
// gRPC-Web text: base64, possibly several padded chunks one after another.
std::optional<std::string> DecodeText(const std::string& body);
// gRPC-Web's trailer frame payload for `status`.
std::string GrpcWebTrailers(const grpc::Status& status);

// A timeout header's value: Connect's milliseconds, or gRPC's "<n><unit>".
std::optional<absl::Duration> TimeoutOf(const HttpCall& call);
grpc::Status InvalidRequest(const std::string& why);

// The request message's protobuf bytes from a body in `protocol`.
// INVALID_ARGUMENT when the body is not one `method` request.
grpc::Status RequestBytes(Protocol protocol,
                          const google::protobuf::MethodDescriptor& method,
                          const std::string& body, std::string* bytes);
// `reply` (the method's response in protobuf bytes) turned into JSON for
// the JSON protocols; INTERNAL when it cannot be.
grpc::Status EncodeReply(Protocol protocol,
                         const google::protobuf::MethodDescriptor& method,
                         std::string* reply);

// The browser's metadata for the in-process call: its token, request id and
// address (believed beside the gateway key), and its timeout within `limit`.
void PrepareContext(const HttpCall& call, absl::Duration limit,
                    grpc::ClientContext& context);
// The request id the server answered with, or "".
std::string RequestIdOf(const grpc::ClientContext& context);

}  // namespace roster::web::codec

#endif  // ROSTER_SERVER_WEB_WEB_CODEC_H_

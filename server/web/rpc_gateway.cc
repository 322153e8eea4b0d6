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

namespace roster::web {
namespace {

using google::protobuf::Message;

enum class Protocol { kConnectJson, kConnectProto, kGrpcWeb, kGrpcWebText };

// The protocol a Content-Type names; nullopt for any other.
std::optional<Protocol> ProtocolOf(const std::string& content_type) {
  const std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      absl::string_view(content_type).substr(0, content_type.find(';'))));
  if (type == "application/json") {
    return Protocol::kConnectJson;
  }
  if (type == "application/proto") {
    return Protocol::kConnectProto;
  }
  if (type == "application/grpc-web" || type == "application/grpc-web+proto") {
    return Protocol::kGrpcWeb;
  }
  if (type == "application/grpc-web-text" ||
      type == "application/grpc-web-text+proto") {
    return Protocol::kGrpcWebText;
  }
  return std::nullopt;
}

bool IsConnect(Protocol protocol) {
  return protocol == Protocol::kConnectJson ||
         protocol == Protocol::kConnectProto;
}

// Connect's name for a gRPC code, and the HTTP status it travels with
// (connectrpc.com/docs/protocol#error-codes).
std::pair<const char*, int> ConnectCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::CANCELLED:
      return {"canceled", 499};
    case grpc::INVALID_ARGUMENT:
      return {"invalid_argument", 400};
    case grpc::DEADLINE_EXCEEDED:
      return {"deadline_exceeded", 504};
    case grpc::NOT_FOUND:
      return {"not_found", 404};
    case grpc::ALREADY_EXISTS:
      return {"already_exists", 409};
    case grpc::PERMISSION_DENIED:
      return {"permission_denied", 403};
    case grpc::RESOURCE_EXHAUSTED:
      return {"resource_exhausted", 429};
    case grpc::FAILED_PRECONDITION:
      return {"failed_precondition", 400};
    case grpc::ABORTED:
      return {"aborted", 409};
    case grpc::OUT_OF_RANGE:
      return {"out_of_range", 400};
    case grpc::UNIMPLEMENTED:
      return {"unimplemented", 501};
    case grpc::INTERNAL:
      return {"internal", 500};
    case grpc::UNAVAILABLE:
      return {"unavailable", 503};
    case grpc::DATA_LOSS:
      return {"data_loss", 500};
    case grpc::UNAUTHENTICATED:
      return {"unauthenticated", 401};
    default:
      return {"unknown", 500};
  }
}

// `text` as a JSON string literal.
std::string JsonString(const std::string& text) {
  return absl::StrCat("\"", api::JsonEscape(text), "\"");
}

// A Connect error body: code, message, and each detail of the rich status as
// {type, value (base64 protobuf), debug (its JSON)}.
std::string ConnectErrorJson(const grpc::Status& status) {
  std::string details;
  google::rpc::Status rich;
  if (!status.error_details().empty() &&
      rich.ParseFromString(status.error_details())) {
    for (const google::protobuf::Any& any : rich.details()) {
      const std::string type(absl::string_view(any.type_url())
                                 .substr(any.type_url().rfind('/') + 1));
      std::string value;
      absl::Base64Escape(any.value(), &value);
      std::string debug;
      const auto* descriptor =
          google::protobuf::DescriptorPool::generated_pool()
              ->FindMessageTypeByName(type);
      if (descriptor != nullptr) {
        std::unique_ptr<Message> message(
            google::protobuf::MessageFactory::generated_factory()
                ->GetPrototype(descriptor)
                ->New());
        if (message->ParseFromString(any.value()) &&
            google::protobuf::util::MessageToJsonString(*message, &debug)
                .ok()) {
          debug = absl::StrCat(",\"debug\":", debug);
        } else {
          debug.clear();
        }
      }
      absl::StrAppend(&details, details.empty() ? "" : ",",
                      "{\"type\":", JsonString(type), ",\"value\":",
                      JsonString(std::string(absl::StripSuffix(
                          absl::StripSuffix(value, "="), "="))),
                      debug, "}");
    }
  }
  return absl::StrCat(
      "{\"code\":\"", ConnectCode(status.error_code()).first,
      "\",\"message\":", JsonString(status.error_message()),
      details.empty() ? "" : absl::StrCat(",\"details\":[", details, "]"), "}");
}

// A gRPC-Web frame: flags, 4-byte big-endian length, bytes.
std::string Frame(uint8_t flags, const std::string& bytes) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(flags);
  const auto length = static_cast<uint32_t>(bytes.size());
  for (int i = 0; i < 4; ++i) {
    out[static_cast<size_t>(4 - i)] =
        static_cast<char>((length >> (8 * i)) & 0xff);
  }
  return out + bytes;
}

std::string GrpcWebTrailers(const grpc::Status& status) {
  std::string trailers = absl::StrCat(
      "grpc-status:", static_cast<int>(status.error_code()), "\r\n");
  if (!status.error_message().empty()) {
    // Percent-encoded as gRPC's HTTP/2 mapping asks.
    std::string message;
    for (const char byte : status.error_message()) {
      const auto c = static_cast<unsigned char>(byte);
      if (c < 0x20 || c > 0x7e || c == '%') {
        absl::StrAppend(&message, "%", absl::Hex(c, absl::kZeroPad2));
      } else {
        message.push_back(static_cast<char>(c));
      }
    }
    absl::StrAppend(&trailers, "grpc-message:", message, "\r\n");
  }
  if (!status.error_details().empty()) {
    absl::StrAppend(&trailers, "grpc-status-details-bin:",
                    absl::Base64Escape(status.error_details()), "\r\n");
  }
  return trailers;
}

// The message bytes of a unary gRPC-Web request body: one data frame.
std::optional<std::string> UnframeRequest(const std::string& body) {
  if (body.size() < 5 || (static_cast<uint8_t>(body[0]) & 0x80) != 0) {
    return std::nullopt;
  }
  uint32_t length = 0;
  for (size_t i = 1; i < 5; ++i) {
    length = (length << 8) | static_cast<uint8_t>(body[i]);
  }
  if (body.size() != 5 + static_cast<size_t>(length)) {
    return std::nullopt;
  }
  return body.substr(5);
}

// gRPC-Web text: base64, possibly several padded chunks one after another.
std::optional<std::string> DecodeText(const std::string& body) {
  std::string out;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('=', start);
    if (end == std::string::npos) {
      end = body.size();
    } else {
      end = body.find_first_not_of('=', end);
      end = end == std::string::npos ? body.size() : end;
    }
    std::string chunk;
    if (!absl::Base64Unescape(body.substr(start, end - start), &chunk)) {
      return std::nullopt;
    }
    out += chunk;
    start = end;
  }
  return out;
}

// A timeout header's value: Connect's milliseconds, or gRPC's "<n><unit>".
std::optional<absl::Duration> TimeoutOf(const HttpCall& call) {
  for (const auto& [name, value] : call.headers) {
    int64_t amount = 0;
    if (name == "connect-timeout-ms" && absl::SimpleAtoi(value, &amount) &&
        amount > 0) {
      return absl::Milliseconds(amount);
    }
    if (name == "grpc-timeout" && value.size() >= 2 &&
        absl::SimpleAtoi(absl::string_view(value).substr(0, value.size() - 1),
                         &amount) &&
        amount > 0) {
      switch (value.back()) {
        case 'H':
          return absl::Hours(amount);
        case 'M':
          return absl::Minutes(amount);
        case 'S':
          return absl::Seconds(amount);
        case 'm':
          return absl::Milliseconds(amount);
        case 'u':
          return absl::Microseconds(amount);
        case 'n':
          return absl::Nanoseconds(amount);
        default:
          break;
      }
    }
  }
  return std::nullopt;
}

grpc::Status InvalidRequest(const std::string& why) {
  return grpc::Status(grpc::INVALID_ARGUMENT, why);
}

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

HttpAnswer RpcGateway::Call(const HttpCall& call) const {
  HttpAnswer answer;
  const std::optional<Protocol> protocol = ProtocolOf(call.content_type);
  if (!protocol.has_value()) {
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

  // "/roster.v1.FrontendUsers/GetMe"
  const std::vector<std::string> parts =
      absl::StrSplit(absl::StripPrefix(call.path, "/"), '/');
  const auto channel =
      parts.size() == 2 ? channels_.find(parts[0]) : channels_.end();
  const google::protobuf::MethodDescriptor* method =
      channel == channels_.end()
          ? nullptr
          : google::protobuf::DescriptorPool::generated_pool()
                ->FindMethodByName(absl::StrCat(parts[0], ".", parts[1]));
  if (method == nullptr) {
    return finish(grpc::Status(grpc::UNIMPLEMENTED,
                               absl::StrCat("no method ", call.path)),
                  "");
  }
  if (method->client_streaming() || method->server_streaming()) {
    return finish(grpc::Status(grpc::UNIMPLEMENTED,
                               "streaming methods are served over gRPC only"),
                  "");
  }

  // The request as protobuf bytes, whatever it arrived as.
  std::string request_bytes;
  if (*protocol == Protocol::kConnectJson) {
    std::unique_ptr<Message> request(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(method->input_type())
            ->New());
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    const std::string& json = call.body.empty() ? "{}" : call.body;
    const auto parsed = google::protobuf::util::JsonStringToMessage(
        json, request.get(), options);
    if (!parsed.ok()) {
      return finish(InvalidRequest(absl::StrCat(
                        "the body is not a ", method->input_type()->full_name(),
                        " in JSON: ", std::string(parsed.message()))),
                    "");
    }
    request->SerializeToString(&request_bytes);
  } else if (*protocol == Protocol::kConnectProto) {
    request_bytes = call.body;
  } else {
    std::optional<std::string> body =
        *protocol == Protocol::kGrpcWebText ? DecodeText(call.body) : call.body;
    std::optional<std::string> message =
        body.has_value() ? UnframeRequest(*body) : std::nullopt;
    if (!message.has_value()) {
      return finish(
          InvalidRequest("the body is not one gRPC-Web message frame"), "");
    }
    request_bytes = *std::move(message);
  }

  grpc::ClientContext context;
  absl::Duration timeout = kMaxCallTime;
  if (const auto asked = TimeoutOf(call); asked.has_value()) {
    timeout = std::min(timeout, *asked);
  }
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  for (const auto& [name, value] : call.headers) {
    if (name == "authorization" || name == api::kRequestIdHeader) {
      context.AddMetadata(name, value);
    }
  }
  context.AddMetadata(api::kClientAddressHeader, call.peer);
  context.AddMetadata(api::kGatewayKeyHeader, api::GatewayKey());

  grpc::GenericStub stub(channel->second);
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
  for (const auto* metadata : {&context.GetServerInitialMetadata(),
                               &context.GetServerTrailingMetadata()}) {
    if (auto id = metadata->find(api::kRequestIdHeader);
        id != metadata->end()) {
      answer.headers.emplace_back(
          api::kRequestIdHeader,
          std::string(id->second.data(), id->second.size()));
      break;
    }
  }
  if (!status.ok()) {
    return finish(status, "");
  }
  grpc::Slice reply_slice;
  std::string reply;
  if (!response.DumpToSingleSlice(&reply_slice).ok()) {
    return finish(grpc::Status(grpc::INTERNAL, "unreadable response"), "");
  }
  reply.assign(reinterpret_cast<const char*>(reply_slice.begin()),
               reply_slice.size());
  if (*protocol == Protocol::kConnectJson) {
    std::unique_ptr<Message> message(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(method->output_type())
            ->New());
    std::string json;
    if (!message->ParseFromString(reply) ||
        !google::protobuf::util::MessageToJsonString(*message, &json).ok()) {
      return finish(grpc::Status(grpc::INTERNAL, "unprintable response"), "");
    }
    reply = std::move(json);
  }
  return finish(status, reply);
}

}  // namespace roster::web

#include "server/web/web_codec.h"

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
#include "server/web/strict_json.h"

namespace roster::web::codec {

using google::protobuf::Message;

std::optional<Protocol> ProtocolOf(const std::string& content_type) {
  const std::string type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      absl::string_view(content_type).substr(0, content_type.find(';'))));
  if (type == "application/json") {
    return Protocol::kConnectJson;
  }
  if (type == "application/proto") {
    return Protocol::kConnectProto;
  }
  if (type == "application/connect+json") {
    return Protocol::kConnectStreamJson;
  }
  if (type == "application/connect+proto") {
    return Protocol::kConnectStreamProto;
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

bool IsConnectStream(Protocol protocol) {
  return protocol == Protocol::kConnectStreamJson ||
         protocol == Protocol::kConnectStreamProto;
}

bool IsJson(Protocol protocol) {
  return protocol == Protocol::kConnectJson ||
         protocol == Protocol::kConnectStreamJson;
}

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
namespace {

std::string JsonString(const std::string& text) {
  return absl::StrCat("\"", api::JsonEscape(text), "\"");
}

std::unique_ptr<Message> NewMessage(
    const google::protobuf::Descriptor* descriptor) {
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(descriptor)
          ->New());
}

}  // namespace

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

std::optional<std::string> UnframeRequest(const std::string& body) {
  // Any flag (trailers, compression) is not a plain message.
  if (body.size() < 5 || body[0] != 0) {
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

grpc::Status RequestBytes(Protocol protocol,
                          const google::protobuf::MethodDescriptor& method,
                          const std::string& body, std::string* bytes) {
  std::optional<std::string> payload = body;
  if (protocol == Protocol::kGrpcWebText) {
    payload = DecodeText(body);
  }
  if (protocol != Protocol::kConnectJson &&
      protocol != Protocol::kConnectProto && payload.has_value()) {
    payload = UnframeRequest(*payload);
  }
  if (!payload.has_value()) {
    return InvalidRequest("the body is not one message frame");
  }
  if (!IsJson(protocol)) {
    *bytes = *std::move(payload);
    return grpc::Status::OK;
  }
  std::unique_ptr<Message> request = NewMessage(method.input_type());
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const std::string json = payload->empty() ? "{}" : *std::move(payload);
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(json, request.get(), options);
  if (!parsed.ok()) {
    return InvalidRequest(
        absl::StrCat("the body is not a ", method.input_type()->full_name(),
                     " in JSON: ", std::string(parsed.message())));
  }
  if (const auto quoted = QuotedBoolField(*method.input_type(), json)) {
    return InvalidRequest(absl::StrCat(
        "the body is not a ", method.input_type()->full_name(), " in JSON: (",
        *quoted, "): a bool is true or false, not a string"));
  }
  request->SerializeToString(bytes);
  return grpc::Status::OK;
}

grpc::Status EncodeReply(Protocol protocol,
                         const google::protobuf::MethodDescriptor& method,
                         std::string* reply) {
  if (!IsJson(protocol)) {
    return grpc::Status::OK;
  }
  std::unique_ptr<Message> message = NewMessage(method.output_type());
  std::string json;
  if (!message->ParseFromString(*reply) ||
      !google::protobuf::util::MessageToJsonString(*message, &json).ok()) {
    return grpc::Status(grpc::INTERNAL, "unprintable response");
  }
  *reply = std::move(json);
  return grpc::Status::OK;
}

void PrepareContext(const HttpCall& call, absl::Duration limit,
                    grpc::ClientContext& context) {
  absl::Duration timeout = limit;
  if (const auto asked = TimeoutOf(call); asked.has_value()) {
    timeout = std::min(timeout, *asked);
  }
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  for (const auto& [name, value] : call.headers) {
    if (name == "authorization" || name == api::kRequestIdHeader) {
      context.AddMetadata(name, value);
    }
  }
  context.AddMetadata(api::kClientAddressHeader, call.peer);
  context.AddMetadata(api::kGatewayKeyHeader, api::GatewayKey());
}

std::string RequestIdOf(const grpc::ClientContext& context) {
  for (const auto* metadata : {&context.GetServerInitialMetadata(),
                               &context.GetServerTrailingMetadata()}) {
    if (auto id = metadata->find(api::kRequestIdHeader);
        id != metadata->end()) {
      return std::string(id->second.data(), id->second.size());
    }
  }
  return "";
}

}  // namespace roster::web::codec

// Browsers' request bodies (DESIGN §12): arbitrary bytes as the body of a
// FrontendUsers or BackendUsers method in each protocol (the first two bytes
// pick them), through unframing, gRPC-Web text's base64, the typed JSON parse
// and the strict bool check. A JSON body accepted must give bytes that parse as
// the method's request, and the bool check's quick scan must agree with the
// full check on every body the typed parse accepts.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "roster/v1/backend_users.pb.h"
#include "roster/v1/frontend_users.pb.h"
#include "server/web/strict_json.h"
#include "server/web/web_codec.h"

namespace {

using google::protobuf::MethodDescriptor;
using roster::web::codec::Protocol;

std::vector<const MethodDescriptor*> AllMethods() {
  std::vector<const MethodDescriptor*> methods;
  // Naming a message of each file links its descriptors in.
  for (const auto* file : {roster::v1::GetMeRequest::descriptor()->file(),
                           roster::v1::GetUserRequest::descriptor()->file()}) {
    for (int s = 0; s < file->service_count(); ++s) {
      for (int m = 0; m < file->service(s)->method_count(); ++m) {
        methods.push_back(file->service(s)->method(m));
      }
    }
  }
  return methods;
}

std::unique_ptr<google::protobuf::Message> NewRequest(
    const MethodDescriptor& method) {
  return std::unique_ptr<google::protobuf::Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(method.input_type())
          ->New());
}

// The scan that spares most JSON bodies the second parse never spares one
// that the full check refuses, nor the other way round.
void CheckScanAgrees(const MethodDescriptor& method, const std::string& body) {
  const std::string json = body.empty() ? "{}" : body;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto request = NewRequest(method);
  if (!google::protobuf::util::JsonStringToMessage(json, request.get(), options)
           .ok()) {
    return;
  }
  if (roster::web::QuotedBoolField(*method.input_type(), json) !=
      roster::web::internal::QuotedBoolFieldUnscanned(*method.input_type(),
                                                      json)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<const MethodDescriptor*> methods = AllMethods();
  constexpr Protocol kProtocols[] = {
      Protocol::kConnectJson,       Protocol::kConnectProto,
      Protocol::kConnectStreamJson, Protocol::kConnectStreamProto,
      Protocol::kGrpcWeb,           Protocol::kGrpcWebText};
  constexpr size_t kProtocolCount = sizeof(kProtocols) / sizeof(kProtocols[0]);
  if (size < 2 || methods.empty()) {
    return 0;
  }
  const Protocol protocol = kProtocols[data[0] % kProtocolCount];
  const MethodDescriptor& method = *methods[data[1] % methods.size()];
  const std::string body(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string bytes;
  // Binary bodies go on as they are, for the gRPC server to parse; JSON
  // ones are turned into bytes here, which must be a request.
  if (roster::web::codec::RequestBytes(protocol, method, body, &bytes).ok() &&
      roster::web::codec::IsJson(protocol)) {
    if (!NewRequest(method)->ParseFromString(bytes)) {
      std::abort();
    }
  }
  if (protocol == Protocol::kConnectJson) {
    CheckScanAgrees(method, body);
  }
  return 0;
}

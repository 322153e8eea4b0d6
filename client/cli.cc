#include "client/cli.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace roster::cli {
namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in),
              std::istreambuf_iterator<char>());
  return true;
}

// The gRPC code's name (OK, NOT_FOUND, …).
const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "UNKNOWN";
}

}  // namespace

std::unique_ptr<grpc::ClientContext> Context::NewCall(Auth auth,
                                                      bool deadline) const {
  auto call = std::make_unique<grpc::ClientContext>();
  if (auth == Auth::kSecretKey && !options.secret_key.empty()) {
    call->AddMetadata("authorization", "Bearer " + options.secret_key);
  } else if (auth == Auth::kToken && !options.token.empty()) {
    call->AddMetadata("authorization", "Bearer " + options.token);
  }
  if (deadline) {
    call->set_deadline(std::chrono::system_clock::now() + options.timeout);
  }
  return call;
}

bool ParseInput(const std::string& input, google::protobuf::Message& message) {
  std::string json = input;
  if (input == "-") {
    json.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
  }
  if (json.empty()) {
    return true;
  }
  if (json.front() != '{') {
    // A bare value names the request's first field, e.g. `users get user_…`.
    const auto* field = message.GetDescriptor()->FindFieldByNumber(1);
    if (field == nullptr ||
        field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
        field->is_repeated()) {
      std::cerr << "error: give the request as a JSON object\n";
      return false;
    }
    message.GetReflection()->SetString(&message, field, json);
    return true;
  }
  google::protobuf::util::JsonParseOptions parse;
  const auto status =
      google::protobuf::util::JsonStringToMessage(json, &message, parse);
  if (!status.ok()) {
    std::cerr << "error: the request is not a valid "
              << message.GetDescriptor()->full_name() << ": "
              << status.message() << "\n";
    return false;
  }
  return true;
}

void PrintJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = pretty;
  print.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, print);
  if (!pretty || json.empty() || json.back() != '\n') {
    json += '\n';
  }
  std::cout << json;
}

int Report(const grpc::Status& status) {
  if (status.ok()) {
    return 0;
  }
  std::string reason;
  std::vector<std::string> violations;
  google::rpc::Status details;
  if (!status.error_details().empty() &&
      details.ParseFromString(status.error_details())) {
    for (const auto& any : details.details()) {
      google::rpc::ErrorInfo info;
      google::rpc::BadRequest bad_request;
      if (any.UnpackTo(&info)) {
        reason = info.reason();
      }
      if (any.UnpackTo(&bad_request)) {
        for (const auto& v : bad_request.field_violations()) {
          violations.push_back(v.field() + ": " + v.description());
        }
      }
    }
  }
  std::cerr << "error: " << CodeName(status.error_code());
  if (!reason.empty() && reason != CodeName(status.error_code())) {
    std::cerr << " " << reason;
  }
  std::cerr << ": " << status.error_message() << "\n";
  for (const auto& v : violations) {
    std::cerr << "  " << v << "\n";
  }
  return static_cast<int>(status.error_code());
}

bool Connect(Context& context) {
  const Options& o = context.options;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (o.tls || !o.ca_file.empty() || !o.cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if ((!o.ca_file.empty() && !ReadFile(o.ca_file, &ssl.pem_root_certs)) ||
        (!o.cert_file.empty() && !ReadFile(o.cert_file, &ssl.pem_cert_chain)) ||
        (!o.key_file.empty() && !ReadFile(o.key_file, &ssl.pem_private_key))) {
      std::cerr
          << "error: cannot read a --ca_file, --cert_file or --key_file\n";
      return false;
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  context.channel = grpc::CreateCustomChannel(o.addr, credentials, args);
  return true;
}

}  // namespace roster::cli

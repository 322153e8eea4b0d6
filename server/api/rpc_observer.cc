#include "server/api/rpc_observer.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/server_context.h>

#include <memory>
#include <string>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/api/call_context.h"
#include "server/api/log.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

using grpc::experimental::InterceptionHookPoints;

// A client's request id is echoed only when it is plain: at most 128 of
// [A-Za-z0-9._:-], so it can never inject into a log line or a header.
bool IsPlainRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != ':' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() {
  thread_local absl::BitGen bits;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(bits),
                         absl::Uniform<uint64_t>(bits));
}

class RpcObserver final : public grpc::experimental::Interceptor {
 public:
  // `method` is the call's method if the server offers it, else "unknown".
  RpcObserver(grpc::experimental::ServerRpcInfo* info, Metrics* metrics,
              bool log, absl::string_view method)
      : info_(info),
        metrics_(metrics),
        log_(log),
        method_(method),
        start_(absl::Now()) {
    metrics_->RpcStarted(method_);
  }

  ~RpcObserver() override {
    // A call cancelled before it sent a status never reached
    // PRE_SEND_STATUS.
    if (!finished_) {
      Finish(grpc::StatusCode::CANCELLED);
    }
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* received = methods->GetRecvInitialMetadata();
      auto it = received->find(kRequestIdHeader);
      if (it != received->end()) {
        const absl::string_view id(it->second.data(), it->second.size());
        if (IsPlainRequestId(id)) {
          request_id_ = std::string(id);
        }
      }
      if (request_id_.empty()) {
        request_id_ = NewRequestId();
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kRequestIdHeader, request_id_);
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr && HasOneRequest()) {
      // gRPC could not parse the request; its callback API would then answer
      // UNIMPLEMENTED with no message, which tells a client nothing true.
      // (On client-streaming calls a null message is the end of the stream.)
      unparsable_request_ = true;
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      if (unparsable_request_) {
        methods->ModifySendStatus(ToGrpcStatus(domain::Error(
            absl::StatusCode::kInvalidArgument,
            domain::reason::kInvalidArgumentFormat, kUnparsableRequest)));
      }
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  bool HasOneRequest() const {
    using Type = grpc::experimental::ServerRpcInfo::Type;
    return info_->type() == Type::UNARY ||
           info_->type() == Type::SERVER_STREAMING;
  }

  void Finish(grpc::StatusCode code) {
    finished_ = true;
    const absl::Duration latency = absl::Now() - start_;
    // gRPC and absl share code numbering and names (OK, INVALID_ARGUMENT, …).
    const std::string code_name =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
    metrics_->RpcFinished(method_, code_name, latency);
    if (!log_) {
      return;
    }
    LogJson("info", "rpc",
            absl::StrCat(
                ",\"method\":\"", method_, "\",\"code\":\"", code_name,
                "\",\"latency_ms\":",
                absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(latency)),
                ",\"peer\":\"", JsonEscape(PeerOf(*info_->server_context())),
                "\",\"request_id\":\"", request_id_, "\""));
  }

  grpc::experimental::ServerRpcInfo* info_;
  Metrics* metrics_;
  const bool log_;
  const absl::string_view method_;  // Points into the factory or a literal.
  const absl::Time start_;
  std::string request_id_;
  bool finished_ = false;
  bool unparsable_request_ = false;
};

}  // namespace

RpcObserverFactory::RpcObserverFactory(Metrics* metrics, bool log_rpcs,
                                       const std::vector<std::string>& services)
    : metrics_(metrics), log_rpcs_(log_rpcs) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(name);
    for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
      methods_.insert(absl::StrCat("/", name, "/", service->method(i)->name()));
    }
  }
}

grpc::experimental::Interceptor* RpcObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const auto known = methods_.find(absl::string_view(info->method()));
  const absl::string_view method =
      known != methods_.end() ? absl::string_view(*known) : "unknown";
  // gRPC takes ownership of the returned interceptor.
  return std::make_unique<RpcObserver>(info, metrics_, log_rpcs_, method)
      .release();
}

}  // namespace roster::api

#include "server/api/request_size_gate.h"

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/support/byte_buffer.h>

#include <atomic>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/api/call_context.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

using grpc::internal::MethodHandler;

// A refused stream: reports its status and goes away.
class RefusedStream final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  // gRPC's reactor idiom: it ends its own life.
  void OnDone() override { delete this; }
};

// What Deserialize tells RunHandler: which handler took the call, and that
// handler's own data.
struct Taken {
  MethodHandler* handler;
  void* handler_data;
};

// Hands a request within `limit` to the service's handler. A larger one goes
// to `refuser`, a raw handler: it takes gRPC's bytes as they are (no copy,
// no parse) and answers RequestTooLarge.
template <typename Refuser>
class SizeGatedHandler final : public MethodHandler {
 public:
  SizeGatedHandler(MethodHandler* inner, size_t limit, Refuser refuser)
      : inner_(inner), limit_(limit), refuser_(std::move(refuser)) {}

  void* Deserialize(grpc_call* call, grpc_byte_buffer* request,
                    grpc::Status* status, void** handler_data) override {
    // In the call's arena, freed with the call.
    auto* taken = new (grpc_call_arena_alloc(call, sizeof(Taken)))
        Taken{request != nullptr && grpc_byte_buffer_length(request) > limit_
                  ? static_cast<MethodHandler*>(&refuser_)
                  : inner_,
              nullptr};
    *handler_data = taken;
    return taken->handler->Deserialize(call, request, status,
                                       &taken->handler_data);
  }

  void RunHandler(const HandlerParameter& param) override {
    const auto* taken = static_cast<const Taken*>(param.internal_data);
    taken->handler->RunHandler(HandlerParameter(
        param.call, param.server_context, param.request, param.status,
        taken->handler_data, param.call_requester));
  }

 private:
  MethodHandler* const inner_;
  const size_t limit_;
  Refuser refuser_;
};

// Client streams carry no single request to judge (none here yet).
class PassThroughHandler final : public MethodHandler {
 public:
  explicit PassThroughHandler(MethodHandler* inner) : inner_(inner) {}
  void* Deserialize(grpc_call* call, grpc_byte_buffer* request,
                    grpc::Status* status, void** handler_data) override {
    return inner_->Deserialize(call, request, status, handler_data);
  }
  void RunHandler(const HandlerParameter& param) override {
    inner_->RunHandler(param);
  }

 private:
  MethodHandler* const inner_;
};

// One upload: admitted on its metadata, then its one request message is read
// and served. A client sends a unary call's one message and half-closes; the
// reactor never asks for a second.
class UploadReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  UploadReactor(const grpc::CallbackServerContext& context,
                grpc::ByteBuffer* response, const UploadAdmission& admit)
      : response_(response) {
    absl::StatusOr<AdmittedUpload> admitted = admit(context);
    if (!admitted.ok()) {
      Finish(ToGrpcStatus(admitted.status()));
      return;
    }
    admitted_ = *std::move(admitted);
    // gRPC orders this before OnReadDone, which may run on another thread,
    // by hand-offs inside its own (uninstrumented) library; the release and
    // OnReadDone's acquire make the order one ThreadSanitizer sees too, so
    // the thread that serves the upload stays checked.
    admitted_ready_.store(true, std::memory_order_release);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-closed with no message, or the read failed (the call was
      // cancelled, or the message was over gRPC's receive limit).
      Finish(
          ToGrpcStatus(domain::Error(absl::StatusCode::kInvalidArgument,
                                     domain::reason::kInvalidArgumentFormat,
                                     "the call carried no request message")));
      return;
    }
    static_cast<void>(admitted_ready_.load(std::memory_order_acquire));
    auto serve = [this]() {
      Finish(ToGrpcStatus(std::move(admitted_.serve)(request_, *response_)));
    };
    if (admitted_.executor == nullptr) {
      serve();
    } else if (!admitted_.executor->Submit(std::move(serve))) {
      Finish(Overloaded(admitted_.what));
    }
  }

  // gRPC's reactor idiom: it ends its own life.
  void OnDone() override { delete this; }

 private:
  grpc::ByteBuffer* const response_;
  AdmittedUpload admitted_;
  std::atomic<bool> admitted_ready_{false};
  grpc::ByteBuffer request_;
};

using RawUpload =
    grpc::internal::CallbackClientStreamingHandler<grpc::ByteBuffer,
                                                   grpc::ByteBuffer>;

using RawUnary =
    grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>;
using RawServerStream =
    grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer,
                                                   grpc::ByteBuffer>;

std::unique_ptr<MethodHandler> GateFor(
    const google::protobuf::MethodDescriptor& method, MethodHandler* inner) {
  const size_t limit = MaxRequestBytesOf(method.input_type()->full_name());
  if (method.client_streaming()) {
    return std::make_unique<PassThroughHandler>(inner);
  }
  if (method.server_streaming()) {
    return std::make_unique<SizeGatedHandler<RawServerStream>>(
        inner, limit,
        RawServerStream(
            [limit](grpc::CallbackServerContext*, const grpc::ByteBuffer*) {
              // gRPC's reactor idiom: RefusedStream deletes itself in OnDone.
              return new RefusedStream(ToGrpcStatus(RequestTooLarge(limit)));
            }));
  }
  return std::make_unique<SizeGatedHandler<RawUnary>>(
      inner, limit,
      RawUnary([limit](grpc::CallbackServerContext* context,
                       const grpc::ByteBuffer*, grpc::ByteBuffer*) {
        return Refused(context, RequestTooLarge(limit));
      }));
}

grpc::internal::RpcMethod::RpcType TypeOf(
    const google::protobuf::MethodDescriptor& method) {
  using grpc::internal::RpcMethod;
  if (method.client_streaming()) {
    return method.server_streaming() ? RpcMethod::BIDI_STREAMING
                                     : RpcMethod::CLIENT_STREAMING;
  }
  return method.server_streaming() ? RpcMethod::SERVER_STREAMING
                                   : RpcMethod::NORMAL_RPC;
}

}  // namespace

RequestSizeGate::RequestSizeGate(
    const google::protobuf::ServiceDescriptor& service,
    const std::function<MethodHandler*(int)>& handler_at,
    absl::flat_hash_map<std::string, UploadAdmission> uploads)
    : uploads_(std::move(uploads)) {
  for (int i = 0; i < service.method_count(); ++i) {
    const google::protobuf::MethodDescriptor& method = *service.method(i);
    paths_.push_back(std::make_unique<std::string>(
        absl::StrCat("/", service.full_name(), "/", method.name())));
    const auto upload = uploads_.find(method.name());
    if (upload != uploads_.end()) {
      // gRPC reads a unary request before it starts the call, a client
      // stream's only when asked.
      AddMethod(std::make_unique<grpc::internal::RpcServiceMethod>(
                    paths_.back()->c_str(),
                    grpc::internal::RpcMethod::CLIENT_STREAMING, nullptr)
                    .release());
      const UploadAdmission* admit = &upload->second;
      MarkMethodCallback(
          i,
          std::make_unique<RawUpload>([admit](
                                          grpc::CallbackServerContext* context,
                                          grpc::ByteBuffer* response) {
            // gRPC's reactor idiom: UploadReactor deletes itself in
            // OnDone.
            return new UploadReactor(*context, response, *admit);
          }).release());
      continue;
    }
    // gRPC owns the method and, once marked, its handler.
    AddMethod(std::make_unique<grpc::internal::RpcServiceMethod>(
                  paths_.back()->c_str(), TypeOf(method), nullptr)
                  .release());
    MarkMethodCallback(i, GateFor(method, handler_at(i)).release());
  }
}

}  // namespace roster::api

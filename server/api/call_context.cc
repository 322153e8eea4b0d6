#include "server/api/call_context.h"

#include <arpa/inet.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"
#include "server/domain/validation.h"

namespace roster::api {
namespace {}  // namespace

// The caller of an authenticated call: its actor, and the request id from the
// request field or else the `x-request-id` header (validated like any input).
absl::StatusOr<domain::Caller> CallerOf(
    const grpc::CallbackServerContext& context, std::string actor,
    const std::string& request_id) {
  domain::Caller caller{std::move(actor), request_id};
  if (!caller.request_id.empty()) {
    return caller;
  }
  const auto& metadata = context.client_metadata();
  auto header = metadata.find(kRequestIdHeader);
  if (header == metadata.end()) {
    return caller;
  }
  auto valid = domain::ValidateRequestId(
      absl::string_view(header->second.data(), header->second.size()));
  if (!valid.ok()) {
    return domain::Error(
        absl::StatusCode::kInvalidArgument,
        domain::reason::kInvalidArgumentFormat,
        "x-request-id header is malformed",
        {{kRequestIdHeader, std::string(valid.status().message())}});
  }
  caller.request_id = *std::move(valid);
  return caller;
}

const std::string& GatewayKey() {
  static const std::string* const kKey = [] {
    unsigned char bytes[32];
    randombytes_buf(bytes, sizeof(bytes));
    char hex[sizeof(bytes) * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
    return new std::string(hex);  // NOLINT: never freed, like any static.
  }();
  return *kKey;
}

std::string PeerOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto key = metadata.find(kGatewayKeyHeader);
  const auto forwarded = metadata.find(kClientAddressHeader);
  if (key != metadata.end() && forwarded != metadata.end() &&
      key->second.size() == GatewayKey().size() &&
      sodium_memcmp(key->second.data(), GatewayKey().data(),
                    GatewayKey().size()) == 0) {
    return std::string(forwarded->second.data(), forwarded->second.size());
  }
  return context.peer();
}

std::string ClientAddressKey(absl::string_view peer) {
  if (absl::ConsumePrefix(&peer, "ipv4:")) {
    return std::string(peer.substr(0, peer.rfind(':')));
  }
  if (absl::ConsumePrefix(&peer, "ipv6:") && absl::ConsumePrefix(&peer, "[")) {
    peer = peer.substr(0, peer.find(']'));
    in6_addr address{};
    if (inet_pton(AF_INET6, std::string(peer).c_str(), &address) == 1) {
      char text[INET6_ADDRSTRLEN] = "";
      std::fill(address.s6_addr + 8, address.s6_addr + 16, 0);
      inet_ntop(AF_INET6, &address, text, sizeof(text));
      return absl::StrCat(text, "/64");
    }
  }
  return std::string(peer);  // unix: and the like: one key.
}

size_t MaxRequestBytesOf(absl::string_view request_type) {
  if (request_type == "roster.v1.SetProfileImageRequest" ||
      request_type == "roster.v1.SetMyProfileImageRequest" ||
      request_type == "roster.v1.ImportUsersRequest") {
    return kMaxUploadRequestBytes;
  }
  return kMaxRequestBytes;
}

size_t MaxRequestBytes(const google::protobuf::MessageLite& request) {
  return MaxRequestBytesOf(request.GetTypeName());
}

absl::Status RequestTooLarge(size_t limit) {
  return domain::Error(absl::StatusCode::kResourceExhausted,
                       domain::reason::kRequestTooLarge,
                       absl::StrCat("the request is larger than this method's ",
                                    limit, " bytes"));
}

grpc::ServerUnaryReactor* Refused(grpc::CallbackServerContext* context,
                                  const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Status ParseRawRequest(const grpc::ByteBuffer& raw,
                             google::protobuf::MessageLite& request) {
  const size_t limit = MaxRequestBytes(request);
  if (raw.Length() > limit) {
    return RequestTooLarge(limit);
  }
  grpc::ByteBuffer slices(raw);  // Shares the slices; parsing consumes them.
  if (!grpc::GenericDeserialize<grpc::ProtoBufferReader,
                                google::protobuf::MessageLite>(&slices,
                                                               &request)
           .ok()) {
    return domain::Error(absl::StatusCode::kInvalidArgument,
                         domain::reason::kInvalidArgumentFormat,
                         kUnparsableRequest);
  }
  return absl::OkStatus();
}

void SerializeRawResponse(const google::protobuf::MessageLite& response,
                          grpc::ByteBuffer& raw) {
  bool own_buffer = false;
  grpc::GenericSerialize<grpc::ProtoBufferWriter,
                         google::protobuf::MessageLite>(response, &raw,
                                                        &own_buffer);
}

grpc::Status Overloaded(const char* what) {
  return ToGrpcStatus(domain::Error(
      absl::StatusCode::kResourceExhausted, domain::reason::kOverloaded,
      absl::StrCat("too many ", what, " are queued; retry later")));
}

absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  return deadline == std::chrono::system_clock::time_point::max()
             ? absl::InfiniteFuture()
             : absl::FromChrono(deadline);
}

void FinishWith(const grpc::ServerContextBase& context,
                grpc::ServerUnaryReactor* reactor, BoundedExecutor* executor,
                const char* what, absl::AnyInvocable<absl::Status() &&> work,
                BoundedExecutor::Lane lane) {
  if (executor == nullptr) {
    reactor->Finish(ToGrpcStatus(std::move(work)()));
    return;
  }
  // The context lives until Finish.
  const bool queued = executor->Submit(
      [&context, reactor, work = std::move(work)]() mutable {
        if (context.IsCancelled()) {
          reactor->Finish(grpc::Status(
              grpc::CANCELLED, "the call ended while its work was queued"));
          return;
        }
        reactor->Finish(ToGrpcStatus(std::move(work)()));
      },
      lane);
  if (!queued) {
    reactor->Finish(Overloaded(what));
  }
}

}  // namespace roster::api

#include "server/api/call_context.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"
#include "server/domain/validation.h"

namespace roster::api {
namespace {

constexpr char kRequestIdHeader[] = "x-request-id";

}  // namespace

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

grpc::Status Overloaded(const char* what) {
  return ToGrpcStatus(domain::Error(
      absl::StatusCode::kResourceExhausted, domain::reason::kOverloaded,
      absl::StrCat("too many ", what, " are queued; retry later")));
}

void FinishWith(grpc::ServerUnaryReactor* reactor, BoundedExecutor* executor,
                const char* what, absl::AnyInvocable<absl::Status() &&> work) {
  if (executor == nullptr) {
    reactor->Finish(ToGrpcStatus(std::move(work)()));
    return;
  }
  const bool queued =
      executor->Submit([reactor, work = std::move(work)]() mutable {
        reactor->Finish(ToGrpcStatus(std::move(work)()));
      });
  if (!queued) {
    reactor->Finish(Overloaded(what));
  }
}

}  // namespace roster::api

// What every gRPC service here needs from a call besides its request: the
// request id it carries, and the status for a full executor.
#ifndef ROSTER_SERVER_API_CALL_CONTEXT_H_
#define ROSTER_SERVER_API_CALL_CONTEXT_H_

#include <google/protobuf/message_lite.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/api/bounded_executor.h"
#include "server/domain/events.h"
#include "server/domain/image_types.h"

namespace roster::api {

// The caller of an authenticated call: `actor`, and `request_id` or else the
// call's `x-request-id` header (INVALID_ARGUMENT when malformed).
absl::StatusOr<domain::Caller> CallerOf(
    const grpc::CallbackServerContext& context, std::string actor,
    const std::string& request_id);

inline constexpr char kRequestIdHeader[] = "x-request-id";
// How the HTTP listener's gateway (server/web) passes on its caller's address,
// as a gRPC peer string, with kGatewayKeyHeader: GatewayKey(), a random value
// made once per process, so no caller from outside can claim an address.
inline constexpr char kClientAddressHeader[] = "roster-client-address";
inline constexpr char kGatewayKeyHeader[] = "roster-gateway-key";
const std::string& GatewayKey();

// The peer a call came from: gRPC's, or for a call the HTTP gateway made on
// the in-process channel, the gateway's caller.
std::string PeerOf(const grpc::ServerContextBase& context);

// The client's address from a peer string (PeerOf), as a rate limit key: the
// IPv4 address, or the /64 of an IPv6 one (one subscriber's usual
// allocation). Behind a proxy it is the proxy's.
std::string ClientAddressKey(absl::string_view peer);

// Request sizes (DESIGN §14). gRPC refuses a message above
// kMaxUploadRequestBytes; RequestSizeGate refuses one above its method's own
// limit before it is parsed, authenticated or worked on:
// kMaxUploadRequestBytes for image uploads and ImportUsers, kMaxRequestBytes
// for everything else.
inline constexpr size_t kMaxRequestBytes = size_t{64} << 10;
inline constexpr size_t kMaxUploadRequestBytes =
    domain::kMaxProfileImageBytes + (size_t{1} << 20);

// The limit of the method whose request type is `request_type` (a full
// protobuf name) or `request`'s.
size_t MaxRequestBytesOf(absl::string_view request_type);
size_t MaxRequestBytes(const google::protobuf::MessageLite& request);
// RESOURCE_EXHAUSTED (REQUEST_TOO_LARGE) naming the method's `limit`.
absl::Status RequestTooLarge(size_t limit);
// Finishes the call at once with `status` (a refusal before any work) and
// returns its reactor.
grpc::ServerUnaryReactor* Refused(grpc::CallbackServerContext* context,
                                  const absl::Status& status);

// What a client is told when its request does not parse.
inline constexpr char kUnparsableRequest[] =
    "the request message is not valid protobuf for this method (malformed "
    "bytes, a string field that is not UTF-8, or messages nested more than 100 "
    "deep)";

// The upload methods (image uploads, ImportUsers) are served raw, through
// RequestSizeGate's UploadAdmission: their caller is authenticated before any
// of up to 11 MiB is read, and parsed only then (DESIGN §14). Parses `raw`
// into `request`:
// RESOURCE_EXHAUSTED (REQUEST_TOO_LARGE) above the method's limit,
// INVALID_ARGUMENT (INVALID_ARGUMENT_FORMAT) when it is not valid protobuf.
absl::Status ParseRawRequest(const grpc::ByteBuffer& raw,
                             google::protobuf::MessageLite& request);
// Serializes the response of a raw method into `raw`.
void SerializeRawResponse(const google::protobuf::MessageLite& response,
                          grpc::ByteBuffer& raw);
// A raw method's work: parses `raw_request` (ParseRawRequest), runs
// `work(request, response)` (returning absl::Status) and, when it succeeds,
// serializes the response into `raw_response`.
template <typename Request, typename Response, typename Work>
absl::Status ServeRaw(const grpc::ByteBuffer& raw_request,
                      grpc::ByteBuffer& raw_response, Work work) {
  Request request;
  absl::Status parsed = ParseRawRequest(raw_request, request);
  if (!parsed.ok()) {
    return parsed;
  }
  Response response;
  absl::Status done = work(request, response);
  if (done.ok()) {
    SerializeRawResponse(response, raw_response);
  }
  return done;
}

// RESOURCE_EXHAUSTED (OVERLOADED): too many `what` are queued.
grpc::Status Overloaded(const char* what);

// The caller's deadline; absl::InfiniteFuture() when it set none.
absl::Time DeadlineOf(const grpc::ServerContextBase& context);

// Bounds the calls waiting on work queued outside any executor (a store's
// own thread: UserStore::GetUserAsync), as an executor bounds its queue.
// Thread-safe.
class WaitingCalls {
 public:
  // A service's reads waiting on the store's thread at most: as many as the
  // read pool queues.
  static constexpr int kMaxReads = 4096;

  explicit WaitingCalls(int max) : max_(max) {}
  // Counts one more call; false (and not counted) at the limit.
  bool TryAdd() {
    if (count_.fetch_add(1, std::memory_order_relaxed) < max_) {
      return true;
    }
    count_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void Remove() { count_.fetch_sub(1, std::memory_order_relaxed); }
  int count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const int max_;
  std::atomic<int> count_{0};
};

// Runs `work` on `executor` (inline when null) and finishes `reactor`, the
// reactor of `context`'s call, with its status; when the executor's queue is
// full, finishes it at once with Overloaded(what). A call that ended while
// its work was queued (its deadline passed, or the client cancelled) is
// finished CANCELLED without running the work: nobody waits for its result.
// Whatever `work` refers to must live until it has run.
void FinishWith(
    const grpc::ServerContextBase& context, grpc::ServerUnaryReactor* reactor,
    BoundedExecutor* executor, const char* what,
    absl::AnyInvocable<absl::Status() &&> work,
    BoundedExecutor::Lane lane = BoundedExecutor::Lane::kAuthenticated);

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_CALL_CONTEXT_H_

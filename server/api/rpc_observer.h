// RpcObserver: a gRPC server interceptor that, for every call, records its
// method, status code and latency in Metrics, echoes the caller's
// x-request-id in the response's initial metadata (or assigns one), and,
// when logging is on, writes one JSON line to stderr: time, method, code,
// latency, peer and request id. It sees no message contents, so no secret,
// token, password, code or address can reach the log.
#ifndef ROSTER_SERVER_API_RPC_OBSERVER_H_
#define ROSTER_SERVER_API_RPC_OBSERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "server/api/metrics.h"

namespace roster::api {

class RpcObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` must outlive every call. `services` are the full names of the
  // services the server offers ("roster.v1.BackendUsers", …): calls to their
  // methods are recorded by method, any other path as "unknown", so a client
  // cannot add a label or put its own text into a log line (DESIGN §14).
  RpcObserverFactory(Metrics* metrics, bool log_rpcs,
                     const std::vector<std::string>& services);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Metrics* metrics_;  // Not owned.
  const bool log_rpcs_;
  absl::flat_hash_set<std::string> methods_;  // "/package.Service/Method".
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_RPC_OBSERVER_H_

// RpcObserver: a gRPC server interceptor that, for every call, records its
// method, status code and latency in Metrics, echoes the caller's
// x-request-id in the response's initial metadata (or assigns one), and,
// when logging is on, writes one JSON line to stderr: time, method, code,
// latency, peer and request id. It sees no message contents, so no secret,
// token, password, code or address can reach the log.
#ifndef ROSTER_SERVER_API_RPC_OBSERVER_H_
#define ROSTER_SERVER_API_RPC_OBSERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include "server/api/metrics.h"

namespace roster::api {

class RpcObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` must outlive every call.
  RpcObserverFactory(Metrics* metrics, bool log_rpcs)
      : metrics_(metrics), log_rpcs_(log_rpcs) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Metrics* metrics_;  // Not owned.
  const bool log_rpcs_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_RPC_OBSERVER_H_

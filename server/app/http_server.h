// HttpServer: roster-server's plain HTTP listener (--http_listen). It serves
// profile images at GET /v1/images/<img_id> with their content type, a strong
// ETag (the SHA-256 of the bytes), a year-long immutable cache lifetime
// (image ids are never reused) and 304 for a matching If-None-Match; unknown
// ids are 404. With ServeRpcs, the gRPC services over Connect and gRPC-Web at
// POST /<package>.<Service>/<Method> (server/web), and their CORS preflights.
// With ServePortal, the account portal at /sign-in, /sign-up, /account and
// /portal/. Profile image uploads (SetMyProfileImage, SetProfileImage) may
// carry a larger body than other requests (BoundedHttpServer).
#ifndef ROSTER_SERVER_APP_HTTP_SERVER_H_
#define ROSTER_SERVER_APP_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/domain/user_service.h"
#include "server/oauth/oauth_flow.h"
#include "server/web/cors.h"
#include "server/web/portal.h"
#include "server/web/rpc_gateway.h"

namespace roster::app {

class BoundedHttpServer;

// Thread-safe.
class HttpServer {
 public:
  // Binds `listen` (host:port; port 0 picks a free one). Unavailable when the
  // address cannot be bound, InvalidArgument when it is not host:port.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Bind(
      const std::string& listen);
  // Starts serving on a background thread; `users` must outlive the server.
  // Without `users` no image is served (the metrics-only listener). With
  // `metrics`, also serves its text at GET /metrics (Prometheus).
  // Unavailable if the accept loop does not start. Call once.
  // Answers the providers' returns at GET /v1/oauth/callback with `flow`
  // (not owned), at most kMaxOAuthCallbacks at once: each may wait on the
  // provider, and the listener's other workers serve the portal and the
  // RPCs. Before Serve.
  void ServeOAuthCallback(oauth::OAuthFlow* flow);
  // Answers RPCs through `gateway` (not owned), for browsers of `cors`'s
  // origins. Before Serve.
  void ServeRpcs(const web::RpcGateway* gateway, const web::Cors& cors);
  // Serves the account portal's pages and endpoints (not owned). Before
  // Serve.
  void ServePortal(const web::Portal* portal);
  absl::Status Serve(domain::UserServices* users,
                     std::function<std::string()> metrics = nullptr);
  ~HttpServer();  // Stops.

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // Stops accepting and waits for the serving thread. Idempotent.
  void Stop();

 private:
  HttpServer();

  static constexpr int kMaxOAuthCallbacks = 16;

  std::unique_ptr<BoundedHttpServer> server_;
  std::atomic<int> oauth_callbacks_{0};  // Being answered now.
  std::string host_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_HTTP_SERVER_H_

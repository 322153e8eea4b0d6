// RosterServer: the assembled roster-server — store, domain, services, health
// and reflection — listening on the configured address. main() and the
// integration tests both build it here, so the server under test is the
// production server.
#ifndef ROSTER_SERVER_APP_ROSTER_SERVER_H_
#define ROSTER_SERVER_APP_ROSTER_SERVER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/api/auth.h"
#include "server/api/backend_users_service.h"
#include "server/api/bounded_executor.h"
#include "server/api/event_hub.h"
#include "server/api/frontend_users_service.h"
#include "server/api/metrics.h"
#include "server/api/proto_mapping.h"
#include "server/api/request_size_gate.h"
#include "server/app/config.h"
#include "server/app/http_server.h"
#include "server/delivery/deliverer.h"
#include "server/delivery/message_templates.h"
#include "server/domain/clock.h"
#include "server/domain/event_service.h"
#include "server/domain/ids.h"
#include "server/domain/oauth_sign_in.h"
#include "server/domain/session_service.h"
#include "server/domain/tokens.h"
#include "server/domain/user_service.h"
#include "server/oauth/oauth_flow.h"
#include "server/web/portal.h"
#include "storage/user_store.h"

namespace roster::app {

// Thread-safe.
class RosterServer {
 public:
  // Opens and migrates the database, then starts serving; health is SERVING
  // once it returns. Errors: the store's (Unavailable, FailedPrecondition, …)
  // or Unavailable when the address cannot be bound. `clock` is the time every
  // rule reads (token and code lifetimes, lockouts, retention); null means the
  // system clock. Not owned: it must outlive the server.
  static absl::StatusOr<std::unique_ptr<RosterServer>> Start(
      const ServerConfig& config, const domain::Clock* clock = nullptr);

  // Shuts down with a zero grace period if Shutdown() was not called.
  ~RosterServer();

  RosterServer(const RosterServer&) = delete;
  RosterServer& operator=(const RosterServer&) = delete;

  // The bound port (useful with port 0).
  int port() const { return port_; }
  // The HTTP listener's bound port, or 0 without --http_listen.
  int http_port() const { return http_ == nullptr ? 0 : http_->port(); }
  // The BackendUsers port: --backend_listen's, else port().
  int backend_port() const {
    return backend_server_ == nullptr ? port_ : backend_port_;
  }
  // The metrics listener's bound port, or 0 without --metrics_listen.
  int metrics_port() const {
    return metrics_http_ == nullptr ? 0 : metrics_http_->port();
  }

  // The Prometheus text served at /metrics.
  std::string RenderMetrics();

  // Runs event retention now, as the background pruner does. Returns how many
  // events were deleted.
  absl::StatusOr<int64_t> PruneEventsForTest();
  // One round of the pruner's sign-up and sign-in attempt pruning, now.
  absl::StatusOr<int64_t> PruneAccountsForTest();
  // A sign-in ticket for `user_id`, as social sign-in and the portal mint
  // them (they come later): lets tests exchange one.
  absl::StatusOr<std::string> IssueSignInTicketForTest(
      absl::string_view user_id) {
    return attempts_->IssueTicket(user_id);
  }

  // Reports NOT_SERVING, stops accepting calls, lets in-flight calls finish for
  // up to `grace` (then cancels them), and waits until every queued write has
  // finished. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  RosterServer() = default;

  // Builds the deliverer a DeliveryConfig asks for (none when no channel is
  // set). InvalidArgument for templates that do not load.
  absl::Status StartDelivery(const delivery::DeliveryConfig& config);
  // Builds social sign-in when providers are configured: the flow, StartOAuth
  // and the HTTP listener's /v1/oauth/callback.
  void StartOAuth(const ServerConfig& config,
                  const domain::UserServiceOptions& options,
                  const domain::SignUpOptions& sign_up);
  // Serves the account portal (/sign-in, /sign-up, /account) on the HTTP
  // listener, calling the services through gateway_.
  void StartPortal(const ServerConfig& config,
                   const std::string& public_http_url);

  // Parses --data_keys_file and refuses to start when the database holds a
  // secret sealed under a key it does not list: a lost key file is an error
  // at start-up, not garbage at sign-in.
  absl::Status LoadDataKeys(const ServerConfig& config);

  // Declaration order is teardown order reversed: the gRPC server goes first,
  // the store last.
  std::unique_ptr<api::Metrics> metrics_;
  std::unique_ptr<storage::UserStore> store_;
  domain::SystemClock system_clock_;
  const domain::Clock* clock_ = nullptr;  // Not owned.
  std::unique_ptr<domain::SystemRandom> random_;
  std::unique_ptr<domain::IdGenerator> ids_;
  std::unique_ptr<api::ProtoEventEncoder> encoder_;
  std::unique_ptr<domain::UserServices> users_;
  std::unique_ptr<domain::EventService> events_;
  std::unique_ptr<domain::SigningKey> signing_key_;
  std::unique_ptr<domain::TokenVerifier> verifier_;
  std::unique_ptr<domain::SessionService> sessions_;
  std::unique_ptr<api::EventHub> hub_;
  // Code delivery (DESIGN §13), when a channel is configured.
  std::unique_ptr<delivery::MessageTemplates> templates_;
  std::atomic<bool> delivery_cancel_{false};
  std::unique_ptr<delivery::Deliverer> deliverer_;
  std::unique_ptr<api::SecretKeyAuthenticator> authenticator_;
  std::unique_ptr<api::BoundedExecutor> writes_;
  std::unique_ptr<api::BoundedExecutor> hashes_;
  std::unique_ptr<api::BoundedExecutor> reads_;  // PostgreSQL only.
  // Calls that may wait on a provider (StartOAuth, GetUserOAuthAccessToken);
  // with providers only.
  std::unique_ptr<api::BoundedExecutor> provider_calls_;
  std::unique_ptr<domain::SignUpService> sign_ups_;
  std::unique_ptr<domain::InvitationService> invitations_;
  domain::DataKeys data_keys_;
  std::unique_ptr<domain::SecondFactorService> second_factors_;
  std::unique_ptr<domain::SignInAttemptService> attempts_;
  std::unique_ptr<domain::OAuthSignInService> oauth_accounts_;
  std::unique_ptr<oauth::OAuthFlow> oauth_;
  std::unique_ptr<api::BackendUsersService> backend_users_;
  std::unique_ptr<api::FrontendUsersService> frontend_users_;
  // What the gRPC servers serve: the two services behind their size gates.
  std::unique_ptr<api::RequestSizeGate> backend_gate_;
  std::unique_ptr<api::RequestSizeGate> frontend_gate_;
  // Declared before http_, which calls it, so it is destroyed after.
  std::unique_ptr<web::RpcGateway> gateway_;
  std::unique_ptr<web::Portal> portal_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HttpServer> metrics_http_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  // With --backend_listen: BackendUsers on a port of its own.
  std::unique_ptr<grpc::Server> backend_server_;
  int backend_port_ = 0;
  // The gRPC ports whose connections http2_guard checks.
  std::vector<int> guarded_ports_;
  bool shut_down_ = false;
  absl::Duration events_retention_;

  // The background pruner: runs retention every interval until stopped.
  void RunPruner(absl::Duration interval);
  // One bounded batch of abandoned sign-ups and expired sign-in attempts
  // (DESIGN §14); how many rows went.
  absl::StatusOr<int64_t> PruneAccounts();
  absl::Mutex pruner_mu_;
  bool pruner_stopping_ ABSL_GUARDED_BY(pruner_mu_) = false;
  std::thread pruner_;
  // Readiness: SERVING iff the store answers CheckReachable(), re-checked
  // every few seconds until Shutdown (which stops it with the pruner).
  void RunProber();
  void SetServing(bool serving);
  std::thread prober_;
};

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_ROSTER_SERVER_H_

#include "server/app/roster_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_builder.h>

#include <iostream>
#include <map>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "server/api/call_context.h"
#include "server/api/log.h"
#include "server/api/request_size_gate.h"
#include "server/api/rpc_observer.h"
#include "server/app/cpu_quota.h"
#include "server/app/http2_guard.h"
#include "server/app/open_store.h"
#include "server/app/timed_user_store.h"
#include "server/domain/hash_memory.h"
#include "server/domain/passwords.h"
#include "server/web/cors.h"
#include "server/web/rpc_gateway.h"
#include "storage/user_store.h"

namespace roster::app {
namespace {

constexpr char kBackendUsersService[] = "roster.v1.BackendUsers";
constexpr char kFrontendUsersService[] = "roster.v1.FrontendUsers";
constexpr int kWriteThreads = 32;
// PostgreSQL reads in flight at once, each holding a thread for its round
// trip; as many as the connection pool holds (PgOptions::max_connections).
constexpr int kPostgresReadThreads = 16;
// Streams one connection may have open at once (HTTP/2 SETTINGS).
constexpr int kMaxStreamsPerConnection = 100;
// How often readiness re-checks the database (gRPC health: NOT_SERVING while
// it cannot be reached, so a Kubernetes readiness probe takes the pod out).
constexpr absl::Duration kProbeInterval = absl::Seconds(2);

// Plaintext, or TLS from files that gRPC re-reads every reload interval: a
// renewed certificate serves new handshakes while open connections go on.
std::shared_ptr<grpc::ServerCredentials> CredentialsFor(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  const auto interval = static_cast<unsigned int>(
      absl::ToInt64Seconds(config.tls_reload_interval));
  auto provider = config.tls_client_ca_file.empty()
                      ? std::make_shared<
                            grpc::experimental::FileWatcherCertificateProvider>(
                            config.tls_key_file, config.tls_cert_file, interval)
                      : std::make_shared<
                            grpc::experimental::FileWatcherCertificateProvider>(
                            config.tls_key_file, config.tls_cert_file,
                            config.tls_client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!config.tls_client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RosterServer>> RosterServer::Start(
    const ServerConfig& config, const domain::Clock* clock) {
  auto server = absl::WrapUnique(new RosterServer());
  server->clock_ = clock != nullptr ? clock : &server->system_clock_;
  auto store = OpenStore(config.db_path, config.user_cache_mb);
  if (!store.ok()) {
    return store.status();
  }
  server->metrics_ = std::make_unique<api::Metrics>();
  server->store_ = std::make_unique<TimedUserStore>(*std::move(store),
                                                    server->metrics_.get());
  server->random_ = std::make_unique<domain::SystemRandom>();
  server->ids_ = std::make_unique<domain::IdGenerator>(server->clock_,
                                                       server->random_.get());
  domain::UserServiceOptions options;
  options.lockout_attempts = config.lockout_attempts;
  options.verification_codes_per_user_per_hour = config.codes_per_user_per_hour;
  options.verification_codes_per_hour_total = config.codes_per_hour;
  options.lockout_duration = config.lockout_duration;
  options.public_http_url = config.public_http_url;
  if (!config.http_listen.empty()) {
    auto http = HttpServer::Bind(config.http_listen);
    if (!http.ok()) {
      return http.status();
    }
    server->http_ = *std::move(http);
    if (options.public_http_url.empty()) {
      const std::string& host = server->http_->host();
      options.public_http_url = absl::StrCat(
          "http://",
          !absl::StrContains(host, ':') ? host : absl::StrCat("[", host, "]"),
          ":", server->http_->port());
    }
  }
  if (!config.metrics_listen.empty()) {
    auto metrics_http = HttpServer::Bind(config.metrics_listen);
    if (!metrics_http.ok()) {
      return metrics_http.status();
    }
    server->metrics_http_ = *std::move(metrics_http);
  }
  server->encoder_ = std::make_unique<api::ProtoEventEncoder>();
  server->events_ = std::make_unique<domain::EventService>(server->store_.get(),
                                                           server->clock_);
  server->hub_ = std::make_unique<api::EventHub>(config.max_event_streams);
  api::EventHub* hub = server->hub_.get();
  absl::Status delivery = server->StartDelivery(config.delivery);
  if (!delivery.ok()) {
    return delivery;
  }
  server->store_->SetCommitListener(
      [hub, deliverer = server->deliverer_.get()](int64_t latest) {
        hub->Publish(latest);
        if (deliverer != nullptr) {
          deliverer->Notify();
        }
      });
  server->events_retention_ = config.events_retention;
  server->users_ = std::make_unique<domain::UserServices>(
      server->store_.get(), server->clock_, server->ids_.get(),
      server->encoder_.get(), options);
  if (config.signing_key.empty()) {
    server->signing_key_ = std::make_unique<domain::SigningKey>(
        domain::SigningKey::Generate(*server->random_));
    api::LogJson("warn",
                 "no --signing_key_file: session tokens are signed with a key "
                 "that lasts until restart");
  } else {
    auto key = domain::SigningKey::Parse(config.signing_key);
    if (!key.ok()) {
      return key.status();
    }
    server->signing_key_ =
        std::make_unique<domain::SigningKey>(*std::move(key));
  }
  std::vector<domain::VerificationKey> verification_keys = {
      server->signing_key_->verification_key()};
  for (const auto& extra : config.extra_verification_keys) {
    auto key = domain::SigningKey::Parse(extra);
    if (!key.ok()) {
      return key.status();
    }
    verification_keys.push_back(key->verification_key());
  }
  domain::SessionServiceOptions session_options;
  session_options.session_lifetime = config.session_lifetime;
  session_options.token_lifetime = config.session_token_lifetime;
  session_options.issuer = config.token_issuer;
  session_options.audience = config.token_audience;
  server->verifier_ = std::make_unique<domain::TokenVerifier>(
      session_options.issuer, std::move(verification_keys),
      session_options.audience);
  server->sessions_ = std::make_unique<domain::SessionService>(
      server->store_.get(), server->clock_, server->ids_.get(),
      server->random_.get(), server->encoder_.get(), server->signing_key_.get(),
      server->verifier_.get(), session_options);
  domain::SignUpOptions sign_up_options;
  sign_up_options.required_fields = config.sign_up_required;
  auto sign_up_mode = domain::ParseSignUpMode(config.sign_up_mode);
  if (!sign_up_mode.ok()) {
    return sign_up_mode.status();
  }
  sign_up_options.mode = *sign_up_mode;
  server->sign_ups_ = std::make_unique<domain::SignUpService>(
      server->store_.get(), server->clock_, server->ids_.get(),
      server->encoder_.get(), options, server->sessions_.get(),
      sign_up_options);
  absl::Status keys_loaded = server->LoadDataKeys(config);
  if (!keys_loaded.ok()) {
    return keys_loaded;
  }
  server->second_factors_ = std::make_unique<domain::SecondFactorService>(
      server->store_.get(), server->clock_, server->ids_.get(),
      server->encoder_.get(), options, &server->data_keys_, config.totp_issuer,
      &server->users_->passwords);
  server->attempts_ = std::make_unique<domain::SignInAttemptService>(
      server->store_.get(), server->clock_, server->ids_.get(),
      server->encoder_.get(), options, server->users_.get(),
      server->sessions_.get(), server->second_factors_.get());
  server->invitations_ = std::make_unique<domain::InvitationService>(
      server->store_.get(), server->clock_, server->ids_.get(),
      server->random_.get(), server->encoder_.get(), options);
  server->authenticator_ =
      std::make_unique<api::SecretKeyAuthenticator>(config.secret_keys);
  // Write threads mostly wait for the group commit that covers their write:
  // the store batches whatever is queued into one transaction and one fsync,
  // so more threads mean bigger batches, not more concurrent transactions.
  server->writes_ = std::make_unique<api::BoundedExecutor>(
      /*threads=*/kWriteThreads, /*max_queued=*/10000);
  // A PostgreSQL read waits a network round trip, which gRPC's two callback
  // threads cannot spare; its concurrent GetUser calls then also share
  // statements (PgReadBatch). SQLite answers in microseconds, inline.
  if (storage::IsPostgresDsn(config.db_path)) {
    server->reads_ = std::make_unique<api::BoundedExecutor>(
        /*threads=*/kPostgresReadThreads,
        /*max_queued=*/api::WaitingCalls::kMaxReads);
  }
  // argon2id is CPU-bound: a worker per CPU the quota allows but one, no more
  // than the hash memory budget holds at 19 MiB each (HashWorkers); a short
  // queue per lane, 16 per usable CPU (about a second of work), so a flood of
  // sign-ins is refused fast instead of piling up. The budget also holds
  // imported digests, which cost their own m.
  const size_t hash_memory = size_t{static_cast<size_t>(config.hash_memory_mb)}
                             << 20;
  domain::HashMemoryBudget::Global().SetLimit(hash_memory);
  const int usable_cpus = UsableCpus();
  const int hash_workers = HashWorkers(
      usable_cpus, static_cast<int>(hash_memory / domain::kArgon2MemLimit));
  server->hashes_ = std::make_unique<api::BoundedExecutor>(
      hash_workers, /*max_queued=*/static_cast<size_t>(usable_cpus) * 16,
      /*nice=*/10);
  server->backend_users_ = std::make_unique<api::BackendUsersService>(
      server->users_.get(), server->sessions_.get(), server->events_.get(),
      server->hub_.get(), server->authenticator_.get(), server->writes_.get(),
      server->hashes_.get(), server->invitations_.get(),
      server->second_factors_.get());

  // Link the generated health messages so reflection can describe
  // grpc.health.v1.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // One request quota per gRPC listener. When a quota is full, calls fail on
  // every listener that shares it: unauthenticated uploads filling the public
  // port's quota starved BackendUsers on its own port too (roster-abuse,
  // oversized gRPC messages).
  const size_t request_bytes =
      size_t{static_cast<size_t>(config.request_memory_mb)} << 20;
  grpc::ResourceQuota request_quota("roster-requests");
  request_quota.Resize(request_bytes);
  grpc::ResourceQuota backend_request_quota("roster-backend-requests");
  backend_request_quota.Resize(request_bytes);
  // The same interceptors and limits on each gRPC server.
  const auto configure = [&](grpc::ServerBuilder& builder,
                             grpc::ResourceQuota& quota) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        observers;
    observers.push_back(std::make_unique<api::RpcObserverFactory>(
        server->metrics_.get(), config.log_rpcs,
        std::vector<std::string>{"roster.v1.BackendUsers",
                                 "roster.v1.FrontendUsers",
                                 "grpc.health.v1.Health",
                                 "grpc.reflection.v1alpha.ServerReflection"}));
    builder.experimental().SetInterceptorCreators(std::move(observers));
    // gRPC's default 4 MiB would refuse a 10 MiB profile image before it
    // could be judged; RequestSizeGate then holds each method's request to
    // its own limit before it is parsed.
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(api::kMaxUploadRequestBytes));
    // All connections of one listener share its memory quota: under its
    // pressure gRPC shrinks flow-control windows and stops reading, so many
    // large requests in flight wait instead of growing memory.
    builder.SetResourceQuota(quota);
    // gRPC's default is unlimited streams per connection.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               kMaxStreamsPerConnection);
    // gRPC sets SO_REUSEPORT, which lets a second process bind a port this
    // one serves and silently take a share of its connections; a port in
    // use must be a loud start-up error instead.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // With BDP probing, a flood of refused uploads grows every stream's
    // receive window to megabytes, all of which the client may send before
    // its refusal: the server then reads at the attacker's bandwidth.
    // Without it the window starts at 64 KiB and grows only for a request
    // the server has begun to read, which an upload is only once its caller
    // is authenticated (docs/reliability.md).
    builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE,
                               config.grpc_bdp_probe ? 1 : 0);
  };
  api::SignInLimits sign_in_limits;
  sign_in_limits.failures_per_identifier =
      config.sign_in_failures_per_identifier;
  sign_in_limits.failures_per_address = config.sign_in_failures_per_address;
  sign_in_limits.window = config.sign_in_failure_window;
  sign_in_limits.self_service_writes_per_hour =
      config.self_service_writes_per_hour;
  sign_in_limits.sign_ups_per_address_per_hour =
      config.sign_ups_per_address_per_hour;
  sign_in_limits.sign_in_attempts_per_address_per_hour =
      config.sign_in_attempts_per_address_per_hour;
  server->frontend_users_ = std::make_unique<api::FrontendUsersService>(
      server->users_.get(), server->sessions_.get(), server->sign_ups_.get(),
      server->attempts_.get(), server->second_factors_.get(),
      server->writes_.get(), server->hashes_.get(), sign_in_limits);
  server->backend_users_->set_reads(server->reads_.get());
  server->frontend_users_->set_reads(server->reads_.get());
  server->StartOAuth(config, options, sign_up_options);
  grpc::ServerBuilder builder;
  configure(builder, request_quota);
  builder.AddListeningPort(config.listen, CredentialsFor(config),
                           &server->port_);
  // Each service is served through a gate that refuses an oversized request
  // before gRPC parses it.
  const auto gate = [](const char* name, auto& service) {
    return std::make_unique<api::RequestSizeGate>(
        *google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            name),
        [&service](int i) { return service.handler(i); }, service.Uploads());
  };
  server->frontend_gate_ =
      gate(kFrontendUsersService, *server->frontend_users_);
  server->backend_gate_ = gate(kBackendUsersService, *server->backend_users_);
  builder.RegisterService(server->frontend_gate_.get());
  if (config.backend_listen.empty()) {
    builder.RegisterService(server->backend_gate_.get());
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen));
  }
  if (config.http2_guard) {
    ProtectGrpcPort(server->port_, Http2Limits());
    server->guarded_ports_.push_back(server->port_);
  }
  if (!config.backend_listen.empty()) {
    // BackendUsers alone on its own port, for a network policy to fence.
    grpc::ServerBuilder backend_builder;
    configure(backend_builder, backend_request_quota);
    backend_builder.AddListeningPort(
        config.backend_listen, CredentialsFor(config), &server->backend_port_);
    backend_builder.RegisterService(server->backend_gate_.get());
    server->backend_server_ = backend_builder.BuildAndStart();
    if (server->backend_server_ == nullptr || server->backend_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", config.backend_listen));
    }
    if (config.http2_guard) {
      ProtectGrpcPort(server->backend_port_, Http2Limits());
      server->guarded_ports_.push_back(server->backend_port_);
    }
  }
  if (server->http_ != nullptr) {
    // Browsers' calls enter through the in-process channels: the same
    // interceptors, authentication and limits as the gRPC port.
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(
        static_cast<int>(api::kMaxUploadRequestBytes));
    std::map<std::string, std::shared_ptr<grpc::Channel>> channels = {
        {kFrontendUsersService, server->server_->InProcessChannel(arguments)}};
    if (config.web.http_backend) {
      grpc::Server* backend = server->backend_server_ != nullptr
                                  ? server->backend_server_.get()
                                  : server->server_.get();
      channels.emplace(kBackendUsersService,
                       backend->InProcessChannel(arguments));
    }
    server->gateway_ = std::make_unique<web::RpcGateway>(std::move(channels));
    server->http_->ServeRpcs(server->gateway_.get(),
                             web::Cors(config.web.allowed_origins));
    server->StartPortal(config, options.public_http_url);
    std::function<std::string()> metrics;
    if (config.metrics) {
      metrics = [raw = server.get()] { return raw->RenderMetrics(); };
    }
    absl::Status serving =
        server->http_->Serve(server->users_.get(), std::move(metrics));
    if (!serving.ok()) {
      return serving;
    }
  }
  if (server->metrics_http_ != nullptr) {
    absl::Status serving = server->metrics_http_->Serve(
        nullptr, [raw = server.get()] { return raw->RenderMetrics(); });
    if (!serving.ok()) {
      return serving;
    }
  }
  if (server->deliverer_ != nullptr) {
    server->deliverer_->Start();
  }
  server->pruner_ = std::thread(
      [raw = server.get(), interval = config.events_prune_interval] {
        raw->RunPruner(interval);
      });
  server->SetServing(true);
  server->prober_ = std::thread([raw = server.get()] { raw->RunProber(); });
  return server;
}

RosterServer::~RosterServer() { Shutdown(absl::ZeroDuration()); }

void RosterServer::Shutdown(absl::Duration grace) {
  if (shut_down_ || server_ == nullptr) {
    return;
  }
  shut_down_ = true;
  // NOT_SERVING first, so load balancers stop routing here while calls drain.
  server_->GetHealthCheckService()->Shutdown();
  if (backend_server_ != nullptr) {
    backend_server_->GetHealthCheckService()->Shutdown();
  }
  if (http_ != nullptr) {
    http_->Stop();
  }
  if (metrics_http_ != nullptr) {
    metrics_http_->Stop();
  }
  // Event streams never end by themselves: end them now (UNAVAILABLE, with
  // the cursor to resume from) so draining waits only for unary calls.
  hub_->Shutdown();
  if (deliverer_ != nullptr) {
    deliverer_->Stop();
  }
  const absl::Time deadline = absl::Now() + grace;
  server_->Shutdown(absl::ToChronoTime(deadline));
  for (const int port : guarded_ports_) {
    UnprotectGrpcPort(port);
  }
  if (backend_server_ != nullptr) {
    backend_server_->Shutdown(absl::ToChronoTime(deadline));
  }
  // A stream's OnDone may still be running on a gRPC thread; it touches the
  // hub, which is destroyed with this server.
  if (!hub_->AwaitStreamsReleased(absl::Seconds(10))) {
    api::LogJson("warn", "event streams still open after shutdown", "");
  }
  // Every reactor is finished by now; stop the write, hash, read and
  // provider threads after their queues drain, and the pruner.
  writes_.reset();
  hashes_.reset();
  reads_.reset();
  provider_calls_.reset();
  {
    absl::MutexLock lock(&pruner_mu_);
    pruner_stopping_ = true;
  }
  if (pruner_.joinable()) {
    pruner_.join();
  }
  if (prober_.joinable()) {
    prober_.join();
  }
}

void RosterServer::SetServing(bool serving) {
  for (grpc::Server* grpc_server : {server_.get(), backend_server_.get()}) {
    if (grpc_server == nullptr) {
      continue;
    }
    auto* health = grpc_server->GetHealthCheckService();
    health->SetServingStatus("", serving);
    health->SetServingStatus(kBackendUsersService, serving);
    health->SetServingStatus(kFrontendUsersService, serving);
  }
}

void RosterServer::RunProber() {
  bool serving = true;
  while (true) {
    {
      absl::MutexLock lock(&pruner_mu_);
      if (pruner_mu_.AwaitWithTimeout(absl::Condition(&pruner_stopping_),
                                      kProbeInterval)) {
        return;
      }
    }
    const absl::Status reachable = store_->CheckReachable();
    if (reachable.ok() != serving) {
      serving = reachable.ok();
      api::LogJson(
          serving ? "info" : "warn",
          serving ? "database reachable again: SERVING"
                  : "database unreachable: NOT_SERVING",
          absl::StrCat(",\"code\":\"",
                       absl::StatusCodeToString(reachable.code()), "\""));
      absl::MutexLock lock(&pruner_mu_);
      if (!pruner_stopping_) {
        SetServing(serving);
      }
    }
  }
}

absl::StatusOr<int64_t> RosterServer::PruneEventsForTest() {
  return events_->Prune(events_retention_);
}

absl::StatusOr<int64_t> RosterServer::PruneAccountsForTest() {
  return PruneAccounts();
}

absl::Status RosterServer::LoadDataKeys(const ServerConfig& config) {
  if (!config.data_keys.empty()) {
    auto keys = domain::DataKeys::Parse(config.data_keys);
    if (!keys.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--data_keys_file ", config.data_keys_file, ": ",
                       keys.status().message()));
    }
    data_keys_ = *std::move(keys);
  }
  auto used = store_->ListDataKeyIds();
  if (!used.ok()) {
    return used.status();
  }
  for (const std::string& key_id : *used) {
    if (!data_keys_.Has(key_id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database holds TOTP secrets sealed under data key ", key_id,
          ", which ",
          data_keys_.empty() ? "no --data_keys_file gives"
                             : "--data_keys_file does not list",
          ": restore the key file (a rotated-out key must stay listed while "
          "secrets use it)"));
    }
  }
  if (data_keys_.empty()) {
    api::LogJson("warn",
                 "no --data_keys_file: authenticator apps (TOTP) are refused "
                 "with FAILED_PRECONDITION");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RosterServer::PruneAccounts() {
  auto sign_ups = sign_ups_->Prune(10000);
  auto attempts = attempts_->Prune(10000);
  absl::StatusOr<int64_t> states = int64_t{0};
  if (oauth_ != nullptr) {
    states = oauth_->Prune(10000);
  }
  for (const auto* pruned : {&sign_ups, &attempts, &states}) {
    if (!pruned->ok()) {
      return pruned->status();
    }
  }
  return *sign_ups + *attempts + *states;
}

void RosterServer::RunPruner(absl::Duration interval) {
  while (true) {
    absl::StatusOr<int64_t> pruned = events_->Prune(events_retention_);
    if (!pruned.ok()) {
      api::LogJson(
          "warn", "event retention failed",
          absl::StrCat(",\"code\":\"",
                       absl::StatusCodeToString(pruned.status().code()), "\""));
    }
    // Abandoned sign-ups and expired sign-in attempts, a bounded batch per
    // round (DESIGN §14).
    absl::StatusOr<int64_t> accounts = PruneAccounts();
    if (!accounts.ok()) {
      api::LogJson(
          "warn", "sign-up and sign-in attempt pruning failed",
          absl::StrCat(",\"code\":\"",
                       absl::StatusCodeToString(accounts.status().code()),
                       "\""));
    }
    absl::MutexLock lock(&pruner_mu_);
    if (pruner_mu_.AwaitWithTimeout(absl::Condition(&pruner_stopping_),
                                    interval)) {
      return;
    }
  }
}

}  // namespace roster::app

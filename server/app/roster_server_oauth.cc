// RosterServer's social sign-in (DESIGN §11): the flow over the configured
// providers, StartOAuth on FrontendUsers and /v1/oauth/callback on the HTTP
// listener.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/app/roster_server.h"

namespace roster::app {
namespace {

constexpr int kProviderCallThreads = 8;

}  // namespace

void RosterServer::StartOAuth(const ServerConfig& config,
                              const domain::UserServiceOptions& options,
                              const domain::SignUpOptions& sign_up) {
  if (config.oauth.providers.empty() || http_ == nullptr) {
    return;  // LoadConfig refuses providers without --http_listen.
  }
  oauth_accounts_ = std::make_unique<domain::OAuthSignInService>(
      store_.get(), clock_, ids_.get(), encoder_.get(), options,
      attempts_.get(), sign_up, &data_keys_);
  oauth::OAuthFlowOptions flow_options;
  flow_options.callback_url = absl::StrCat(
      absl::StripSuffix(options.public_http_url, "/"), "/v1/oauth/callback");
  flow_options.allowed_redirect_urls = config.oauth.allowed_redirect_urls;
  // The portal's own pages take social sign-ins back (DESIGN §12).
  for (const char* page : {"/sign-in", "/account"}) {
    flow_options.allowed_redirect_urls.push_back(
        absl::StrCat(web::UrlOrigin(options.public_http_url), page));
  }
  flow_options.transport.ca_file = config.oauth.ca_file;
  flow_options.transport.timeout = absl::Seconds(10);
  oauth_ = std::make_unique<oauth::OAuthFlow>(
      store_.get(), clock_, oauth_accounts_.get(), config.oauth.providers,
      std::move(flow_options));
  // A provider that stops answering holds each of its calls for the
  // transport's timeout. Those calls get threads of their own, so that no
  // number of them (sign-ins anyone may start) holds up the writes. Their
  // queue is short, 8 a lane: a portal's call waits on a worker of the HTTP
  // listener, so 16 may wait there at most, and the rest are refused at once
  // (OVERLOADED). Backends' token calls go before unauthenticated sign-ins.
  provider_calls_ = std::make_unique<api::BoundedExecutor>(
      /*threads=*/kProviderCallThreads, /*max_queued=*/8);
  frontend_users_->set_oauth(oauth_.get(), provider_calls_.get());
  backend_users_->set_oauth(oauth_.get(), provider_calls_.get());
  http_->ServeOAuthCallback(oauth_.get());
}

}  // namespace roster::app

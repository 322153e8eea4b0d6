// FrontendUsers' social sign-in (DESIGN §11): StartOAuth. The provider's
// return is the HTTP listener's /v1/oauth/callback (server/app).
#include "absl/time/time.h"
#include "server/api/call_context.h"
#include "server/api/frontend_users_service.h"
#include "server/domain/errors.h"

namespace roster::api {

grpc::ServerUnaryReactor* FrontendUsersService::StartOAuth(
    grpc::CallbackServerContext* context,
    const roster::v1::StartOAuthRequest* request,
    roster::v1::StartOAuthResponse* response) {
  const auto action = request->action();
  if (action != roster::v1::StartOAuthRequest::ACTION_SIGN_IN &&
      action != roster::v1::StartOAuthRequest::ACTION_CONNECT) {
    return Refused(context,
                   domain::Error(absl::StatusCode::kInvalidArgument,
                                 domain::reason::kInvalidArgumentFormat,
                                 "action is required",
                                 {{"action",
                                   "must be ACTION_SIGN_IN or "
                                   "ACTION_CONNECT"}}));
  }
  if (oauth_ == nullptr) {
    return Refused(context, oauth::ProviderNotConfigured());
  }
  // A caller past its deadline stops waiting for another call's discovery.
  const absl::Time deadline = DeadlineOf(*context);
  auto start = [this, request, response, deadline](oauth::OAuthAction what,
                                                   const std::string& user_id) {
    absl::StatusOr<std::string> url =
        oauth_->Start(request->provider(), request->redirect_url(), what,
                      user_id, request->legal_accepted(), deadline);
    if (!url.ok()) {
      return url.status();
    }
    response->set_authorization_url(*std::move(url));
    return absl::OkStatus();
  };
  if (action == roster::v1::StartOAuthRequest::ACTION_CONNECT) {
    return AsMe(context, provider_calls_, "provider calls",
                [start](const Me& me) mutable {
                  return start(oauth::OAuthAction::kConnect, me.user_id);
                });
  }
  // Each start stores a state for 10 minutes: bounded per client address
  // like the sign-in attempts it stands in for.
  absl::Status allowed = attempts_by_address_.Acquire(
      ClientAddressKey(PeerOf(*context)), sessions_->Now());
  if (!allowed.ok()) {
    return Refused(context, allowed);
  }
  return Anyone(context, provider_calls_, "provider calls", [start]() mutable {
    return start(oauth::OAuthAction::kSignIn, "");
  });
}

}  // namespace roster::api

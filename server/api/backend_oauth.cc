// BackendUsers' social sign-in call (DESIGN §11): GetUserOAuthAccessToken.
#include "server/api/backend_users_service.h"
#include "server/api/proto_mapping.h"

namespace roster::api {

grpc::ServerUnaryReactor* BackendUsersService::GetUserOAuthAccessToken(
    grpc::CallbackServerContext* context,
    const roster::v1::GetUserOAuthAccessTokenRequest* request,
    roster::v1::OAuthAccessToken* response) {
  // Reading the sealed tokens is a transaction, and an expired token is
  // refreshed (one bounded call to the provider) and kept: on the provider
  // calls' threads, which a slow provider may hold.
  // A caller past its deadline stops waiting for another call's refresh.
  const absl::Time deadline = DeadlineOf(*context);
  return RunOn(provider_calls_, "provider calls", context, "",
               [this, request, response,
                deadline](const domain::Caller&) -> absl::Status {
                 if (oauth_ == nullptr) {
                   return oauth::ProviderNotConfigured();
                 }
                 auto tokens = oauth_->AccessToken(
                     request->user_id(), request->provider(), deadline);
                 if (!tokens.ok()) {
                   return tokens.status();
                 }
                 response->set_external_account_id(tokens->external_account_id);
                 response->set_token(tokens->access_token);
                 if (tokens->expire_at.has_value()) {
                   ToProto(*tokens->expire_at, *response->mutable_expire_at());
                 }
                 for (const std::string& scope : tokens->scopes) {
                   response->add_scopes(scope);
                 }
                 return absl::OkStatus();
               });
}

}  // namespace roster::api

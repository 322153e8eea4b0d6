// BackendUsers' second-factor removals (DESIGN §10), for a user who lost
// their authenticator app or backup codes.
#include "server/api/backend_users_service.h"
#include "server/api/proto_mapping.h"

namespace roster::api {

template <typename Request, typename Remove>
grpc::ServerUnaryReactor* BackendUsersService::RemoveFactors(
    grpc::CallbackServerContext* context, const Request* request,
    roster::v1::User* response, Remove remove) {
  return Write(context, "",
               [this, request, response, remove](const domain::Caller& caller) {
                 return RespondWithUser(response, [&] {
                   return (second_factors_->*remove)(caller,
                                                     request->user_id());
                 });
               });
}

grpc::ServerUnaryReactor* BackendUsersService::DisableUserMfa(
    grpc::CallbackServerContext* context,
    const roster::v1::DisableUserMfaRequest* request,
    roster::v1::User* response) {
  return RemoveFactors(context, request, response,
                       &domain::SecondFactorService::RemoveAll);
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteUserTotp(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteUserTotpRequest* request,
    roster::v1::User* response) {
  return RemoveFactors(context, request, response,
                       &domain::SecondFactorService::RemoveTotp);
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteUserBackupCodes(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteUserBackupCodesRequest* request,
    roster::v1::User* response) {
  return RemoveFactors(context, request, response,
                       &domain::SecondFactorService::RemoveBackupCodes);
}

}  // namespace roster::api

// BackendUsers' second-factor removals (DESIGN §10), for a user who lost
// their authenticator app or backup codes.
#include "server/api/backend_users_service.h"
#include "server/api/proto_mapping.h"

namespace roster::api {

grpc::ServerUnaryReactor* BackendUsersService::DisableUserMfa(
    grpc::CallbackServerContext* context,
    const roster::v1::DisableUserMfaRequest* request,
    roster::v1::User* response) {
  if (auto* refused = RefuseOversized(context, *request)) {
    return refused;
  }
  return Write(
      context, "", [this, request, response](const domain::Caller& caller) {
        return RespondWithUser(response, [&] {
          return second_factors_->RemoveAll(caller, request->user_id());
        });
      });
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteUserTotp(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteUserTotpRequest* request,
    roster::v1::User* response) {
  if (auto* refused = RefuseOversized(context, *request)) {
    return refused;
  }
  return Write(
      context, "", [this, request, response](const domain::Caller& caller) {
        return RespondWithUser(response, [&] {
          return second_factors_->RemoveTotp(caller, request->user_id());
        });
      });
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteUserBackupCodes(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteUserBackupCodesRequest* request,
    roster::v1::User* response) {
  if (auto* refused = RefuseOversized(context, *request)) {
    return refused;
  }
  return Write(
      context, "", [this, request, response](const domain::Caller& caller) {
        return RespondWithUser(response, [&] {
          return second_factors_->RemoveBackupCodes(caller, request->user_id());
        });
      });
}

}  // namespace roster::api

// BackendUsers' calls on a user's email addresses, phone numbers and external
// accounts (DESIGN §4).
#include "server/api/backend_users_service.h"
#include "server/api/proto_mapping.h"

namespace roster::api {

grpc::ServerUnaryReactor* BackendUsersService::CreateEmailAddress(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateEmailAddressRequest* request,
    roster::v1::EmailAddress* response) {
  return Write(context, "",
               [this, request, response](const domain::Caller& caller) {
                 return RespondWithIdentifier(
                     users_->identifiers.CreateIdentifier(
                         caller, domain::IdentifierType::kEmailAddress,
                         FromProto(*request)),
                     response);
               });
}

grpc::ServerUnaryReactor* BackendUsersService::GetEmailAddress(
    grpc::CallbackServerContext* context,
    const roster::v1::GetEmailAddressRequest* request,
    roster::v1::EmailAddress* response) {
  return Read(context, [this, request, response] {
    return RespondWithIdentifier(
        users_->identifiers.GetIdentifier(domain::IdentifierType::kEmailAddress,
                                          request->email_address_id()),
        response);
  });
}

grpc::ServerUnaryReactor* BackendUsersService::UpdateEmailAddress(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateEmailAddressRequest* request,
    roster::v1::EmailAddress* response) {
  return Write(context, "",
               [this, request, response](const domain::Caller& caller) {
                 return RespondWithIdentifier(
                     users_->identifiers.UpdateIdentifier(
                         caller, domain::IdentifierType::kEmailAddress,
                         FromProto(*request)),
                     response);
               });
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteEmailAddress(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteEmailAddressRequest* request,
    roster::v1::DeletedObject* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        return RespondWithDeleted(
            users_->identifiers
                .DeleteIdentifier(caller, domain::IdentifierType::kEmailAddress,
                                  request->email_address_id(),
                                  request->promote_email_address_id())
                .status(),
            request->email_address_id(), response);
      });
}

grpc::ServerUnaryReactor* BackendUsersService::CreatePhoneNumber(
    grpc::CallbackServerContext* context,
    const roster::v1::CreatePhoneNumberRequest* request,
    roster::v1::PhoneNumber* response) {
  return Write(context, "",
               [this, request, response](const domain::Caller& caller) {
                 return RespondWithIdentifier(
                     users_->identifiers.CreateIdentifier(
                         caller, domain::IdentifierType::kPhoneNumber,
                         FromProto(*request)),
                     response);
               });
}

grpc::ServerUnaryReactor* BackendUsersService::GetPhoneNumber(
    grpc::CallbackServerContext* context,
    const roster::v1::GetPhoneNumberRequest* request,
    roster::v1::PhoneNumber* response) {
  return Read(context, [this, request, response] {
    return RespondWithIdentifier(
        users_->identifiers.GetIdentifier(domain::IdentifierType::kPhoneNumber,
                                          request->phone_number_id()),
        response);
  });
}

grpc::ServerUnaryReactor* BackendUsersService::UpdatePhoneNumber(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdatePhoneNumberRequest* request,
    roster::v1::PhoneNumber* response) {
  return Write(context, "",
               [this, request, response](const domain::Caller& caller) {
                 return RespondWithIdentifier(
                     users_->identifiers.UpdateIdentifier(
                         caller, domain::IdentifierType::kPhoneNumber,
                         FromProto(*request)),
                     response);
               });
}

grpc::ServerUnaryReactor* BackendUsersService::DeletePhoneNumber(
    grpc::CallbackServerContext* context,
    const roster::v1::DeletePhoneNumberRequest* request,
    roster::v1::DeletedObject* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        return RespondWithDeleted(
            users_->identifiers
                .DeleteIdentifier(caller, domain::IdentifierType::kPhoneNumber,
                                  request->phone_number_id(),
                                  request->promote_phone_number_id())
                .status(),
            request->phone_number_id(), response);
      });
}

grpc::ServerUnaryReactor* BackendUsersService::CreateExternalAccount(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateExternalAccountRequest* request,
    roster::v1::ExternalAccount* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        auto params = FromProto(*request);
        if (!params.ok()) {
          return params.status();
        }
        return RespondWithIdentifier(
            users_->external_accounts.CreateExternalAccount(caller, *params),
            response);
      });
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteExternalAccount(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteExternalAccountRequest* request,
    roster::v1::DeletedObject* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        return RespondWithDeleted(
            users_->external_accounts
                .DeleteExternalAccount(caller, request->external_account_id())
                .status(),
            request->external_account_id(), response);
      });
}

}  // namespace roster::api

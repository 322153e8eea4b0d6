// FrontendUsers' second factors (DESIGN §10), for the signed-in user. Each is
// a change of the user (one more event), so each takes the per-user write
// budget through AsMe.
#include <utility>

#include "server/api/frontend_users_service.h"
#include "server/api/proto_mapping.h"

namespace roster::api {
namespace {

void TotpToProto(const domain::TotpView& view, roster::v1::Totp& out) {
  out.set_secret(view.secret);
  out.set_uri(view.uri);
  out.set_qr_code_svg(view.qr_code_svg);
  out.set_verified(view.verified);
}

}  // namespace

grpc::ServerUnaryReactor* FrontendUsersService::CreateMyTotp(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateMyTotpRequest* /*request*/,
    roster::v1::Totp* response) {
  return AsMe(context, writes_, "writes", [this, response](const Me& me) {
    auto created = second_factors_->CreateTotp(me.caller, me.user_id);
    if (!created.ok()) {
      return created.status();
    }
    TotpToProto(*created, *response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* FrontendUsersService::VerifyMyTotp(
    grpc::CallbackServerContext* context,
    const roster::v1::VerifyMyTotpRequest* request,
    roster::v1::Totp* response) {
  return AsMe(
      context, writes_, "writes", [this, request, response](const Me& me) {
        auto verified =
            second_factors_->VerifyTotp(me.caller, me.user_id, request->code());
        if (!verified.ok()) {
          return verified.status();
        }
        TotpToProto(*verified, *response);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::DeleteMyTotp(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteMyTotpRequest* request,
    roster::v1::FrontendUser* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) {
                return RespondWithUser(response, [&] {
                  return second_factors_->DeleteTotp(me.caller, me.user_id,
                                                     request->code());
                });
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::CreateMyBackupCodes(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateMyBackupCodesRequest* /*request*/,
    roster::v1::BackupCodes* response) {
  return AsMe(context, writes_, "writes", [this, response](const Me& me) {
    auto codes = second_factors_->CreateBackupCodes(me.caller, me.user_id);
    if (!codes.ok()) {
      return codes.status();
    }
    for (auto& code : *codes) {
      response->add_codes(std::move(code));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* FrontendUsersService::UpdateMyPhoneNumber(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateMyPhoneNumberRequest* request,
    roster::v1::PhoneNumber* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) {
                std::optional<bool> reserved, is_default;
                if (request->has_reserved_for_second_factor()) {
                  reserved = request->reserved_for_second_factor();
                }
                if (request->has_default_second_factor()) {
                  is_default = request->default_second_factor();
                }
                return RespondWithIdentifier(
                    second_factors_->UpdatePhone(me.caller, me.user_id,
                                                 request->phone_number_id(),
                                                 reserved, is_default),
                    response);
              });
}

}  // namespace roster::api

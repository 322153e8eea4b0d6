#include "server/api/frontend_users_service.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/api/auth.h"
#include "server/api/call_context.h"
#include "server/api/proto_mapping.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"
#include "server/domain/sign_in.h"

namespace roster::api {
namespace {

using roster::v1::FrontendUser;

// Verification strategies are fixed per kind; an empty one means the default.
absl::Status CheckStrategy(const std::string& strategy, const char* expected) {
  if (strategy.empty() || strategy == expected) {
    return absl::OkStatus();
  }
  return domain::Error(absl::StatusCode::kInvalidArgument,
                       domain::reason::kInvalidArgumentFormat,
                       "strategy is not supported",
                       {{"strategy", absl::StrCat("must be ", expected)}});
}

}  // namespace

grpc::ServerUnaryReactor* FrontendUsersService::RefreshSessionToken(
    grpc::CallbackServerContext* context,
    const roster::v1::RefreshSessionTokenRequest* request,
    roster::v1::RefreshSessionTokenResponse* response) {
  return Anyone(context, writes_, "writes",
                [this, request, response]() -> absl::Status {
                  auto token = sessions_->RefreshToken(
                      request->session_id(), request->session_secret());
                  if (!token.ok()) {
                    return token.status();
                  }
                  response->set_session_token(*token);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* FrontendUsersService::GetJwks(
    grpc::CallbackServerContext* context,
    const roster::v1::GetJwksRequest* /*request*/, roster::v1::Jwks* response) {
  return Anyone(context, nullptr, "", [this, response]() {
    ToProto(sessions_->verifier(), *response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* FrontendUsersService::GetMe(
    grpc::CallbackServerContext* context,
    const roster::v1::GetMeRequest* /*request*/, FrontendUser* response) {
  // The session check's read is the answer, and it takes no read pool: the
  // store answers on its own thread, or inline (SQLite).
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<SignedIn> signed_in = VerifySessionToken(*context);
  if (!signed_in.ok()) {
    reactor->Finish(ToGrpcStatus(signed_in.status()));
    return reactor;
  }
  if (!waiting_reads_.TryAdd()) {
    reactor->Finish(Overloaded("reads"));
    return reactor;
  }
  sessions_->ActiveUserAsync(
      signed_in->claims,
      [this, reactor, response](absl::StatusOr<storage::UserRecord> user) {
        waiting_reads_.Remove();
        if (!user.ok()) {
          reactor->Finish(ToGrpcStatus(user.status()));
          return;
        }
        ToProto(users_->users.ViewOf(*std::move(user)), *response);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

absl::StatusOr<FrontendUsersService::Me> FrontendUsersService::AdmitChange(
    const grpc::CallbackServerContext& context) {
  absl::StatusOr<SignedIn> signed_in = VerifySessionToken(context);
  if (!signed_in.ok()) {
    return signed_in.status();
  }
  absl::Status allowed = sessions_->CheckActive(signed_in->claims);
  if (allowed.ok()) {
    allowed =
        writes_by_user_.Acquire(signed_in->claims.user_id, sessions_->Now());
  }
  if (!allowed.ok()) {
    return allowed;
  }
  return std::move(signed_in->me);
}

absl::StatusOr<FrontendUsersService::SignedIn>
FrontendUsersService::VerifySessionToken(
    const grpc::CallbackServerContext& context) const {
  auto token = BearerCredential(context.client_metadata(), "session token");
  if (!token.ok()) {
    return token.status();
  }
  absl::StatusOr<domain::TokenClaims> claims = sessions_->VerifyToken(*token);
  if (!claims.ok()) {
    return claims.status();
  }
  auto caller = CallerOf(context, domain::UserActor(claims->user_id), "");
  if (!caller.ok()) {
    return caller.status();
  }
  Me me{*std::move(caller), claims->user_id, claims->session_id};
  return SignedIn{*std::move(claims), std::move(me)};
}

grpc::ServerUnaryReactor* FrontendUsersService::UpdateMe(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateMeRequest* request, FrontendUser* response) {
  return AsMe(
      context, writes_, "writes", [this, request, response](const Me& me) {
        const domain::UpdateUserParams params = FromProto(*request, me.user_id);
        return RespondWithUser(response, [&] {
          return users_->users.UpdateUser(me.caller, params);
        });
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::UpdateMyMetadata(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateMyMetadataRequest* request,
    FrontendUser* response) {
  return AsMe(
      context, writes_, "writes", [this, request, response](const Me& me) {
        return RespondWithUser(
            response, [&]() -> absl::StatusOr<domain::UserView> {
              domain::Violations violations;
              domain::MetadataChange change;
              if (!request->has_unsafe_metadata()) {
                violations.Add("unsafe_metadata", "is required");
                return violations.ToStatus();
              }
              change.unsafe_metadata = StructToJson(
                  request->unsafe_metadata(), "unsafe_metadata", violations);
              if (!violations.empty()) {
                return violations.ToStatus();
              }
              return users_->users.ChangeMetadata(me.caller, me.user_id, change,
                                                  domain::MetadataMode::kMerge,
                                                  "");
            });
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::DeleteMe(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteMeRequest* /*request*/,
    roster::v1::DeletedObject* response) {
  return AsMe(context, writes_, "writes",
              [this, response](const Me& me) -> absl::Status {
                auto deleted =
                    users_->users.DeleteUser(me.caller, me.user_id, "",
                                             /*self_service=*/true);
                if (!deleted.ok()) {
                  return deleted.status();
                }
                ToProto(*deleted, *response);
                return absl::OkStatus();
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::ChangeMyPassword(
    grpc::CallbackServerContext* context,
    const roster::v1::ChangeMyPasswordRequest* request,
    FrontendUser* response) {
  // On the hash pool: check the current password, hash the new one, then store
  // it.
  return AsMe(context, hashes_, "password changes",
              [this, request, response](const Me& me) {
                absl::Status current =
                    domain::CheckCurrentPassword(*users_, me.caller, me.user_id,
                                                 request->current_password());
                if (!current.ok()) {
                  return current;
                }
                auto hashed = users_->passwords.HashPasswordForUser(
                    me.user_id, request->new_password(), false);
                if (!hashed.ok()) {
                  return hashed.status();
                }
                domain::UpdateUserParams params;
                params.user_id = me.user_id;
                params.password = request->new_password();
                params.password_hash = *hashed;
                params.sign_out_of_other_sessions =
                    request->sign_out_of_other_sessions();
                params.keep_session_id = me.session_id;
                return RespondWithUser(response, [&] {
                  return users_->users.UpdateUser(me.caller, params);
                });
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::RemoveMyPassword(
    grpc::CallbackServerContext* context,
    const roster::v1::RemoveMyPasswordRequest* request,
    FrontendUser* response) {
  return AsMe(context, hashes_, "password changes",
              [this, request, response](const Me& me) {
                absl::Status current =
                    domain::CheckCurrentPassword(*users_, me.caller, me.user_id,
                                                 request->current_password());
                if (!current.ok()) {
                  return current;
                }
                return RespondWithUser(response, [&] {
                  return users_->users.RemovePassword(me.caller, me.user_id);
                });
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::CreateMyEmailAddress(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateMyEmailAddressRequest* request,
    roster::v1::EmailAddress* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) {
                return CreateMine(me, domain::IdentifierType::kEmailAddress,
                                  request->email_address(), response);
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::DeleteMyEmailAddress(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteMyEmailAddressRequest* request,
    roster::v1::DeletedObject* response) {
  return AsMe(
      context, writes_, "writes", [this, request, response](const Me& me) {
        return DeleteMine(me, domain::IdentifierType::kEmailAddress,
                          request->email_address_id(),
                          request->promote_email_address_id(), response);
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::PrepareEmailAddressVerification(
    grpc::CallbackServerContext* context,
    const roster::v1::PrepareEmailAddressVerificationRequest* request,
    roster::v1::EmailAddress* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) -> absl::Status {
                absl::Status strategy =
                    CheckStrategy(request->strategy(), "email_code");
                if (!strategy.ok()) {
                  return strategy;
                }
                return RespondWithIdentifier(
                    users_->identifiers.PrepareVerification(
                        me.caller, domain::IdentifierType::kEmailAddress,
                        me.user_id, request->email_address_id()),
                    response);
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::AttemptEmailAddressVerification(
    grpc::CallbackServerContext* context,
    const roster::v1::AttemptEmailAddressVerificationRequest* request,
    roster::v1::EmailAddress* response) {
  return AsMe(
      context, writes_, "writes", [this, request, response](const Me& me) {
        return RespondWithIdentifier(
            users_->identifiers.AttemptVerification(
                me.caller, domain::IdentifierType::kEmailAddress, me.user_id,
                request->email_address_id(), request->code()),
            response);
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::CreateMyPhoneNumber(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateMyPhoneNumberRequest* request,
    roster::v1::PhoneNumber* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) {
                return CreateMine(me, domain::IdentifierType::kPhoneNumber,
                                  request->phone_number(), response);
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::DeleteMyPhoneNumber(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteMyPhoneNumberRequest* request,
    roster::v1::DeletedObject* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) {
                return DeleteMine(me, domain::IdentifierType::kPhoneNumber,
                                  request->phone_number_id(),
                                  request->promote_phone_number_id(), response);
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::PreparePhoneNumberVerification(
    grpc::CallbackServerContext* context,
    const roster::v1::PreparePhoneNumberVerificationRequest* request,
    roster::v1::PhoneNumber* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) -> absl::Status {
                absl::Status strategy =
                    CheckStrategy(request->strategy(), "phone_code");
                if (!strategy.ok()) {
                  return strategy;
                }
                return RespondWithIdentifier(
                    users_->identifiers.PrepareVerification(
                        me.caller, domain::IdentifierType::kPhoneNumber,
                        me.user_id, request->phone_number_id()),
                    response);
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::AttemptPhoneNumberVerification(
    grpc::CallbackServerContext* context,
    const roster::v1::AttemptPhoneNumberVerificationRequest* request,
    roster::v1::PhoneNumber* response) {
  return AsMe(
      context, writes_, "writes", [this, request, response](const Me& me) {
        return RespondWithIdentifier(
            users_->identifiers.AttemptVerification(
                me.caller, domain::IdentifierType::kPhoneNumber, me.user_id,
                request->phone_number_id(), request->code()),
            response);
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::DeleteMyExternalAccount(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteMyExternalAccountRequest* request,
    roster::v1::DeletedObject* response) {
  return AsMe(
      context, writes_, "writes",
      [this, request, response](const Me& me) -> absl::Status {
        return RespondWithDeleted(
            users_->external_accounts
                .DeleteExternalAccount(
                    me.caller, request->external_account_id(), me.user_id)
                .status(),
            request->external_account_id(), response);
      });
}

absl::flat_hash_map<std::string, UploadAdmission>
FrontendUsersService::Uploads() {
  return {
      {"SetMyProfileImage", [this](const grpc::CallbackServerContext& context) {
         return AdmitProfileImage(context);
       }}};
}

absl::StatusOr<AdmittedUpload> FrontendUsersService::AdmitProfileImage(
    const grpc::CallbackServerContext& context) {
  absl::StatusOr<Me> me = AdmitChange(context);
  if (!me.ok()) {
    return me.status();
  }
  return AdmittedUpload{
      writes_, "writes",
      [this, me = *std::move(me)](const grpc::ByteBuffer& request,
                                  grpc::ByteBuffer& response) {
        return ServeRaw<roster::v1::SetMyProfileImageRequest, FrontendUser>(
            request, response, [&](const auto& upload, FrontendUser& user) {
              return RespondWithUser(&user, [&] {
                return users_->images.SetProfileImage(me.caller, me.user_id,
                                                      upload.image(), "");
              });
            });
      }};
}

grpc::ServerUnaryReactor* FrontendUsersService::DeleteMyProfileImage(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteMyProfileImageRequest* /*request*/,
    roster::v1::FrontendUser* response) {
  return AsMe(context, writes_, "writes", [this, response](const Me& me) {
    return RespondWithUser(response, [&] {
      return users_->images.DeleteProfileImage(me.caller, me.user_id, "");
    });
  });
}

template <typename Message>
absl::Status FrontendUsersService::CreateMine(const Me& me,
                                              domain::IdentifierType type,
                                              const std::string& value,
                                              Message* response) {
  domain::CreateIdentifierParams params;
  params.user_id = me.user_id;
  params.value = value;  // Unverified, not primary: the user proves it first.
  return RespondWithIdentifier(
      users_->identifiers.CreateIdentifier(me.caller, type, params), response);
}

absl::Status FrontendUsersService::DeleteMine(
    const Me& me, domain::IdentifierType type, const std::string& id,
    const std::string& promote_id, roster::v1::DeletedObject* response) {
  return RespondWithDeleted(
      users_->identifiers
          .DeleteIdentifier(me.caller, type, id, promote_id,
                            /*owner_user_id=*/me.user_id)
          .status(),
      id, response);
}

grpc::ServerUnaryReactor* FrontendUsersService::ListMySessions(
    grpc::CallbackServerContext* context,
    const roster::v1::ListMySessionsRequest* request,
    roster::v1::ListMySessionsResponse* response) {
  return AsMe(context, nullptr, "",
              [this, request, response](const Me& me) -> absl::Status {
                auto page = sessions_->ListSessions(
                    me.user_id, request->limit(), request->offset(),
                    request->page_token());
                if (!page.ok()) {
                  return page.status();
                }
                ToProto(*page, sessions_->Now(), *response);
                return absl::OkStatus();
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::RevokeMySession(
    grpc::CallbackServerContext* context,
    const roster::v1::RevokeMySessionRequest* request,
    roster::v1::Session* response) {
  return AsMe(context, writes_, "writes",
              [this, request, response](const Me& me) -> absl::Status {
                auto revoked = sessions_->RevokeSession(
                    me.caller, request->session_id(), me.user_id);
                if (!revoked.ok()) {
                  return revoked.status();
                }
                ToProto(*revoked, sessions_->Now(), *response);
                return absl::OkStatus();
              });
}

grpc::ServerUnaryReactor* FrontendUsersService::SignOut(
    grpc::CallbackServerContext* context,
    const roster::v1::SignOutRequest* /*request*/,
    roster::v1::Session* response) {
  return AsMe(context, writes_, "writes",
              [this, response](const Me& me) -> absl::Status {
                auto revoked = sessions_->RevokeSession(
                    me.caller, me.session_id, me.user_id);
                if (!revoked.ok()) {
                  return revoked.status();
                }
                ToProto(*revoked, sessions_->Now(), *response);
                return absl::OkStatus();
              });
}

}  // namespace roster::api

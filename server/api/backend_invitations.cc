// BackendUsers' invitation calls (DESIGN §10).
#include <utility>

#include "server/api/backend_users_service.h"
#include "server/api/proto_mapping.h"
#include "server/api/struct_json.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

using roster::v1::Invitation;

Invitation::Status StatusOf(domain::InvitationState state) {
  switch (state) {
    case domain::InvitationState::kPending:
      return Invitation::STATUS_PENDING;
    case domain::InvitationState::kAccepted:
      return Invitation::STATUS_ACCEPTED;
    case domain::InvitationState::kRevoked:
      return Invitation::STATUS_REVOKED;
    case domain::InvitationState::kExpired:
      return Invitation::STATUS_EXPIRED;
  }
  return Invitation::STATUS_UNSPECIFIED;
}

void InvitationToProto(const storage::InvitationRecord& r, absl::Time now,
                       Invitation& out) {
  out.set_id(r.id);
  out.set_email_address(r.email_address);
  out.set_status(StatusOf(domain::StateOf(r, now)));
  JsonToStruct(r.public_metadata, *out.mutable_public_metadata());
  ToProto(domain::FromMicros(r.created_at), *out.mutable_created_at());
  ToProto(domain::FromMicros(r.expire_at), *out.mutable_expire_at());
  out.set_accepted_user_id(r.accepted_user_id);
}

}  // namespace

grpc::ServerUnaryReactor* BackendUsersService::CreateInvitation(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateInvitationRequest* request, Invitation* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        domain::CreateInvitationParams params;
        params.email_address = request->email_address();
        params.redirect_url = request->redirect_url();
        if (request->has_expires_in_days()) {
          params.expires_in_days = request->expires_in_days();
        }
        params.notify = !request->has_notify() || request->notify();
        if (request->has_public_metadata()) {
          domain::Violations violations;
          params.public_metadata = StructToJson(request->public_metadata(),
                                                "public_metadata", violations);
          if (!violations.empty()) {
            return violations.ToStatus();
          }
        }
        auto created = invitations_->Create(caller, params);
        if (!created.ok()) {
          return created.status();
        }
        InvitationToProto(created->record, sessions_->Now(), *response);
        response->set_ticket(created->ticket);
        response->set_url(created->url);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* BackendUsersService::ListInvitations(
    grpc::CallbackServerContext* context,
    const roster::v1::ListInvitationsRequest* request,
    roster::v1::ListInvitationsResponse* response) {
  return Read(context, [this, request, response]() -> absl::Status {
    domain::ListInvitationsParams params;
    switch (request->status()) {
      case Invitation::STATUS_PENDING:
        params.state = domain::InvitationState::kPending;
        break;
      case Invitation::STATUS_ACCEPTED:
        params.state = domain::InvitationState::kAccepted;
        break;
      case Invitation::STATUS_REVOKED:
        params.state = domain::InvitationState::kRevoked;
        break;
      case Invitation::STATUS_EXPIRED:
        params.state = domain::InvitationState::kExpired;
        break;
      case Invitation::STATUS_UNSPECIFIED:
        break;
      default:
        return domain::Error(absl::StatusCode::kInvalidArgument,
                             domain::reason::kInvalidArgumentFormat,
                             "status is not a known status",
                             {{"status", "is not a known status"}});
    }
    params.query = request->query();
    params.limit = request->limit();
    params.offset = request->offset();
    params.page_token = request->page_token();
    auto page = invitations_->List(params);
    if (!page.ok()) {
      return page.status();
    }
    const absl::Time now = sessions_->Now();
    for (const auto& invitation : page->invitations) {
      InvitationToProto(invitation, now, *response->add_invitations());
    }
    response->set_total_count(page->total_count);
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BackendUsersService::RevokeInvitation(
    grpc::CallbackServerContext* context,
    const roster::v1::RevokeInvitationRequest* request, Invitation* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller&) -> absl::Status {
        auto revoked = invitations_->Revoke(request->invitation_id());
        if (!revoked.ok()) {
          return revoked.status();
        }
        InvitationToProto(*revoked, sessions_->Now(), *response);
        return absl::OkStatus();
      });
}

}  // namespace roster::api

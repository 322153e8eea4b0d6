#include "server/api/backend_users_service.h"

#include <utility>

#include "server/api/proto_mapping.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

using roster::v1::User;

// Runs `call` (returning StatusOr<UserView>) and writes the user into
// `response`.
template <typename Call>
absl::Status RespondWithUser(User* response, Call call) {
  absl::StatusOr<domain::UserView> view = call();
  if (!view.ok()) {
    return view.status();
  }
  ToProto(*view, *response);
  return absl::OkStatus();
}

}  // namespace

template <typename Handler>
grpc::ServerUnaryReactor* BackendUsersService::Read(
    grpc::CallbackServerContext* context, Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status =
      authenticator_->Authenticate(context->client_metadata());
  if (status.ok()) {
    status = handler();
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

template <typename Handler>
grpc::ServerUnaryReactor* BackendUsersService::Write(
    grpc::CallbackServerContext* context, Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status =
      authenticator_->Authenticate(context->client_metadata());
  if (!status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  // The request, response and reactor stay valid until Finish, which the task
  // calls.
  const bool queued =
      writes_->Submit([reactor, handler = std::move(handler)]() mutable {
        reactor->Finish(ToGrpcStatus(handler()));
      });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(
        domain::Error(absl::StatusCode::kResourceExhausted, "OVERLOADED",
                      "too many writes are queued; retry later")));
  }
  return reactor;
}

grpc::ServerUnaryReactor* BackendUsersService::CreateUser(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateUserRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(response, [&]() -> absl::StatusOr<domain::UserView> {
      auto params = FromProto(*request);
      if (!params.ok()) {
        return params.status();
      }
      return users_->CreateUser(*params);
    });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::GetUser(
    grpc::CallbackServerContext* context,
    const roster::v1::GetUserRequest* request, User* response) {
  return Read(context, [this, request, response] {
    return RespondWithUser(response,
                           [&] { return users_->GetUser(request->user_id()); });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::ListUsers(
    grpc::CallbackServerContext* context,
    const roster::v1::ListUsersRequest* request,
    roster::v1::ListUsersResponse* response) {
  return Read(context, [this, request, response]() -> absl::Status {
    auto params = FromProto(*request);
    if (!params.ok()) {
      return params.status();
    }
    auto page = users_->ListUsers(*params);
    if (!page.ok()) {
      return page.status();
    }
    for (const auto& view : page->users) {
      ToProto(view, *response->add_users());
    }
    response->set_total_count(page->total_count);
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BackendUsersService::CountUsers(
    grpc::CallbackServerContext* context,
    const roster::v1::CountUsersRequest* request,
    roster::v1::CountUsersResponse* response) {
  return Read(context, [this, request, response]() -> absl::Status {
    auto filter = FromProto(*request);
    if (!filter.ok()) {
      return filter.status();
    }
    auto count = users_->CountUsers(*filter);
    if (!count.ok()) {
      return count.status();
    }
    response->set_total_count(*count);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BackendUsersService::UpdateUser(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateUserRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(
        response, [&] { return users_->UpdateUser(FromProto(*request)); });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::UpdateUserMetadata(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateUserMetadataRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(response, [&]() -> absl::StatusOr<domain::UserView> {
      auto change = MetadataChangeFromProto(*request);
      if (!change.ok()) {
        return change.status();
      }
      return users_->ChangeMetadata(request->user_id(), *change,
                                    domain::MetadataMode::kMerge,
                                    request->etag());
    });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::ReplaceUserMetadata(
    grpc::CallbackServerContext* context,
    const roster::v1::ReplaceUserMetadataRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(response, [&]() -> absl::StatusOr<domain::UserView> {
      auto change = MetadataChangeFromProto(*request);
      if (!change.ok()) {
        return change.status();
      }
      return users_->ChangeMetadata(request->user_id(), *change,
                                    domain::MetadataMode::kReplace,
                                    request->etag());
    });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteUser(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteUserRequest* request,
    roster::v1::DeletedObject* response) {
  return Write(context, [this, request, response]() -> absl::Status {
    auto deleted = users_->DeleteUser(request->user_id(), request->etag());
    if (!deleted.ok()) {
      return deleted.status();
    }
    ToProto(*deleted, *response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BackendUsersService::BanUser(
    grpc::CallbackServerContext* context,
    const roster::v1::BanUserRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(response, [&] {
      return users_->SetBanned(request->user_id(), /*banned=*/true,
                               request->etag());
    });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::UnbanUser(
    grpc::CallbackServerContext* context,
    const roster::v1::UnbanUserRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(response, [&] {
      return users_->SetBanned(request->user_id(), /*banned=*/false,
                               request->etag());
    });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::LockUser(
    grpc::CallbackServerContext* context,
    const roster::v1::LockUserRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(response, [&] {
      return users_->LockUser(request->user_id(), request->etag());
    });
  });
}

grpc::ServerUnaryReactor* BackendUsersService::UnlockUser(
    grpc::CallbackServerContext* context,
    const roster::v1::UnlockUserRequest* request, User* response) {
  return Write(context, [this, request, response] {
    return RespondWithUser(response, [&] {
      return users_->UnlockUser(request->user_id(), request->etag());
    });
  });
}

}  // namespace roster::api

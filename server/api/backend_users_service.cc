#include "server/api/backend_users_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "server/api/call_context.h"
#include "server/api/event_stream.h"
#include "server/api/proto_mapping.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"
#include "server/domain/import_users.h"
#include "server/domain/passwords.h"
#include "server/domain/sign_in.h"
#include "server/domain/validation.h"

namespace roster::api {
namespace {

using roster::v1::User;

}  // namespace

template <typename Hash, typename Handler>
grpc::ServerUnaryReactor* BackendUsersService::HashThenWrite(
    grpc::CallbackServerContext* context, const std::string& request_id,
    Hash hash, Handler handler) {
  // Both on a hash-pool thread: the write waits for the store's writer there,
  // as every password path does, never on a gRPC thread.
  return RunOn(hashes_, "password hashes", context, request_id,
               [hash = std::move(hash), handler = std::move(handler)](
                   const domain::Caller& caller) mutable -> absl::Status {
                 absl::StatusOr<std::string> hashed = hash();
                 if (!hashed.ok()) {
                   return hashed.status();
                 }
                 return handler(caller, *hashed);
               });
}

grpc::ServerUnaryReactor* BackendUsersService::CreateUser(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateUserRequest* request, User* response) {
  auto create = [this, request, response](const domain::Caller& caller,
                                          const std::string& password_hash) {
    return RespondWithUser(response, [&]() -> absl::StatusOr<domain::UserView> {
      auto params = FromProto(*request);
      if (!params.ok()) {
        return params.status();
      }
      params->password_hash = password_hash;
      return users_->users.CreateUser(caller, *params);
    });
  };
  if (!request->has_password()) {
    return Write(
        context, request->request_id(),
        [create](const domain::Caller& caller) { return create(caller, ""); });
  }
  return HashThenWrite(
      context, request->request_id(),
      [this, request]() -> absl::StatusOr<std::string> {
        auto params = FromProto(*request);
        if (!params.ok()) {
          return params.status();
        }
        return users_->passwords.HashPasswordForNewUser(*params);
      },
      create);
}

bool BackendUsersService::Authenticated(
    const grpc::CallbackServerContext& context,
    grpc::ServerUnaryReactor* reactor) const {
  absl::Status status =
      authenticator_->Authenticate(context.client_metadata()).status();
  if (!status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
  }
  return status.ok();
}

grpc::ServerUnaryReactor* BackendUsersService::GetUser(
    grpc::CallbackServerContext* context,
    const roster::v1::GetUserRequest* request, User* response) {
  // No read pool: the store answers on its own thread, or inline (SQLite).
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authenticated(*context, reactor)) {
    return reactor;
  }
  if (!waiting_reads_.TryAdd()) {
    reactor->Finish(Overloaded("reads"));
    return reactor;
  }
  users_->users.GetUserAsync(
      request->user_id(),
      [this, reactor, response](absl::StatusOr<domain::UserView> view) {
        waiting_reads_.Remove();
        if (view.ok()) {
          ToProto(*view, *response);
        }
        reactor->Finish(ToGrpcStatus(view.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* BackendUsersService::ListUsers(
    grpc::CallbackServerContext* context,
    const roster::v1::ListUsersRequest* request,
    roster::v1::ListUsersResponse* response) {
  // As GetUser: no read pool; on PostgreSQL, concurrent pages share a round
  // trip (PgReadPipeline).
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authenticated(*context, reactor)) {
    return reactor;
  }
  auto params = FromProto(*request);
  if (!params.ok()) {
    reactor->Finish(ToGrpcStatus(params.status()));
    return reactor;
  }
  if (!waiting_reads_.TryAdd()) {
    reactor->Finish(Overloaded("reads"));
    return reactor;
  }
  users_->users.ListUsersAsync(
      *params,
      [this, reactor, response](absl::StatusOr<domain::UserListPage> page) {
        waiting_reads_.Remove();
        if (page.ok()) {
          for (const auto& view : page->users) {
            ToProto(view, *response->add_users());
          }
          response->set_total_count(page->total_count);
          response->set_next_page_token(page->next_page_token);
        }
        reactor->Finish(ToGrpcStatus(page.status()));
      });
  return reactor;
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
    auto count = users_->users.CountUsers(*filter);
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
  auto update = [this, request, response](const domain::Caller& caller,
                                          const std::string& password_hash) {
    return RespondWithUser(response, [&]() -> absl::StatusOr<domain::UserView> {
      auto params = FromProto(*request);
      if (!params.ok()) {
        return params.status();
      }
      params->password_hash = password_hash;
      return users_->users.UpdateUser(caller, *params);
    });
  };
  if (!request->has_password()) {
    return Write(context, "", [update](const domain::Caller& caller) {
      return update(caller, "");
    });
  }
  return HashThenWrite(
      context, "",
      [this, request]() -> absl::StatusOr<std::string> {
        if (auto params = FromProto(*request); !params.ok()) {
          return params.status();
        }
        return users_->passwords.HashPasswordForUser(
            request->user_id(), request->password(),
            request->skip_password_checks());
      },
      update);
}

template <typename Request>
grpc::ServerUnaryReactor* BackendUsersService::ChangeMetadata(
    grpc::CallbackServerContext* context, const Request* request,
    User* response, domain::MetadataMode mode) {
  return Write(context, "",
               [this, request, response, mode](const domain::Caller& caller) {
                 return RespondWithUser(
                     response, [&]() -> absl::StatusOr<domain::UserView> {
                       auto change = MetadataChangeFromProto(*request);
                       if (!change.ok()) {
                         return change.status();
                       }
                       return users_->users.ChangeMetadata(
                           caller, request->user_id(), *change, mode,
                           request->etag());
                     });
               });
}

grpc::ServerUnaryReactor* BackendUsersService::UpdateUserMetadata(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateUserMetadataRequest* request, User* response) {
  return ChangeMetadata(context, request, response,
                        domain::MetadataMode::kMerge);
}

grpc::ServerUnaryReactor* BackendUsersService::ReplaceUserMetadata(
    grpc::CallbackServerContext* context,
    const roster::v1::ReplaceUserMetadataRequest* request, User* response) {
  return ChangeMetadata(context, request, response,
                        domain::MetadataMode::kReplace);
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteUser(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteUserRequest* request,
    roster::v1::DeletedObject* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        auto deleted = users_->users.DeleteUser(caller, request->user_id(),
                                                request->etag());
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
  return Write(
      context, "", [this, request, response](const domain::Caller& caller) {
        return RespondWithUser(response, [&] {
          return users_->users.SetBanned(caller, request->user_id(),
                                         /*banned=*/true, request->etag());
        });
      });
}

grpc::ServerUnaryReactor* BackendUsersService::UnbanUser(
    grpc::CallbackServerContext* context,
    const roster::v1::UnbanUserRequest* request, User* response) {
  return Write(
      context, "", [this, request, response](const domain::Caller& caller) {
        return RespondWithUser(response, [&] {
          return users_->users.SetBanned(caller, request->user_id(),
                                         /*banned=*/false, request->etag());
        });
      });
}

grpc::ServerUnaryReactor* BackendUsersService::LockUser(
    grpc::CallbackServerContext* context,
    const roster::v1::LockUserRequest* request, User* response) {
  return Write(context, "",
               [this, request, response](const domain::Caller& caller) {
                 return RespondWithUser(response, [&] {
                   return users_->users.LockUser(caller, request->user_id(),
                                                 request->etag());
                 });
               });
}

grpc::ServerUnaryReactor* BackendUsersService::UnlockUser(
    grpc::CallbackServerContext* context,
    const roster::v1::UnlockUserRequest* request, User* response) {
  return Write(context, "",
               [this, request, response](const domain::Caller& caller) {
                 return RespondWithUser(response, [&] {
                   return users_->users.UnlockUser(caller, request->user_id(),
                                                   request->etag());
                 });
               });
}

grpc::ServerUnaryReactor* BackendUsersService::DeleteProfileImage(
    grpc::CallbackServerContext* context,
    const roster::v1::DeleteProfileImageRequest* request, User* response) {
  return Write(context, "",
               [this, request, response](const domain::Caller& caller) {
                 return RespondWithUser(response, [&] {
                   return users_->images.DeleteProfileImage(
                       caller, request->user_id(), request->etag());
                 });
               });
}

absl::flat_hash_map<std::string, UploadAdmission>
BackendUsersService::Uploads() {
  return {{"SetProfileImage",
           [this](const grpc::CallbackServerContext& context) {
             return AdmitProfileImage(context);
           }},
          {"ImportUsers", [this](const grpc::CallbackServerContext& context) {
             return AdmitImport(context);
           }}};
}

absl::StatusOr<AdmittedUpload> BackendUsersService::AdmitProfileImage(
    const grpc::CallbackServerContext& context) {
  absl::StatusOr<domain::Caller> caller = AuthenticatedCaller(context, "");
  if (!caller.ok()) {
    return caller.status();
  }
  return AdmittedUpload{
      writes_, "writes",
      [this, caller = *std::move(caller)](const grpc::ByteBuffer& request,
                                          grpc::ByteBuffer& response) {
        return ServeRaw<roster::v1::SetProfileImageRequest, User>(
            request, response, [&](const auto& upload, User& user) {
              return RespondWithUser(&user, [&] {
                return users_->images.SetProfileImage(
                    caller, upload.user_id(), upload.image(), upload.etag());
              });
            });
      }};
}

absl::StatusOr<AdmittedUpload> BackendUsersService::AdmitImport(
    const grpc::CallbackServerContext& context) {
  absl::StatusOr<domain::Caller> caller = AuthenticatedCaller(context, "");
  if (!caller.ok()) {
    return caller.status();
  }
  // On the hash pool: plaintext passwords need argon2id; each item's write
  // waits for the store's writer there.
  return AdmittedUpload{
      hashes_, "imports",
      [this, caller = *std::move(caller)](const grpc::ByteBuffer& request,
                                          grpc::ByteBuffer& response) {
        return ServeRaw<roster::v1::ImportUsersRequest,
                        roster::v1::ImportUsersResponse>(
            request, response, [&](const auto& batch, auto& results) {
              return Import(caller, batch, results);
            });
      }};
}

absl::StatusOr<domain::Caller> BackendUsersService::AuthenticatedCaller(
    const grpc::CallbackServerContext& context,
    const std::string& request_id) const {
  auto actor = authenticator_->Authenticate(context.client_metadata());
  if (!actor.ok()) {
    return actor.status();
  }
  return CallerOf(context, *std::move(actor), request_id);
}

absl::Status BackendUsersService::Import(
    const domain::Caller& caller, const roster::v1::ImportUsersRequest& request,
    roster::v1::ImportUsersResponse& response) {
  if (request.users_size() == 0 ||
      request.users_size() > static_cast<int>(domain::kMaxImportBatch)) {
    // An empty batch gets the domain's own "1-1000 users" violation.
    return domain::ImportUsers(*users_, caller, {}, false, "").status();
  }
  // Items whose fields do not even convert fail alone.
  std::vector<absl::Status> conversion(
      static_cast<size_t>(request.users_size()));
  std::vector<domain::CreateUserParams> items;
  std::vector<int> index_of;
  for (int i = 0; i < request.users_size(); ++i) {
    auto params = FromProto(request.users(i));
    if (params.ok()) {
      items.push_back(*std::move(params));
      index_of.push_back(i);
    } else {
      conversion[static_cast<size_t>(i)] = params.status();
    }
  }
  std::vector<absl::StatusOr<domain::UserView>> results(
      static_cast<size_t>(request.users_size()), absl::UnknownError(""));
  if (!items.empty()) {
    auto imported =
        domain::ImportUsers(*users_, caller, std::move(items),
                            request.validate_only(), request.request_id());
    if (!imported.ok()) {
      return imported.status();
    }
    for (size_t k = 0; k < imported->size(); ++k) {
      results[static_cast<size_t>(index_of[k])] = std::move((*imported)[k]);
    }
  }
  for (size_t i = 0; i < results.size(); ++i) {
    auto* out = response.add_results();
    const absl::Status status =
        conversion[i].ok() ? results[i].status() : conversion[i];
    if (status.ok()) {
      ToProto(*results[i], *out->mutable_user());
      continue;
    }
    *out->mutable_status() = ToRpcStatus(status);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* BackendUsersService::VerifyPassword(
    grpc::CallbackServerContext* context,
    const roster::v1::VerifyPasswordRequest* request,
    roster::v1::VerifyPasswordResponse* response) {
  // All on a hash-pool thread, once the caller is authenticated: reserve an
  // attempt, check it, record the verdict. The two small writes wait for the
  // store's writer there, never on a gRPC or the write thread; a full pool
  // refuses before reserving anything.
  return RunOn(
      hashes_, "password checks", context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        if (request->password().size() > domain::kMaxPasswordBytes) {
          return domain::CheckNewPassword(request->password(),
                                          /*skip_checks=*/true, {});
        }
        auto verified = domain::CheckPasswordAttempt(
            *users_, caller, request->user_id(), request->password(),
            /*sign_in=*/false);
        if (!verified.ok()) {
          return verified.status();
        }
        response->set_verified(*verified);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* BackendUsersService::CreateSession(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateSessionRequest* request,
    roster::v1::CreateSessionResponse* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        auto created = sessions_->CreateSession(caller, request->user_id());
        if (!created.ok()) {
          return created.status();
        }
        ToProto(created->session, sessions_->Now(),
                *response->mutable_session());
        response->set_session_secret(created->secret);
        response->set_session_token(created->token);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* BackendUsersService::ListSessions(
    grpc::CallbackServerContext* context,
    const roster::v1::ListSessionsRequest* request,
    roster::v1::ListSessionsResponse* response) {
  return Read(context, [this, request, response]() -> absl::Status {
    auto page =
        sessions_->ListSessions(request->user_id(), request->limit(),
                                request->offset(), request->page_token());
    if (!page.ok()) {
      return page.status();
    }
    ToProto(*page, sessions_->Now(), *response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BackendUsersService::RevokeSession(
    grpc::CallbackServerContext* context,
    const roster::v1::RevokeSessionRequest* request,
    roster::v1::Session* response) {
  return Write(
      context, "",
      [this, request, response](const domain::Caller& caller) -> absl::Status {
        auto revoked =
            sessions_->RevokeSession(caller, request->session_id(), "");
        if (!revoked.ok()) {
          return revoked.status();
        }
        ToProto(*revoked, sessions_->Now(), *response);
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<roster::v1::Event>* BackendUsersService::WatchEvents(
    grpc::CallbackServerContext* context,
    const roster::v1::WatchEventsRequest* request) {
  absl::Status authenticated =
      authenticator_->Authenticate(context->client_metadata()).status();
  if (!authenticated.ok()) {
    return WatchEventsStream::Fail(ToGrpcStatus(authenticated));
  }
  std::vector<std::string> types(request->types().begin(),
                                 request->types().end());
  auto position = events_->StartWatch(request->after_sequence(), types);
  if (!position.ok()) {
    return WatchEventsStream::Fail(ToGrpcStatus(position.status()));
  }
  if (!hub_->AdmitStream()) {
    return WatchEventsStream::Fail(ToGrpcStatus(domain::Error(
        absl::StatusCode::kResourceExhausted, domain::reason::kOverloaded,
        "too many WatchEvents streams are open on this replica; retry later "
        "or use ListEvents")));
  }
  return WatchEventsStream::Start(events_, hub_, *position, std::move(types));
}

grpc::ServerUnaryReactor* BackendUsersService::ListEvents(
    grpc::CallbackServerContext* context,
    const roster::v1::ListEventsRequest* request,
    roster::v1::ListEventsResponse* response) {
  return Read(context, [this, request, response]() -> absl::Status {
    domain::EventListParams params;
    params.after_sequence = request->after_sequence();
    params.types.assign(request->types().begin(), request->types().end());
    params.user_id = request->user_id();
    params.limit = request->limit();
    params.offset = request->offset();
    params.page_token = request->page_token();
    auto page = events_->ListEvents(params);
    if (!page.ok()) {
      return page.status();
    }
    for (const auto& event : page->events) {
      ToProto(event, *response->add_events());
    }
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

}  // namespace roster::api

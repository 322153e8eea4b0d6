// BackendUsersService: the roster.v1.BackendUsers gRPC service on the callback
// API. Each method authenticates the secret key, maps the request to domain
// values, calls UserService and maps the result back; statuses are converted
// once, by ToGrpcStatus.
//
// Reads run inline on gRPC's callback thread (microseconds against a pooled
// reader); writes go to the BoundedExecutor so that no fsync ever blocks a
// callback thread.
//
// Thread-safe.
#ifndef ROSTER_SERVER_API_BACKEND_USERS_SERVICE_H_
#define ROSTER_SERVER_API_BACKEND_USERS_SERVICE_H_

#include "absl/container/flat_hash_map.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "server/api/arena_message_allocator.h"
#include "server/api/auth.h"
#include "server/api/bounded_executor.h"
#include "server/api/call_context.h"
#include "server/api/event_hub.h"
#include "server/api/request_size_gate.h"
#include "server/api/status_mapping.h"
#include "server/domain/event_service.h"
#include "server/domain/invitations.h"
#include "server/domain/second_factors.h"
#include "server/domain/session_service.h"
#include "server/domain/user_service.h"
#include "server/oauth/oauth_flow.h"

namespace roster::api {

class BackendUsersService final
    : public roster::v1::BackendUsers::CallbackService {
 public:
  // The handler of method `index` in the service descriptor's order, for a
  // RequestSizeGate to serve: this service is registered through one.
  grpc::internal::MethodHandler* handler(int index) {
    return GetHandler(index);
  }
  // The upload methods, by name, for the RequestSizeGate to serve: the key is
  // checked before any of the request is read (SetProfileImage,
  // ImportUsers).
  absl::flat_hash_map<std::string, UploadAdmission> Uploads();

  // None is owned; all must outlive the service.
  BackendUsersService(domain::UserServices* users,
                      domain::SessionService* sessions,
                      domain::EventService* events, EventHub* hub,
                      const SecretKeyAuthenticator* authenticator,
                      BoundedExecutor* writes, BoundedExecutor* hashes,
                      domain::InvitationService* invitations,
                      domain::SecondFactorService* second_factors)
      : users_(users),
        sessions_(sessions),
        events_(events),
        hub_(hub),
        authenticator_(authenticator),
        writes_(writes),
        hashes_(hashes),
        invitations_(invitations),
        second_factors_(second_factors) {
    // The hot reads build their responses on an arena.
    SetMessageAllocatorFor_GetUser(&get_user_messages_);
    SetMessageAllocatorFor_ListUsers(&list_users_messages_);
  }

  grpc::ServerUnaryReactor* CreateUser(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateUserRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const roster::v1::GetUserRequest* request,
                                    roster::v1::User* response) override;
  grpc::ServerUnaryReactor* ListUsers(
      grpc::CallbackServerContext* context,
      const roster::v1::ListUsersRequest* request,
      roster::v1::ListUsersResponse* response) override;
  grpc::ServerUnaryReactor* CountUsers(
      grpc::CallbackServerContext* context,
      const roster::v1::CountUsersRequest* request,
      roster::v1::CountUsersResponse* response) override;
  grpc::ServerUnaryReactor* UpdateUser(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdateUserRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* UpdateUserMetadata(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdateUserMetadataRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* ReplaceUserMetadata(
      grpc::CallbackServerContext* context,
      const roster::v1::ReplaceUserMetadataRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* DeleteUser(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteUserRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* DeleteProfileImage(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteProfileImageRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* BanUser(grpc::CallbackServerContext* context,
                                    const roster::v1::BanUserRequest* request,
                                    roster::v1::User* response) override;
  grpc::ServerUnaryReactor* UnbanUser(
      grpc::CallbackServerContext* context,
      const roster::v1::UnbanUserRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* LockUser(grpc::CallbackServerContext* context,
                                     const roster::v1::LockUserRequest* request,
                                     roster::v1::User* response) override;
  grpc::ServerUnaryReactor* CreateEmailAddress(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateEmailAddressRequest* request,
      roster::v1::EmailAddress* response) override;
  grpc::ServerUnaryReactor* GetEmailAddress(
      grpc::CallbackServerContext* context,
      const roster::v1::GetEmailAddressRequest* request,
      roster::v1::EmailAddress* response) override;
  grpc::ServerUnaryReactor* UpdateEmailAddress(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdateEmailAddressRequest* request,
      roster::v1::EmailAddress* response) override;
  grpc::ServerUnaryReactor* DeleteEmailAddress(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteEmailAddressRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* CreatePhoneNumber(
      grpc::CallbackServerContext* context,
      const roster::v1::CreatePhoneNumberRequest* request,
      roster::v1::PhoneNumber* response) override;
  grpc::ServerUnaryReactor* GetPhoneNumber(
      grpc::CallbackServerContext* context,
      const roster::v1::GetPhoneNumberRequest* request,
      roster::v1::PhoneNumber* response) override;
  grpc::ServerUnaryReactor* UpdatePhoneNumber(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdatePhoneNumberRequest* request,
      roster::v1::PhoneNumber* response) override;
  grpc::ServerUnaryReactor* DeletePhoneNumber(
      grpc::CallbackServerContext* context,
      const roster::v1::DeletePhoneNumberRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* CreateExternalAccount(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateExternalAccountRequest* request,
      roster::v1::ExternalAccount* response) override;
  grpc::ServerUnaryReactor* DeleteExternalAccount(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteExternalAccountRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* GetUserOAuthAccessToken(
      grpc::CallbackServerContext* context,
      const roster::v1::GetUserOAuthAccessTokenRequest* request,
      roster::v1::OAuthAccessToken* response) override;
  // Social sign-in, when providers are configured (neither owned); null:
  // none. Its calls run on `provider_calls`: a provider that hangs holds
  // those threads, never the writes'.
  void set_oauth(oauth::OAuthFlow* oauth, BoundedExecutor* provider_calls) {
    oauth_ = oauth;
    provider_calls_ = provider_calls;
  }
  // Where reads run (not owned): a pool when storage is across a network
  // (PostgreSQL), whose round trips must not hold gRPC's few callback
  // threads; null (the default) runs them inline, right for SQLite, which
  // answers in microseconds.
  void set_reads(BoundedExecutor* reads) { reads_ = reads; }
  grpc::ServerUnaryReactor* VerifyPassword(
      grpc::CallbackServerContext* context,
      const roster::v1::VerifyPasswordRequest* request,
      roster::v1::VerifyPasswordResponse* response) override;
  grpc::ServerUnaryReactor* CreateSession(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateSessionRequest* request,
      roster::v1::CreateSessionResponse* response) override;
  grpc::ServerUnaryReactor* ListSessions(
      grpc::CallbackServerContext* context,
      const roster::v1::ListSessionsRequest* request,
      roster::v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* RevokeSession(
      grpc::CallbackServerContext* context,
      const roster::v1::RevokeSessionRequest* request,
      roster::v1::Session* response) override;
  grpc::ServerWriteReactor<roster::v1::Event>* WatchEvents(
      grpc::CallbackServerContext* context,
      const roster::v1::WatchEventsRequest* request) override;
  grpc::ServerUnaryReactor* ListEvents(
      grpc::CallbackServerContext* context,
      const roster::v1::ListEventsRequest* request,
      roster::v1::ListEventsResponse* response) override;
  grpc::ServerUnaryReactor* UnlockUser(
      grpc::CallbackServerContext* context,
      const roster::v1::UnlockUserRequest* request,
      roster::v1::User* response) override;

  // Invitations (backend_invitations.cc).
  grpc::ServerUnaryReactor* CreateInvitation(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateInvitationRequest* request,
      roster::v1::Invitation* response) override;
  grpc::ServerUnaryReactor* ListInvitations(
      grpc::CallbackServerContext* context,
      const roster::v1::ListInvitationsRequest* request,
      roster::v1::ListInvitationsResponse* response) override;
  grpc::ServerUnaryReactor* RevokeInvitation(
      grpc::CallbackServerContext* context,
      const roster::v1::RevokeInvitationRequest* request,
      roster::v1::Invitation* response) override;

  // Second factors (backend_second_factors.cc).
  grpc::ServerUnaryReactor* DisableUserMfa(
      grpc::CallbackServerContext* context,
      const roster::v1::DisableUserMfaRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* DeleteUserTotp(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteUserTotpRequest* request,
      roster::v1::User* response) override;
  grpc::ServerUnaryReactor* DeleteUserBackupCodes(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteUserBackupCodesRequest* request,
      roster::v1::User* response) override;

 private:
  // The upload methods' admissions (Uploads).
  absl::StatusOr<AdmittedUpload> AdmitProfileImage(
      const grpc::CallbackServerContext& context);
  absl::StatusOr<AdmittedUpload> AdmitImport(
      const grpc::CallbackServerContext& context);
  // The caller whose secret key the call carries, with its request id.
  absl::StatusOr<domain::Caller> AuthenticatedCaller(
      const grpc::CallbackServerContext& context,
      const std::string& request_id) const;
  // Like Write, but on `executor`; `what` names its work when it is full.
  template <typename Handler>
  grpc::ServerUnaryReactor* RunOn(BoundedExecutor* executor, const char* what,
                                  grpc::CallbackServerContext* context,
                                  const std::string& request_id,
                                  Handler handler);
  // Runs `hash()` (StatusOr<std::string>) and then `handler(caller, hash)`,
  // both on the hash pool.
  template <typename Hash, typename Handler>
  grpc::ServerUnaryReactor* HashThenWrite(grpc::CallbackServerContext* context,
                                          const std::string& request_id,
                                          Hash hash, Handler handler);
  // Update/ReplaceUserMetadata: the same call with a different mode.
  template <typename Request>
  grpc::ServerUnaryReactor* ChangeMetadata(grpc::CallbackServerContext* context,
                                           const Request* request,
                                           roster::v1::User* response,
                                           domain::MetadataMode mode);
  // A second-factor removal: `remove` (a SecondFactorService member taking
  // the caller and request->user_id()) on the write thread, answered with
  // the user (backend_second_factors.cc).
  template <typename Request, typename Remove>
  grpc::ServerUnaryReactor* RemoveFactors(grpc::CallbackServerContext* context,
                                          const Request* request,
                                          roster::v1::User* response,
                                          Remove remove);

  // ImportUsers' work once its batch is parsed, on the hash pool.
  absl::Status Import(const domain::Caller& caller,
                      const roster::v1::ImportUsersRequest& request,
                      roster::v1::ImportUsersResponse& response);

  // True when the call carries a valid secret key; else finishes `reactor`
  // with the refusal.
  bool Authenticated(const grpc::CallbackServerContext& context,
                     grpc::ServerUnaryReactor* reactor) const;

  // Authenticates, then runs `handler` (returning absl::Status) on reads_
  // (inline when null) and finishes.
  template <typename Handler>
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context,
                                 Handler handler);
  // Authenticates, then runs `handler(caller)` on the write thread and
  // finishes from there. `request_id` (may be empty) is recorded on the
  // events, else the `x-request-id` header is.
  template <typename Handler>
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* context,
                                  const std::string& request_id,
                                  Handler handler);

  domain::UserServices* users_;                  // Not owned.
  oauth::OAuthFlow* oauth_ = nullptr;            // Not owned.
  BoundedExecutor* provider_calls_ = nullptr;    // Not owned.
  domain::SessionService* sessions_;             // Not owned.
  domain::EventService* events_;                 // Not owned.
  EventHub* hub_;                                // Not owned.
  const SecretKeyAuthenticator* authenticator_;  // Not owned.
  BoundedExecutor* writes_;                      // Not owned.
  BoundedExecutor* hashes_;                      // Not owned.
  BoundedExecutor* reads_ = nullptr;             // Not owned; null: inline.
  // GetUser and ListUsers calls waiting on the store's own thread
  // (GetUserAsync, ListUsersAsync); as many as the read pool queues.
  WaitingCalls waiting_reads_{WaitingCalls::kMaxReads};
  domain::InvitationService* invitations_;       // Not owned.
  domain::SecondFactorService* second_factors_;  // Not owned.
  ArenaMessageAllocator<roster::v1::GetUserRequest, roster::v1::User>
      get_user_messages_;
  ArenaMessageAllocator<roster::v1::ListUsersRequest,
                        roster::v1::ListUsersResponse>
      list_users_messages_;
};

// The handler wrappers, here so the service's calls may live in several
// files (backend_invitations.cc).
template <typename Handler>
grpc::ServerUnaryReactor* BackendUsersService::Read(
    grpc::CallbackServerContext* context, Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (Authenticated(*context, reactor)) {
    FinishWith(*context, reactor, reads_, "reads", std::move(handler));
  }
  return reactor;
}

template <typename Handler>
grpc::ServerUnaryReactor* BackendUsersService::Write(
    grpc::CallbackServerContext* context, const std::string& request_id,
    Handler handler) {
  return RunOn(writes_, "writes", context, request_id, std::move(handler));
}

template <typename Handler>
grpc::ServerUnaryReactor* BackendUsersService::RunOn(
    BoundedExecutor* executor, const char* what,
    grpc::CallbackServerContext* context, const std::string& request_id,
    Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<domain::Caller> caller =
      AuthenticatedCaller(*context, request_id);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  // The request, response and reactor stay valid until Finish.
  FinishWith(
      *context, reactor, executor, what,
      [caller = *std::move(caller), handler = std::move(handler)]() mutable {
        return handler(caller);
      });
  return reactor;
}

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_BACKEND_USERS_SERVICE_H_

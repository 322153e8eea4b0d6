// FrontendUsersService: the roster.v1.FrontendUsers gRPC service on the
// callback API. The user is always the one named by the session token
// (`authorization: Bearer <token>`), which must be valid and whose session and
// user must still be live; no request names a user. It calls the same domain
// operations as BackendUsers with a narrower set of fields, and answers with
// FrontendUser, which cannot carry private metadata.
//
// Thread-safe.
#ifndef ROSTER_SERVER_API_FRONTEND_USERS_SERVICE_H_
#define ROSTER_SERVER_API_FRONTEND_USERS_SERVICE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/api/arena_message_allocator.h"
#include "server/api/auth.h"
#include "server/api/bounded_executor.h"
#include "server/api/call_context.h"
#include "server/api/request_size_gate.h"
#include "server/api/status_mapping.h"
#include "server/domain/rate_limiter.h"
#include "server/domain/second_factors.h"
#include "server/domain/session_service.h"
#include "server/domain/sign_in_attempts.h"
#include "server/domain/sign_up.h"
#include "server/domain/user_service.h"
#include "server/oauth/oauth_flow.h"

namespace roster::api {

// Failed sign-ins a replica allows per identifier and per client address in
// each window, before TOO_MANY_ATTEMPTS (DESIGN §14). Unknown identifiers and
// wrong passwords count alike.
struct SignInLimits {
  int failures_per_identifier = 5;
  int failures_per_address = 50;
  absl::Duration window = absl::Minutes(15);
  // Changes a signed-in user may make to their own account per hour: each
  // appends an event that is kept for the retention period (DESIGN §14).
  int self_service_writes_per_hour = 120;
  // Sign-ups and sign-in attempts started per client address per hour
  // (DESIGN §14): each is a row kept until it is pruned. Sign-ups with an
  // invitation's ticket count per ticket instead, with the same limit.
  int sign_ups_per_address_per_hour = 20;
  int sign_in_attempts_per_address_per_hour = 100;
};

class FrontendUsersService final
    : public roster::v1::FrontendUsers::CallbackService {
 public:
  // The handler of method `index` in the service descriptor's order, for a
  // RequestSizeGate to serve: this service is registered through one.
  grpc::internal::MethodHandler* handler(int index) {
    return GetHandler(index);
  }
  // The upload methods, by name, for the RequestSizeGate to serve: the token
  // is checked before any of the image is read (SetMyProfileImage).
  absl::flat_hash_map<std::string, UploadAdmission> Uploads();

  // None is owned; all must outlive the service.
  FrontendUsersService(domain::UserServices* users,
                       domain::SessionService* sessions,
                       domain::SignUpService* sign_ups,
                       domain::SignInAttemptService* attempts,
                       domain::SecondFactorService* second_factors,
                       BoundedExecutor* writes, BoundedExecutor* hashes,
                       const SignInLimits& limits = SignInLimits())
      : users_(users),
        sessions_(sessions),
        sign_ups_(sign_ups),
        attempts_(attempts),
        second_factors_(second_factors),
        writes_(writes),
        hashes_(hashes),
        // Unknown identifiers fail alike, so this names no identifier.
        failures_by_identifier_("failed attempts",
                                limits.failures_per_identifier, limits.window),
        failures_by_address_("failed attempts", limits.failures_per_address,
                             limits.window),
        writes_by_user_("changes to this account",
                        limits.self_service_writes_per_hour, absl::Hours(1)),
        sign_ups_by_address_("sign-ups from this address",
                             limits.sign_ups_per_address_per_hour,
                             absl::Hours(1)),
        sign_ups_by_ticket_("sign-ups with this invitation",
                            limits.sign_ups_per_address_per_hour,
                            absl::Hours(1)),
        attempts_by_address_("sign-ins started from this address",
                             limits.sign_in_attempts_per_address_per_hour,
                             absl::Hours(1)) {
    // The hot read builds its response on an arena.
    SetMessageAllocatorFor_GetMe(&get_me_messages_);
  }

  grpc::ServerUnaryReactor* SignIn(
      grpc::CallbackServerContext* context,
      const roster::v1::SignInRequest* request,
      roster::v1::SignInResponse* response) override;
  grpc::ServerUnaryReactor* RefreshSessionToken(
      grpc::CallbackServerContext* context,
      const roster::v1::RefreshSessionTokenRequest* request,
      roster::v1::RefreshSessionTokenResponse* response) override;
  grpc::ServerUnaryReactor* GetJwks(grpc::CallbackServerContext* context,
                                    const roster::v1::GetJwksRequest* request,
                                    roster::v1::Jwks* response) override;
  grpc::ServerUnaryReactor* GetMe(grpc::CallbackServerContext* context,
                                  const roster::v1::GetMeRequest* request,
                                  roster::v1::FrontendUser* response) override;
  grpc::ServerUnaryReactor* UpdateMe(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdateMeRequest* request,
      roster::v1::FrontendUser* response) override;
  grpc::ServerUnaryReactor* UpdateMyMetadata(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdateMyMetadataRequest* request,
      roster::v1::FrontendUser* response) override;
  grpc::ServerUnaryReactor* DeleteMe(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteMeRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* ChangeMyPassword(
      grpc::CallbackServerContext* context,
      const roster::v1::ChangeMyPasswordRequest* request,
      roster::v1::FrontendUser* response) override;
  grpc::ServerUnaryReactor* RemoveMyPassword(
      grpc::CallbackServerContext* context,
      const roster::v1::RemoveMyPasswordRequest* request,
      roster::v1::FrontendUser* response) override;
  grpc::ServerUnaryReactor* CreateMyEmailAddress(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateMyEmailAddressRequest* request,
      roster::v1::EmailAddress* response) override;
  grpc::ServerUnaryReactor* DeleteMyEmailAddress(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteMyEmailAddressRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* PrepareEmailAddressVerification(
      grpc::CallbackServerContext* context,
      const roster::v1::PrepareEmailAddressVerificationRequest* request,
      roster::v1::EmailAddress* response) override;
  grpc::ServerUnaryReactor* AttemptEmailAddressVerification(
      grpc::CallbackServerContext* context,
      const roster::v1::AttemptEmailAddressVerificationRequest* request,
      roster::v1::EmailAddress* response) override;
  grpc::ServerUnaryReactor* CreateMyPhoneNumber(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateMyPhoneNumberRequest* request,
      roster::v1::PhoneNumber* response) override;
  grpc::ServerUnaryReactor* DeleteMyPhoneNumber(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteMyPhoneNumberRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* PreparePhoneNumberVerification(
      grpc::CallbackServerContext* context,
      const roster::v1::PreparePhoneNumberVerificationRequest* request,
      roster::v1::PhoneNumber* response) override;
  grpc::ServerUnaryReactor* AttemptPhoneNumberVerification(
      grpc::CallbackServerContext* context,
      const roster::v1::AttemptPhoneNumberVerificationRequest* request,
      roster::v1::PhoneNumber* response) override;
  grpc::ServerUnaryReactor* DeleteMyExternalAccount(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteMyExternalAccountRequest* request,
      roster::v1::DeletedObject* response) override;
  grpc::ServerUnaryReactor* DeleteMyProfileImage(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteMyProfileImageRequest* request,
      roster::v1::FrontendUser* response) override;
  grpc::ServerUnaryReactor* ListMySessions(
      grpc::CallbackServerContext* context,
      const roster::v1::ListMySessionsRequest* request,
      roster::v1::ListMySessionsResponse* response) override;
  grpc::ServerUnaryReactor* RevokeMySession(
      grpc::CallbackServerContext* context,
      const roster::v1::RevokeMySessionRequest* request,
      roster::v1::Session* response) override;
  grpc::ServerUnaryReactor* SignOut(grpc::CallbackServerContext* context,
                                    const roster::v1::SignOutRequest* request,
                                    roster::v1::Session* response) override;

  // Sign-ups (frontend_sign_ups.cc).
  grpc::ServerUnaryReactor* CreateSignUp(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateSignUpRequest* request,
      roster::v1::SignUpResponse* response) override;
  grpc::ServerUnaryReactor* UpdateSignUp(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdateSignUpRequest* request,
      roster::v1::SignUpResponse* response) override;
  grpc::ServerUnaryReactor* PrepareSignUpVerification(
      grpc::CallbackServerContext* context,
      const roster::v1::PrepareSignUpVerificationRequest* request,
      roster::v1::SignUpResponse* response) override;
  grpc::ServerUnaryReactor* AttemptSignUpVerification(
      grpc::CallbackServerContext* context,
      const roster::v1::AttemptSignUpVerificationRequest* request,
      roster::v1::SignUpResponse* response) override;

  // Sign-in in steps (frontend_sign_in_attempts.cc).
  grpc::ServerUnaryReactor* StartSignIn(
      grpc::CallbackServerContext* context,
      const roster::v1::StartSignInRequest* request,
      roster::v1::SignInAttempt* response) override;
  grpc::ServerUnaryReactor* PrepareSignInFactor(
      grpc::CallbackServerContext* context,
      const roster::v1::PrepareSignInFactorRequest* request,
      roster::v1::SignInAttempt* response) override;
  grpc::ServerUnaryReactor* AttemptSignInFactor(
      grpc::CallbackServerContext* context,
      const roster::v1::AttemptSignInFactorRequest* request,
      roster::v1::SignInResponse* response) override;
  grpc::ServerUnaryReactor* ResetPassword(
      grpc::CallbackServerContext* context,
      const roster::v1::ResetPasswordRequest* request,
      roster::v1::SignInResponse* response) override;
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

  // How many keys each in-memory rate limit holds now and at most, by limit
  // name (for /metrics: a full one means its oldest keys are going).
  struct RateLimitFill {
    std::string limit;
    size_t keys = 0;
    size_t max_keys = 0;
  };
  std::vector<RateLimitFill> RateLimitKeys() const {
    const std::pair<const char*, const domain::RateLimiter*> limits[] = {
        {"failures_by_identifier", &failures_by_identifier_},
        {"failures_by_address", &failures_by_address_},
        {"writes_by_user", &writes_by_user_},
        {"sign_ups_by_address", &sign_ups_by_address_},
        {"sign_ups_by_ticket", &sign_ups_by_ticket_},
        {"attempts_by_address", &attempts_by_address_}};
    std::vector<RateLimitFill> fills;
    for (const auto& [name, limiter] : limits) {
      fills.push_back({name, limiter->keys(), limiter->max_keys()});
    }
    return fills;
  }

  grpc::ServerUnaryReactor* StartOAuth(
      grpc::CallbackServerContext* context,
      const roster::v1::StartOAuthRequest* request,
      roster::v1::StartOAuthResponse* response) override;
  grpc::ServerUnaryReactor* SignInWithTicket(
      grpc::CallbackServerContext* context,
      const roster::v1::SignInWithTicketRequest* request,
      roster::v1::SignInResponse* response) override;

  // Second factors (frontend_second_factors.cc).
  grpc::ServerUnaryReactor* CreateMyTotp(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateMyTotpRequest* request,
      roster::v1::Totp* response) override;
  grpc::ServerUnaryReactor* VerifyMyTotp(
      grpc::CallbackServerContext* context,
      const roster::v1::VerifyMyTotpRequest* request,
      roster::v1::Totp* response) override;
  grpc::ServerUnaryReactor* DeleteMyTotp(
      grpc::CallbackServerContext* context,
      const roster::v1::DeleteMyTotpRequest* request,
      roster::v1::FrontendUser* response) override;
  grpc::ServerUnaryReactor* CreateMyBackupCodes(
      grpc::CallbackServerContext* context,
      const roster::v1::CreateMyBackupCodesRequest* request,
      roster::v1::BackupCodes* response) override;
  grpc::ServerUnaryReactor* UpdateMyPhoneNumber(
      grpc::CallbackServerContext* context,
      const roster::v1::UpdateMyPhoneNumberRequest* request,
      roster::v1::PhoneNumber* response) override;

 private:
  // The signed-in caller of a call.
  struct Me {
    domain::Caller caller;  // actor `user:<id>`.
    std::string user_id;
    std::string session_id;
  };
  // A caller whose token's signature and lifetime are valid, before its
  // session is checked.
  struct SignedIn {
    domain::TokenClaims claims;
    Me me;
  };

  // The bearer token's claims and caller, checked inline: a forged or expired
  // token costs no storage read and no place in a queue.
  absl::StatusOr<SignedIn> VerifySessionToken(
      const grpc::CallbackServerContext& context) const;
  // SetMyProfileImage's admission (Uploads).
  absl::StatusOr<AdmittedUpload> AdmitProfileImage(
      const grpc::CallbackServerContext& context);
  // The caller of a change: signed in with an active session, and within its
  // writes per hour (each change is one more event to keep).
  absl::StatusOr<Me> AdmitChange(const grpc::CallbackServerContext& context);

  // Authenticates the session token, then runs `handler(me)` inline (executor
  // null) or on `executor`, finishing with its status.
  template <typename Handler>
  grpc::ServerUnaryReactor* AsMe(grpc::CallbackServerContext* context,
                                 BoundedExecutor* executor, const char* what,
                                 Handler handler);
  // Runs `handler()` (no credentials) on `executor`, or inline when null.
  template <typename Handler>
  grpc::ServerUnaryReactor* Anyone(grpc::CallbackServerContext* context,
                                   BoundedExecutor* executor, const char* what,
                                   Handler handler);

  // A sign-up code call (prepare or attempt): checks the request's size and
  // strategy, then runs `call(caller, strategy)` on the write pool.
  template <typename Request, typename Call>
  grpc::ServerUnaryReactor* VerifySignUp(grpc::CallbackServerContext* context,
                                         const Request* request,
                                         roster::v1::SignUpResponse* response,
                                         Call call);

  // The signed-in user's own identifiers (both kinds written once).
  template <typename Message>
  absl::Status CreateMine(const Me& me, domain::IdentifierType type,
                          const std::string& value, Message* response);
  absl::Status DeleteMine(const Me& me, domain::IdentifierType type,
                          const std::string& id, const std::string& promote_id,
                          roster::v1::DeletedObject* response);

  domain::UserServices* users_;                  // Not owned.
  domain::SessionService* sessions_;             // Not owned.
  domain::SignUpService* sign_ups_;              // Not owned.
  domain::SignInAttemptService* attempts_;       // Not owned.
  domain::SecondFactorService* second_factors_;  // Not owned.
  BoundedExecutor* writes_;                      // Not owned.
  BoundedExecutor* hashes_;                      // Not owned.
  BoundedExecutor* reads_ = nullptr;             // Not owned; null: inline.
  oauth::OAuthFlow* oauth_ = nullptr;            // Not owned.
  BoundedExecutor* provider_calls_ = nullptr;    // Not owned.
  domain::RateLimiter failures_by_identifier_;
  domain::RateLimiter failures_by_address_;
  domain::RateLimiter writes_by_user_;
  domain::RateLimiter sign_ups_by_address_;
  domain::RateLimiter sign_ups_by_ticket_;  // Invitations' (CreateSignUp).
  domain::RateLimiter attempts_by_address_;
  // GetMe calls waiting on the store's own thread (GetSessionAndUserAsync).
  WaitingCalls waiting_reads_{WaitingCalls::kMaxReads};
  ArenaMessageAllocator<roster::v1::GetMeRequest, roster::v1::FrontendUser>
      get_me_messages_;
};

// Here so the service's calls may live in several files.
template <typename Handler>
grpc::ServerUnaryReactor* FrontendUsersService::Anyone(
    grpc::CallbackServerContext* context, BoundedExecutor* executor,
    const char* what, Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  FinishWith(*context, reactor, executor, what, std::move(handler),
             BoundedExecutor::Lane::kUnauthenticated);
  return reactor;
}

template <typename Handler>
grpc::ServerUnaryReactor* FrontendUsersService::AsMe(
    grpc::CallbackServerContext* context, BoundedExecutor* executor,
    const char* what, Handler handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (executor != nullptr) {
    absl::StatusOr<Me> me = AdmitChange(*context);
    if (!me.ok()) {
      reactor->Finish(ToGrpcStatus(me.status()));
      return reactor;
    }
    FinishWith(*context, reactor, executor, what,
               [me = *std::move(me), handler = std::move(handler)]() mutable {
                 return handler(me);
               });
    return reactor;
  }
  // A read: the session check and the read run on the read pool (inline when
  // storage answers in-process).
  absl::StatusOr<SignedIn> signed_in = VerifySessionToken(*context);
  if (!signed_in.ok()) {
    reactor->Finish(ToGrpcStatus(signed_in.status()));
    return reactor;
  }
  FinishWith(*context, reactor, reads_, "reads",
             [this, signed_in = *std::move(signed_in),
              handler = std::move(handler)]() mutable -> absl::Status {
               absl::Status active = sessions_->CheckActive(signed_in.claims);
               return active.ok() ? handler(signed_in.me) : active;
             });
  return reactor;
}

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_FRONTEND_USERS_SERVICE_H_

// FrontendUsers' sign-in in steps (DESIGN §10). No credentials: the attempt
// id is the capability. Starting one is limited per client address, since
// each is a row until pruned; failed factors count toward the address's
// sign-in failure limit, as SignIn's do.
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "server/api/call_context.h"
#include "server/api/frontend_users_service.h"
#include "server/api/proto_mapping.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"
#include "server/domain/sign_in.h"

namespace roster::api {
namespace {

using roster::v1::SignInAttempt;

void AttemptToProto(const domain::SignInAttemptView& view, SignInAttempt& out) {
  const storage::SignInAttemptRecord& r = view.record;
  out.set_id(r.id);
  out.set_status(
      static_cast<SignInAttempt::Status>(static_cast<int>(r.status)));
  out.set_identifier(r.identifier);
  for (const auto& f : view.supported_first_factors) {
    out.add_supported_first_factors(f);
  }
  for (const auto& f : view.supported_second_factors) {
    out.add_supported_second_factors(f);
  }
  ToProto(domain::FromMicros(r.expire_at), *out.mutable_expire_at());
}

absl::Status RespondWithStep(absl::StatusOr<domain::SignInStep> step,
                             absl::Time now,
                             roster::v1::SignInResponse* response) {
  if (!step.ok()) {
    return step.status();
  }
  if (step->attempt.record.id.empty()) {  // SignIn, complete at once.
    response->set_status(SignInAttempt::STATUS_COMPLETE);
  } else {
    AttemptToProto(step->attempt, *response->mutable_sign_in_attempt());
    response->set_status(response->sign_in_attempt().status());
  }
  if (step->session.has_value()) {
    ToProto(step->session->session, now, *response->mutable_session());
    response->set_session_secret(step->session->secret);
    response->set_session_token(step->session->token);
  }
  if (step->user.has_value()) {
    ToProto(*step->user, *response->mutable_user());
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* FrontendUsersService::SignIn(
    grpc::CallbackServerContext* context,
    const roster::v1::SignInRequest* request,
    roster::v1::SignInResponse* response) {
  // Refused before the hash pool: a limited caller costs no argon2id.
  std::string identifier_key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      absl::string_view(request->identifier()).substr(0, 512)));
  std::string address_key = ClientAddressKey(PeerOf(*context));
  const absl::Time now = sessions_->Now();
  for (const auto& [limiter, key] :
       {std::pair{&failures_by_identifier_, &identifier_key},
        std::pair{&failures_by_address_, &address_key}}) {
    absl::Status allowed = limiter->Check(*key, now);
    if (!allowed.ok()) {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      reactor->Finish(ToGrpcStatus(allowed));
      return reactor;
    }
  }
  return Anyone(
      context, hashes_, "sign-ins",
      [this, context, request, response,
       identifier_key = std::move(identifier_key),
       address_key = std::move(address_key)]() {
        auto caller = CallerOf(*context, "sign_in", "");
        if (!caller.ok()) {
          return caller.status();
        }
        auto user_id = domain::CheckSignInPassword(
            *users_, *caller, request->identifier(), request->password());
        if (!user_id.ok()) {
          if (domain::ReasonOf(user_id.status()) ==
              domain::reason::kPasswordIncorrect) {
            failures_by_identifier_.Record(identifier_key, sessions_->Now());
            failures_by_address_.Record(address_key, sessions_->Now());
          }
          return user_id.status();
        }
        return RespondWithStep(
            attempts_->CompleteSignIn(*caller, request->identifier(), *user_id),
            sessions_->Now(), response);
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::StartSignIn(
    grpc::CallbackServerContext* context,
    const roster::v1::StartSignInRequest* request, SignInAttempt* response) {
  absl::Status allowed = attempts_by_address_.Acquire(
      ClientAddressKey(PeerOf(*context)), sessions_->Now());
  if (!allowed.ok()) {
    return Refused(context, allowed);
  }
  return Anyone(context, writes_, "writes",
                [this, context, request, response]() -> absl::Status {
                  // Starting writes no event; a malformed x-request-id is
                  // still refused, as on every call.
                  auto caller = CallerOf(*context, "sign_in", "");
                  if (!caller.ok()) {
                    return caller.status();
                  }
                  auto started = attempts_->Start(request->identifier());
                  if (!started.ok()) {
                    return started.status();
                  }
                  AttemptToProto(*started, *response);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* FrontendUsersService::PrepareSignInFactor(
    grpc::CallbackServerContext* context,
    const roster::v1::PrepareSignInFactorRequest* request,
    SignInAttempt* response) {
  return Anyone(context, writes_, "writes",
                [this, context, request, response]() -> absl::Status {
                  auto caller = CallerOf(*context, "sign_in", "");
                  if (!caller.ok()) {
                    return caller.status();
                  }
                  auto prepared =
                      attempts_->Prepare(*caller, request->sign_in_attempt_id(),
                                         request->strategy());
                  if (!prepared.ok()) {
                    return prepared.status();
                  }
                  AttemptToProto(*prepared, *response);
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* FrontendUsersService::AttemptSignInFactor(
    grpc::CallbackServerContext* context,
    const roster::v1::AttemptSignInFactorRequest* request,
    roster::v1::SignInResponse* response) {
  std::string address_key = ClientAddressKey(PeerOf(*context));
  absl::Status allowed =
      failures_by_address_.Check(address_key, sessions_->Now());
  if (!allowed.ok()) {
    return Refused(context, allowed);
  }
  const bool password = request->strategy() == "password";
  return Anyone(
      context, password ? hashes_ : writes_, password ? "sign-ins" : "writes",
      [this, context, request, response, password,
       address_key = std::move(address_key)]() -> absl::Status {
        auto caller = CallerOf(*context, "sign_in", "");
        if (!caller.ok()) {
          return caller.status();
        }
        auto step = attempts_->Attempt(
            *caller, request->sign_in_attempt_id(), request->strategy(),
            password ? request->password() : request->code());
        const std::string reason = domain::ReasonOf(step.status());
        if (reason == domain::reason::kPasswordIncorrect ||
            reason == domain::reason::kVerificationFailed) {
          failures_by_address_.Record(address_key, sessions_->Now());
        }
        return RespondWithStep(std::move(step), sessions_->Now(), response);
      });
}

grpc::ServerUnaryReactor* FrontendUsersService::ResetPassword(
    grpc::CallbackServerContext* context,
    const roster::v1::ResetPasswordRequest* request,
    roster::v1::SignInResponse* response) {
  return Anyone(context, hashes_, "password hashes",
                [this, context, request, response]() -> absl::Status {
                  auto caller = CallerOf(*context, "sign_in", "");
                  if (!caller.ok()) {
                    return caller.status();
                  }
                  auto hash = attempts_->HashNewPassword(
                      request->sign_in_attempt_id(), request->password());
                  if (!hash.ok()) {
                    return hash.status();
                  }
                  return RespondWithStep(
                      attempts_->ResetPassword(
                          *caller, request->sign_in_attempt_id(), *hash,
                          !request->has_sign_out_of_other_sessions() ||
                              request->sign_out_of_other_sessions()),
                      sessions_->Now(), response);
                });
}

grpc::ServerUnaryReactor* FrontendUsersService::SignInWithTicket(
    grpc::CallbackServerContext* context,
    const roster::v1::SignInWithTicketRequest* request,
    roster::v1::SignInResponse* response) {
  // Guessing tickets counts as failed sign-ins of the address.
  std::string address_key = ClientAddressKey(PeerOf(*context));
  absl::Status allowed =
      failures_by_address_.Check(address_key, sessions_->Now());
  if (!allowed.ok()) {
    return Refused(context, allowed);
  }
  return Anyone(
      context, writes_, "writes",
      [this, context, request, response,
       address_key = std::move(address_key)]() -> absl::Status {
        auto caller = CallerOf(*context, "sign_in", "");
        if (!caller.ok()) {
          return caller.status();
        }
        auto step = attempts_->SignInWithTicket(*caller, request->ticket());
        if (domain::ReasonOf(step.status()) == domain::reason::kTicketInvalid) {
          failures_by_address_.Record(address_key, sessions_->Now());
        }
        return RespondWithStep(std::move(step), sessions_->Now(), response);
      });
}

}  // namespace roster::api

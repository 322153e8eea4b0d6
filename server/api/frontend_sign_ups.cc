// FrontendUsers' sign-up calls (DESIGN §10). None needs credentials: the
// sign-up id is the capability. Calls that may hash a password run on the hash
// pool's unauthenticated lane; the others on the write pool's.
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/api/call_context.h"
#include "server/api/frontend_users_service.h"
#include "server/api/proto_mapping.h"
#include "server/api/status_mapping.h"
#include "server/api/struct_json.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

using roster::v1::SignUp;
using roster::v1::SignUpResponse;

// The fields a create or update request sets. Both request types spell them
// alike.
template <typename Request>
absl::StatusOr<domain::SignUpParams> ParamsOf(const Request& request) {
  domain::SignUpParams params;
  if (request.has_email_address()) {
    params.email_address = request.email_address();
  }
  if (request.has_phone_number()) {
    params.phone_number = request.phone_number();
  }
  if (request.has_username()) {
    params.username = request.username();
  }
  if (request.has_password()) {
    params.password = request.password();
  }
  if (request.has_first_name()) {
    params.first_name = request.first_name();
  }
  if (request.has_last_name()) {
    params.last_name = request.last_name();
  }
  if (request.has_legal_accepted()) {
    params.legal_accepted = request.legal_accepted();
  }
  if (request.has_unsafe_metadata()) {
    domain::Violations violations;
    params.unsafe_metadata =
        StructToJson(request.unsafe_metadata(), "unsafe_metadata", violations);
    if (!violations.empty()) {
      return violations.ToStatus();
    }
  }
  return params;
}

absl::StatusOr<domain::SignUpStrategy> StrategyOf(const std::string& strategy) {
  if (strategy == "email_code") {
    return domain::SignUpStrategy::kEmailCode;
  }
  if (strategy == "phone_code") {
    return domain::SignUpStrategy::kPhoneCode;
  }
  return domain::Error(absl::StatusCode::kInvalidArgument,
                       domain::reason::kInvalidArgumentFormat,
                       "strategy is not supported",
                       {{"strategy", "must be email_code or phone_code"}});
}

// Takes the field's accessor, not the field: calling a mutable_ accessor marks
// the field present, so an unset time would read as the epoch.
void SetTimeIfAny(storage::Micros micros, SignUp& out,
                  google::protobuf::Timestamp* (SignUp::*field)()) {
  if (micros != 0) {
    ToProto(domain::FromMicros(micros), *(out.*field)());
  }
}

void SignUpToProto(const domain::SignUpView& view, SignUp& out) {
  const storage::SignUpRecord& r = view.record;
  out.set_id(r.id);
  out.set_status(r.status == storage::SignUpStatus::kComplete
                     ? SignUp::STATUS_COMPLETE
                 : view.abandoned ? SignUp::STATUS_ABANDONED
                                  : SignUp::STATUS_MISSING_REQUIREMENTS);
  for (const auto& f : view.required_fields) {
    out.add_required_fields(f);
  }
  for (const auto& f : view.missing_fields) {
    out.add_missing_fields(f);
  }
  for (const auto& f : view.unverified_fields) {
    out.add_unverified_fields(f);
  }
  out.set_email_address(r.email_address);
  out.set_phone_number(r.phone_number);
  out.set_username(r.username);
  out.set_first_name(r.first_name);
  out.set_last_name(r.last_name);
  out.set_password_enabled(!r.password_hash.empty());
  if (!r.unsafe_metadata.empty()) {
    JsonToStruct(r.unsafe_metadata, *out.mutable_unsafe_metadata());
  }
  if (!r.email_address.empty()) {
    ToProto(r.email_verification, *out.mutable_email_address_verification());
  }
  if (!r.phone_number.empty()) {
    ToProto(r.phone_verification, *out.mutable_phone_number_verification());
  }
  if (view.external_account_verification.has_value()) {
    ToProto(*view.external_account_verification,
            *out.mutable_external_account_verification());
  }
  SetTimeIfAny(r.legal_accepted_at, out, &SignUp::mutable_legal_accepted_at);
  out.set_created_user_id(r.created_user_id);
  out.set_created_session_id(r.created_session_id);
  SetTimeIfAny(r.expire_at, out, &SignUp::mutable_expire_at);
  SetTimeIfAny(r.created_at, out, &SignUp::mutable_created_at);
}

absl::Status Respond(absl::StatusOr<domain::SignUpResult> result,
                     absl::Time now, SignUpResponse* response) {
  if (!result.ok()) {
    return result.status();
  }
  SignUpToProto(result->sign_up, *response->mutable_sign_up());
  if (result->session.has_value()) {
    ToProto(result->session->session, now, *response->mutable_session());
    response->set_session_secret(result->session->secret);
    response->set_session_token(result->session->token);
  }
  if (result->user.has_value()) {
    ToProto(*result->user, *response->mutable_user());
  }
  return absl::OkStatus();
}

// The sign-up's caller, once the password in `params` (if any) is hashed.
absl::StatusOr<domain::Caller> HashedSignUp(
    const grpc::CallbackServerContext& context,
    const domain::SignUpService& sign_ups, domain::SignUpParams& params) {
  auto caller = CallerOf(context, "sign_up", "");
  if (!caller.ok()) {
    return caller.status();
  }
  absl::Status hashed = sign_ups.HashPassword(params);
  if (!hashed.ok()) {
    return hashed;
  }
  return caller;
}

grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* FrontendUsersService::CreateSignUp(
    grpc::CallbackServerContext* context,
    const roster::v1::CreateSignUpRequest* request, SignUpResponse* response) {
  auto params = ParamsOf(*request);
  if (!params.ok()) {
    return Refuse(context, params.status());
  }
  params->ticket = request->ticket();
  // Counted before any work, so a flood from one address costs no hashing.
  // Invitees often share an address (an office's): a sign-up whose ticket
  // proves good counts against the ticket, and is given back to the address.
  // A made-up ticket stays counted against the address, so it buys nothing,
  // and is held as a key only while the address may still sign up.
  const absl::Time now = sessions_->Now();
  const bool invited = !params->ticket.empty();
  std::string address = ClientAddressKey(PeerOf(*context));
  absl::Status allowed = sign_ups_by_address_.Acquire(address, now);
  if (allowed.ok() && invited) {
    allowed = sign_ups_by_ticket_.Acquire(params->ticket, now);
    if (!allowed.ok()) {
      sign_ups_by_address_.Release(address);
    }
  }
  if (!allowed.ok()) {
    return Refuse(context, allowed);
  }
  return Anyone(context, hashes_, "sign-ups",
                [this, context, response, invited, address = std::move(address),
                 params = *std::move(params)]() mutable {
                  auto caller = HashedSignUp(*context, *sign_ups_, params);
                  if (!caller.ok()) {
                    return caller.status();
                  }
                  auto created = sign_ups_->Create(*caller, params);
                  if (created.ok() && invited) {
                    sign_ups_by_address_.Release(address);
                  }
                  return Respond(std::move(created), sessions_->Now(),
                                 response);
                });
}

grpc::ServerUnaryReactor* FrontendUsersService::UpdateSignUp(
    grpc::CallbackServerContext* context,
    const roster::v1::UpdateSignUpRequest* request, SignUpResponse* response) {
  auto params = ParamsOf(*request);
  if (!params.ok()) {
    return Refuse(context, params.status());
  }
  // Only a new password needs the hash pool.
  BoundedExecutor* executor = request->has_password() ? hashes_ : writes_;
  return Anyone(context, executor, "sign-ups",
                [this, context, request, response,
                 params = *std::move(params)]() mutable {
                  auto caller = HashedSignUp(*context, *sign_ups_, params);
                  if (!caller.ok()) {
                    return caller.status();
                  }
                  return Respond(
                      sign_ups_->Update(*caller, request->sign_up_id(), params),
                      sessions_->Now(), response);
                });
}

template <typename Request, typename Call>
grpc::ServerUnaryReactor* FrontendUsersService::VerifySignUp(
    grpc::CallbackServerContext* context, const Request* request,
    SignUpResponse* response, Call call) {
  auto strategy = StrategyOf(request->strategy());
  if (!strategy.ok()) {
    return Refuse(context, strategy.status());
  }
  return Anyone(context, writes_, "writes",
                [this, context, response, strategy = *strategy,
                 call = std::move(call)]() -> absl::Status {
                  auto caller = CallerOf(*context, "sign_up", "");
                  if (!caller.ok()) {
                    return caller.status();
                  }
                  return Respond(call(*caller, strategy), sessions_->Now(),
                                 response);
                });
}

grpc::ServerUnaryReactor* FrontendUsersService::PrepareSignUpVerification(
    grpc::CallbackServerContext* context,
    const roster::v1::PrepareSignUpVerificationRequest* request,
    SignUpResponse* response) {
  return VerifySignUp(context, request, response,
                      [this, request](const domain::Caller& caller,
                                      domain::SignUpStrategy strategy) {
                        return sign_ups_->PrepareVerification(
                            caller, request->sign_up_id(), strategy);
                      });
}

grpc::ServerUnaryReactor* FrontendUsersService::AttemptSignUpVerification(
    grpc::CallbackServerContext* context,
    const roster::v1::AttemptSignUpVerificationRequest* request,
    SignUpResponse* response) {
  return VerifySignUp(context, request, response,
                      [this, request](const domain::Caller& caller,
                                      domain::SignUpStrategy strategy) {
                        return sign_ups_->AttemptVerification(
                            caller, request->sign_up_id(), strategy,
                            request->code());
                      });
}

}  // namespace roster::api

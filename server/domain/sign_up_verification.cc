// SignUpService's code steps (DESIGN §10): PrepareSignUpVerification sends a
// code to the sign-up's email address or phone number, and
// AttemptSignUpVerification checks it; a right code that meets the last
// requirement completes the sign-up in the same transaction.
#include <string>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/sign_up.h"
#include "server/domain/user_checks.h"
#include "server/domain/verification_codes.h"

namespace roster::domain {
namespace {

using storage::SignUpRecord;
using storage::VerificationRecord;
using storage::VerificationStatus;

// The identifier a strategy verifies: its field name, value and record.
struct Target {
  const char* field;
  std::string* value;
  VerificationRecord* verification;
  const char* strategy;
};

Target TargetOf(SignUpRecord& r, SignUpStrategy strategy) {
  return strategy == SignUpStrategy::kEmailCode
             ? Target{"email_address", &r.email_address, &r.email_verification,
                      "email_code"}
             : Target{"phone_number", &r.phone_number, &r.phone_verification,
                      "phone_code"};
}

// How a code attempt ended, decided in the transaction, reported after it.
enum class CodeOutcome { kVerified, kWrongCode, kExpired };

}  // namespace

absl::StatusOr<SignUpResult> SignUpService::PrepareVerification(
    const Caller& caller, absl::string_view sign_up_id,
    SignUpStrategy strategy) {
  const absl::Time now = clock_->Now();
  const storage::Micros now_micros = ToMicros(now);
  const std::string code = NewVerificationCode();
  SignUpResult result;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto sign_up = LoadOpen(txn, sign_up_id, now);
        if (!sign_up.ok()) {
          return sign_up.status();
        }
        Target target = TargetOf(*sign_up, strategy);
        // The request is sound; the sign-up is not ready for it.
        if (target.value->empty()) {
          return Error(
              absl::StatusCode::kFailedPrecondition, reason::kSignUpIncomplete,
              absl::StrCat("the sign-up has no ", target.field,
                           " to send a code to"),
              {{"strategy", absl::StrCat("the sign-up has no ", target.field,
                                         " yet: give one with UpdateSignUp")}});
        }
        if (target.verification->status == VerificationStatus::kVerified) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kAlreadyVerified,
                       absl::StrCat(target.field, " is already verified"));
        }
        // The same durable windows as a user's own addresses: a sign-up buys no
        // more codes for an address than its owner gets.
        absl::Status counted =
            CountCodeSend(txn, absl::StrCat(target.field, ":", *target.value),
                          "", now_micros);
        if (!counted.ok()) {
          return counted;
        }
        VerificationRecord& v = *target.verification;
        v.status = VerificationStatus::kUnverified;
        v.strategy = target.strategy;
        v.attempts = 0;
        v.expire_at = now_micros + absl::ToInt64Microseconds(
                                       options_.verification_code_lifetime);
        v.code_digest = DigestVerificationCode(code);
        VerificationMessage message;
        message.address = *target.value;
        message.code = code;
        message.expire_at = v.expire_at;
        message.purpose = "sign_up";
        message.sign_up_id = sign_up->id;
        const bool email = strategy == SignUpStrategy::kEmailCode;
        absl::Status appended = txn.AppendEvent(NewEvent(
            caller, email ? event_type::kEmailCreated : event_type::kSmsCreated,
            "",
            email ? events_->EncodeEmailMessage(message)
                  : events_->EncodeSmsMessage(message)));
        if (!appended.ok()) {
          return appended;
        }
        sign_up->updated_at = now_micros;
        result.sign_up = ViewOf(*sign_up, now);
        return txn.PutSignUp(*sign_up);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return result;
}

absl::StatusOr<SignUpResult> SignUpService::AttemptVerification(
    const Caller& caller, absl::string_view sign_up_id, SignUpStrategy strategy,
    absl::string_view code) {
  if (!IsWellFormedVerificationCode(code)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat, "code is malformed",
                 {{"code", "must be 6 digits"}});
  }
  const absl::Time now = clock_->Now();
  const storage::Micros now_micros = ToMicros(now);
  CodeOutcome outcome = CodeOutcome::kVerified;
  int32_t attempts_left = 0;
  SignUpResult result;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto sign_up = LoadOpen(txn, sign_up_id, now);
        if (!sign_up.ok()) {
          return sign_up.status();
        }
        Target target = TargetOf(*sign_up, strategy);
        VerificationRecord& v = *target.verification;
        if (v.status == VerificationStatus::kFailed) {
          return Error(absl::StatusCode::kResourceExhausted,
                       reason::kTooManyAttempts,
                       "too many wrong codes; prepare a new one");
        }
        if (target.value->empty() ||
            v.status != VerificationStatus::kUnverified ||
            v.code_digest.empty()) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kNoVerificationPending,
                       "no code is pending; prepare one first");
        }
        if (now_micros >= v.expire_at) {
          v.status = VerificationStatus::kExpired;
          v.code_digest.clear();
          outcome = CodeOutcome::kExpired;
        } else if (VerificationCodeMatches(code, v.code_digest)) {
          v.status = VerificationStatus::kVerified;
          v.code_digest.clear();
          outcome = CodeOutcome::kVerified;
          return SaveOrComplete(txn, caller, now, *sign_up, result);
        } else {
          v.attempts += 1;
          attempts_left = options_.verification_max_attempts - v.attempts;
          if (attempts_left <= 0) {
            v.status = VerificationStatus::kFailed;
            v.code_digest.clear();
          }
          outcome = CodeOutcome::kWrongCode;
        }
        sign_up->updated_at = now_micros;
        return txn.PutSignUp(*sign_up);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  switch (outcome) {
    case CodeOutcome::kVerified:
      return result;
    case CodeOutcome::kExpired:
      return VerificationCodeExpired();
    case CodeOutcome::kWrongCode:
      break;
  }
  return VerificationCodeIncorrect(attempts_left);
}

}  // namespace roster::domain

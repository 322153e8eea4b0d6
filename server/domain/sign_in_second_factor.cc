// SignInAttemptService's second step (DESIGN §10): a phone_code sent to the
// second-factor phone, and the check of totp, backup_code and phone_code.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/sign_in_attempts.h"
#include "server/domain/totp.h"
#include "server/domain/user_checks.h"
#include "server/domain/verification_codes.h"

namespace roster::domain {

using storage::SignInAttemptRecord;
using storage::SignInAttemptStatus;

absl::Status SignInAttemptService::PrepareSecondFactor(
    storage::WriteTransaction& txn, const Caller& caller,
    SignInAttemptRecord& attempt, absl::string_view strategy,
    const std::string& code, storage::Micros now, SignInAttemptView& view) {
  auto user = txn.GetUser(attempt.user_id);
  if (!user.ok()) {
    return user.status();
  }
  const storage::PhoneNumberRecord* phone = SecondFactorPhone(*user);
  if (strategy != kPhoneCodeStrategy || phone == nullptr) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat,
                 "strategy has no code to send for this sign-in",
                 {{"strategy",
                   "must be phone_code, when it is one of "
                   "supported_second_factors"}});
  }
  if (attempt.failures >= kMaxSignInFailures) {
    return internal::TooManySignInFailures();
  }
  absl::Status counted = CountCodeSend(
      txn, absl::StrCat("phone_number:", phone->phone_number), user->id, now);
  if (!counted.ok()) {
    return counted;
  }
  attempt.code_strategy = std::string(strategy);
  attempt.code_digest = DigestVerificationCode(code);
  attempt.code_expire_at =
      now + absl::ToInt64Microseconds(options_.verification_code_lifetime);
  attempt.updated_at = now;
  VerificationMessage message;
  message.identifier_id = phone->id;
  message.address = phone->phone_number;
  message.user_id = user->id;
  message.code = code;
  message.expire_at = attempt.code_expire_at;
  message.purpose = "second_factor";
  message.sign_in_attempt_id = attempt.id;
  absl::Status appended =
      txn.AppendEvent(NewEvent(caller, event_type::kSmsCreated, user->id,
                               events_->EncodeSmsMessage(message)));
  if (!appended.ok()) {
    return appended;
  }
  view = ViewOf(attempt, SecondFactorsOf(*user));
  return txn.PutSignInAttempt(attempt);
}

bool SignInAttemptService::NeedsSecondFactor(absl::string_view attempt_id) {
  bool second = false;
  (void)store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
    auto attempt =
        LoadOpen(txn, attempt_id, SignInAttemptStatus::kNeedsSecondFactor,
                 clock_->Now());
    second = attempt.ok();
    return absl::OkStatus();
  });
  return second;
}

absl::StatusOr<SignInStep> SignInAttemptService::AttemptSecondFactor(
    const Caller& caller, absl::string_view attempt_id,
    absl::string_view strategy, absl::string_view code) {
  const bool backup = strategy == kBackupCodeStrategy;
  const bool phone = strategy == kPhoneCodeStrategy;
  if (backup ? !IsWellFormedBackupCode(code) : !IsWellFormedTotpCode(code)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat, "code is malformed",
                 {{"code", backup ? "must be 10 lower-case letters and digits"
                                  : "must be 6 digits"}});
  }
  const auto load = [&](storage::WriteTransaction& txn,
                        absl::Time now) -> absl::StatusOr<SignInAttemptRecord> {
    auto attempt =
        LoadOpen(txn, attempt_id, SignInAttemptStatus::kNeedsSecondFactor, now);
    if (!attempt.ok()) {
      return attempt.status();
    }
    auto user = txn.GetUser(attempt->user_id);
    if (!user.ok()) {
      return user.status();
    }
    const auto factors = SecondFactorsOf(*user);
    if (std::find(factors.begin(), factors.end(), strategy) == factors.end()) {
      return Error(absl::StatusCode::kInvalidArgument,
                   reason::kInvalidArgumentFormat,
                   "strategy is not one of the user's second factors",
                   {{"strategy", "is not one of supported_second_factors"}});
    }
    if (attempt->failures >= kMaxSignInFailures) {
      return internal::TooManySignInFailures();
    }
    if (phone &&
        (attempt->code_strategy != strategy || attempt->code_digest.empty())) {
      return Error(absl::StatusCode::kFailedPrecondition,
                   reason::kNoVerificationPending,
                   "no code is pending for this strategy; prepare one first");
    }
    if (phone && ToMicros(now) >= attempt->code_expire_at) {
      return VerificationCodeExpired();
    }
    return attempt;
  };
  // 1. Reserve one failure, so parallel checks stop exactly at the limit.
  std::string user_id;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        const absl::Time now = clock_->Now();
        auto attempt = load(txn, now);
        if (!attempt.ok()) {
          return attempt.status();
        }
        attempt->failures += 1;
        attempt->updated_at = ToMicros(now);
        user_id = attempt->user_id;
        return txn.PutSignInAttempt(*attempt);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  // 2. Counted toward the user's lockout like a password.
  auto reservation = users_->passwords.BeginPasswordAttempt(caller, user_id);
  if (!reservation.ok()) {
    return reservation.status();
  }
  // 3. Check and use the code, give the failure back and complete, at once.
  bool verified = false;
  SignInStep step;
  written = store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
    const absl::Time now = clock_->Now();
    auto attempt =
        LoadOpen(txn, attempt_id, SignInAttemptStatus::kNeedsSecondFactor, now);
    if (!attempt.ok()) {
      return attempt.status();
    }
    if (phone) {
      // The code lives in the attempt; used up with it.
      verified = ToMicros(now) < attempt->code_expire_at &&
                 VerificationCodeMatches(code, attempt->code_digest);
      if (!verified) {
        return absl::OkStatus();
      }
      attempt->code_digest.clear();
    } else {
      auto user = txn.GetUser(attempt->user_id);
      if (!user.ok()) {
        return user.status();
      }
      auto matched = second_factors_->UseFactor(*user, strategy, code, now);
      if (!matched.ok()) {
        return matched.status();
      }
      if (!*matched) {
        return absl::OkStatus();  // Nothing to write: the failure stays.
      }
      verified = true;
      user->version += 1;
      user->updated_at = std::max(ToMicros(now), user->updated_at);
      absl::Status used = txn.UpdateUser(
          *user, NewEvent(caller, event_type::kUserUpdated, user->id,
                          events_->EncodeUser(View(*user))));
      if (!used.ok()) {
        return used;
      }
    }
    attempt->failures = std::max(0, attempt->failures - 1);
    return Complete(txn, caller, now, *attempt, step);
  });
  auto recorded = users_->passwords.FinishPasswordAttempt(
      caller, user_id, verified, /*sign_in=*/true, *reservation);
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  if (!recorded.ok()) {
    return recorded.status();
  }
  if (!verified) {
    return VerificationCodeIncorrect();
  }
  return step;
}

}  // namespace roster::domain

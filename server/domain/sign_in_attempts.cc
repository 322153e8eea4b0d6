#include "server/domain/sign_in_attempts.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/passwords.h"
#include "server/domain/sign_in.h"
#include "server/domain/user_checks.h"
#include "server/domain/verification_codes.h"

namespace roster::domain {
namespace {

using storage::IdentifierKind;
using storage::SignInAttemptRecord;
using storage::SignInAttemptStatus;

// Expired attempts stay (as ATTEMPT_STATE) this long before pruning.
constexpr absl::Duration kExpiredKept = absl::Hours(1);

constexpr char kPassword[] = "password";
constexpr char kResetEmail[] = "reset_password_email_code";
constexpr char kResetPhone[] = "reset_password_phone_code";

// DESIGN §10: by the identifier's kind only.
std::vector<std::string> FirstFactorsOf(IdentifierKind kind) {
  switch (kind) {
    case IdentifierKind::kEmailAddress:
      return {kPassword, "email_code", kResetEmail};
    case IdentifierKind::kPhoneNumber:
      return {kPassword, "phone_code", kResetPhone};
    default:
      return {kPassword};
  }
}

IdentifierKind KindOf(const SignInAttemptRecord& attempt) {
  auto parsed = ParseSignInIdentifier(attempt.identifier);
  return parsed.ok() ? parsed->kind : IdentifierKind::kUsername;
}

bool IsReset(absl::string_view strategy) {
  return strategy == kResetEmail || strategy == kResetPhone;
}

absl::Status StrategyNotSupported() {
  return Error(absl::StatusCode::kInvalidArgument,
               reason::kInvalidArgumentFormat,
               "strategy is not supported for this identifier",
               {{"strategy", "is not one of supported_first_factors"}});
}

}  // namespace

absl::Status internal::TooManySignInFailures() {
  return Error(absl::StatusCode::kResourceExhausted, reason::kTooManyAttempts,
               "too many failed factors; start a new sign-in");
}

SignInAttemptService::SignInAttemptService(
    storage::UserStore* store, const Clock* clock, const IdGenerator* ids,
    const EventEncoder* events, UserServiceOptions options, UserServices* users,
    SessionService* sessions, SecondFactorService* second_factors)
    : UserOperations(store, clock, ids, events, std::move(options)),
      users_(users),
      sessions_(sessions),
      second_factors_(second_factors) {}

SignInAttemptView SignInAttemptService::ViewOf(
    SignInAttemptRecord record, std::vector<std::string> second_factors) const {
  SignInAttemptView view;
  if (record.status == SignInAttemptStatus::kNeedsFirstFactor) {
    view.supported_first_factors = FirstFactorsOf(KindOf(record));
  }
  if (record.status == SignInAttemptStatus::kNeedsSecondFactor) {
    view.supported_second_factors = std::move(second_factors);
  }
  view.record = std::move(record);
  return view;
}

absl::StatusOr<SignInAttemptRecord> SignInAttemptService::LoadOpen(
    storage::WriteTransaction& txn, absl::string_view attempt_id,
    SignInAttemptStatus status, absl::Time now,
    std::optional<SignInAttemptStatus> or_status) const {
  if (!IsWellFormedId(attempt_id, kSignInAttemptIdPrefix)) {
    return Error(
        absl::StatusCode::kInvalidArgument, reason::kInvalidArgumentFormat,
        "sign_in_attempt_id is malformed",
        {{"sign_in_attempt_id", "must be a sign-in attempt id (sia_…)"}});
  }
  auto attempt = txn.GetSignInAttempt(attempt_id);
  if (absl::IsNotFound(attempt.status())) {
    return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                 "sign-in attempt not found");
  }
  if (!attempt.ok()) {
    return attempt.status();
  }
  if (ToMicros(now) >= attempt->expire_at) {
    return Error(absl::StatusCode::kFailedPrecondition, reason::kAttemptState,
                 "the sign-in attempt has expired; start a new one");
  }
  if (attempt->status != status && attempt->status != or_status) {
    return Error(absl::StatusCode::kFailedPrecondition, reason::kAttemptState,
                 "the call does not fit the sign-in attempt's status");
  }
  return attempt;
}

absl::StatusOr<SignInAttemptView> SignInAttemptService::Start(
    absl::string_view identifier) {
  auto parsed = ParseSignInIdentifier(identifier);
  if (identifier.size() > 512 || !parsed.ok()) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat, "identifier is malformed",
                 {{"identifier",
                   "must be an email address, an E.164 phone number or a "
                   "username"}});
  }
  auto user_id = FindSignInUser(*users_, *parsed);
  if (!user_id.ok()) {
    return user_id.status();
  }
  const absl::Time now = clock_->Now();
  SignInAttemptRecord attempt;
  attempt.id = ids_->New(kSignInAttemptIdPrefix);
  attempt.identifier = parsed->value;
  attempt.user_id = *user_id;
  attempt.created_at = attempt.updated_at = ToMicros(now);
  attempt.expire_at = ToMicros(now + kSignInAttemptLifetime);
  absl::Status written = store_->Write([&](storage::WriteTransaction& txn) {
    return txn.PutSignInAttempt(attempt);
  });
  if (!written.ok()) {
    return written;
  }
  return ViewOf(std::move(attempt));
}

absl::StatusOr<SignInAttemptView> SignInAttemptService::Prepare(
    const Caller& caller, absl::string_view attempt_id,
    absl::string_view strategy) {
  const absl::Time now = clock_->Now();
  const storage::Micros now_micros = ToMicros(now);
  const std::string code = NewVerificationCode();
  SignInAttemptView view;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto attempt =
            LoadOpen(txn, attempt_id, SignInAttemptStatus::kNeedsFirstFactor,
                     now, SignInAttemptStatus::kNeedsSecondFactor);
        if (!attempt.ok()) {
          return attempt.status();
        }
        if (attempt->status == SignInAttemptStatus::kNeedsSecondFactor) {
          return PrepareSecondFactor(txn, caller, *attempt, strategy, code,
                                     now_micros, view);
        }
        const IdentifierKind kind = KindOf(*attempt);
        const auto factors = FirstFactorsOf(kind);
        if (strategy == kPassword || std::find(factors.begin(), factors.end(),
                                               strategy) == factors.end()) {
          return StrategyNotSupported();
        }
        if (attempt->failures >= kMaxSignInFailures) {
          return internal::TooManySignInFailures();
        }
        // The same durable windows as every code to this address, counted for
        // unknown identifiers too, so the limits answer alike.
        const bool email = kind == IdentifierKind::kEmailAddress;
        absl::Status counted = CountCodeSend(
            txn,
            absl::StrCat(email ? "email_address:" : "phone_number:",
                         attempt->identifier),
            "", now_micros);
        if (!counted.ok()) {
          return counted;
        }
        attempt->code_strategy = std::string(strategy);
        attempt->code_digest = DigestVerificationCode(code);
        attempt->code_expire_at =
            now_micros +
            absl::ToInt64Microseconds(options_.verification_code_lifetime);
        attempt->updated_at = now_micros;
        if (!attempt->user_id.empty()) {
          VerificationMessage message;
          message.address = attempt->identifier;
          message.user_id = attempt->user_id;
          message.code = code;
          message.expire_at = attempt->code_expire_at;
          message.purpose = IsReset(strategy) ? "reset_password" : "sign_in";
          message.sign_in_attempt_id = attempt->id;
          absl::Status appended = txn.AppendEvent(NewEvent(
              caller,
              email ? event_type::kEmailCreated : event_type::kSmsCreated,
              attempt->user_id,
              email ? events_->EncodeEmailMessage(message)
                    : events_->EncodeSmsMessage(message)));
          if (!appended.ok()) {
            return appended;
          }
        } else {
          // In place of the event a known user's code appends: a row write of
          // about the same cost, so the two cannot be told apart by timing.
          auto stand_in = txn.CountVerificationSend(
              "sign_in:unknown_identifier_codes", now_micros,
              now_micros - absl::ToInt64Microseconds(absl::Hours(1)));
          if (!stand_in.ok()) {
            return stand_in.status();
          }
        }
        view = ViewOf(*attempt);
        return txn.PutSignInAttempt(*attempt);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return view;
}

absl::Status SignInAttemptService::Complete(storage::WriteTransaction& txn,
                                            const Caller& caller,
                                            absl::Time now,
                                            SignInAttemptRecord& attempt,
                                            SignInStep& step, bool stored) {
  auto user = txn.GetUser(attempt.user_id);
  if (!user.ok()) {
    return user.status();
  }
  if (user->banned) {
    return Error(absl::StatusCode::kPermissionDenied, reason::kUserBanned,
                 "the user is banned");
  }
  if (attempt.status != SignInAttemptStatus::kNeedsSecondFactor &&
      user->two_factor_enabled) {
    attempt.status = SignInAttemptStatus::kNeedsSecondFactor;
    attempt.code_digest.clear();
    attempt.code_strategy.clear();
    attempt.updated_at = ToMicros(now);
    step.attempt = ViewOf(attempt, SecondFactorsOf(*user));
    return txn.PutSignInAttempt(attempt);
  }
  auto session = sessions_->CreateSessionIn(txn, caller, *user, now);
  if (!session.ok()) {
    return session.status();
  }
  attempt.status = SignInAttemptStatus::kComplete;
  attempt.created_session_id = session->session.id;
  attempt.code_digest.clear();
  attempt.updated_at = ToMicros(now);
  if (stored) {
    absl::Status saved = txn.PutSignInAttempt(attempt);
    if (!saved.ok()) {
      return saved;
    }
  }
  user->last_sign_in_at = user->last_active_at = ToMicros(now);
  step.user = View(*std::move(user));
  step.session = *std::move(session);
  step.attempt = ViewOf(attempt);
  return absl::OkStatus();
}

absl::StatusOr<SignInStep> SignInAttemptService::CompleteSignIn(
    const Caller& caller, absl::string_view identifier,
    absl::string_view user_id) {
  auto parsed = ParseSignInIdentifier(identifier);
  if (!parsed.ok()) {
    return parsed.status();
  }
  SignInStep step;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        const absl::Time now = clock_->Now();
        SignInAttemptRecord attempt;
        attempt.id = ids_->New(kSignInAttemptIdPrefix);
        attempt.identifier = parsed->value;
        attempt.user_id = std::string(user_id);
        attempt.created_at = attempt.updated_at = ToMicros(now);
        attempt.expire_at = ToMicros(now + kSignInAttemptLifetime);
        absl::Status completed =
            Complete(txn, caller, now, attempt, step, /*stored=*/false);
        if (step.session.has_value()) {
          // Without a second factor the attempt is never stored: SignIn
          // answers COMPLETE with no attempt, as before attempts existed.
          step.attempt = {};
        }
        return completed;
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return step;
}

absl::StatusOr<SignInStep> SignInAttemptService::Attempt(
    const Caller& caller, absl::string_view attempt_id,
    absl::string_view strategy, absl::string_view secret) {
  if (strategy == kTotpStrategy || strategy == kBackupCodeStrategy ||
      (strategy == kPhoneCodeStrategy && NeedsSecondFactor(attempt_id))) {
    return AttemptSecondFactor(caller, attempt_id, strategy, secret);
  }
  const bool password = strategy == kPassword;
  if (password ? secret.size() > kMaxPasswordBytes
               : !IsWellFormedVerificationCode(secret)) {
    return Error(
        absl::StatusCode::kInvalidArgument, reason::kInvalidArgumentFormat,
        password ? "password is too long" : "code is malformed",
        {{password ? "password" : "code",
          password ? "must be at most 256 bytes" : "must be 6 digits"}});
  }
  // 1. Reserve one failure, so parallel checks stop exactly at the limit.
  SignInAttemptRecord reserved;
  absl::Status written = store_->Write([&](storage::WriteTransaction& txn)
                                           -> absl::Status {
    const absl::Time now = clock_->Now();
    auto attempt =
        LoadOpen(txn, attempt_id, SignInAttemptStatus::kNeedsFirstFactor, now);
    if (!attempt.ok()) {
      return attempt.status();
    }
    const auto factors = FirstFactorsOf(KindOf(*attempt));
    if (std::find(factors.begin(), factors.end(), strategy) == factors.end()) {
      return StrategyNotSupported();
    }
    if (attempt->failures >= kMaxSignInFailures) {
      return internal::TooManySignInFailures();
    }
    if (!password) {
      if (attempt->code_strategy != strategy || attempt->code_digest.empty()) {
        return Error(absl::StatusCode::kFailedPrecondition,
                     reason::kNoVerificationPending,
                     "no code is pending for this strategy; prepare one first");
      }
      if (ToMicros(now) >= attempt->code_expire_at) {
        return VerificationCodeExpired();
      }
    }
    attempt->failures += 1;
    attempt->updated_at = ToMicros(now);
    reserved = *attempt;
    return txn.PutSignInAttempt(*attempt);
  });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  // 2. The check, counted toward the user's lockout; an unknown identifier
  // pays the same durable write and hash.
  bool verified = false;
  if (reserved.user_id.empty()) {
    absl::Status counted = users_->passwords.CountUnknownIdentifierAttempt(
        KindOf(reserved), reserved.identifier);
    if (!counted.ok()) {
      return counted;
    }
    if (password) {
      VerifyNothing(secret);
    } else {
      (void)VerificationCodeMatches(secret, reserved.code_digest);
    }
  } else if (password) {
    auto checked = CheckPasswordAttempt(*users_, caller, reserved.user_id,
                                        secret, /*sign_in=*/true);
    if (!checked.ok()) {
      return checked.status();
    }
    verified = *checked;
  } else {
    // A banned user's wrong code reads as anyone's; a right one reaches
    // Complete, which refuses them (USER_BANNED).
    auto reservation = users_->passwords.BeginPasswordAttempt(
        caller, reserved.user_id, /*refuse_banned=*/false);
    if (!reservation.ok()) {
      return reservation.status();
    }
    verified = VerificationCodeMatches(secret, reserved.code_digest);
    auto recorded = users_->passwords.FinishPasswordAttempt(
        caller, reserved.user_id, verified,
        /*sign_in=*/!IsReset(strategy) && !reservation->two_factor_enabled &&
            !reservation->banned,
        *reservation);
    if (!recorded.ok()) {
      return recorded.status();
    }
  }
  if (!verified) {
    return password ? Error(absl::StatusCode::kUnauthenticated,
                            reason::kPasswordIncorrect,
                            "the identifier or the password is incorrect")
                    : VerificationCodeIncorrect();
  }
  // 3. Give the failure back and move on.
  SignInStep step;
  written = store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
    const absl::Time now = clock_->Now();
    auto attempt =
        LoadOpen(txn, attempt_id, SignInAttemptStatus::kNeedsFirstFactor, now);
    if (!attempt.ok()) {
      return attempt.status();
    }
    attempt->failures = std::max(0, attempt->failures - 1);
    if (IsReset(strategy)) {
      attempt->status = SignInAttemptStatus::kNeedsNewPassword;
      attempt->code_digest.clear();
      attempt->updated_at = ToMicros(now);
      step.attempt = ViewOf(*attempt);
      return txn.PutSignInAttempt(*attempt);
    }
    return Complete(txn, caller, now, *attempt, step);
  });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return step;
}

absl::StatusOr<std::string> SignInAttemptService::HashNewPassword(
    absl::string_view attempt_id, absl::string_view password) {
  std::string user_id;
  absl::Status read =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto attempt =
            LoadOpen(txn, attempt_id, SignInAttemptStatus::kNeedsNewPassword,
                     clock_->Now());
        if (!attempt.ok()) {
          return attempt.status();
        }
        user_id = attempt->user_id;
        return absl::OkStatus();
      });
  if (!read.ok()) {
    return internal::FromStore(read);
  }
  return users_->passwords.HashPasswordForUser(user_id, password, false);
}

absl::StatusOr<SignInStep> SignInAttemptService::ResetPassword(
    const Caller& caller, absl::string_view attempt_id,
    const std::string& password_hash, bool sign_out_of_other_sessions) {
  SignInStep step;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        const absl::Time now = clock_->Now();
        auto attempt = LoadOpen(txn, attempt_id,
                                SignInAttemptStatus::kNeedsNewPassword, now);
        if (!attempt.ok()) {
          return attempt.status();
        }
        auto user = txn.GetUser(attempt->user_id);
        if (!user.ok()) {
          return user.status();
        }
        // The reset proves the address: it ends any lockout, as UnlockUser
        // would.
        user->password_hash = password_hash;
        user->failed_password_attempts = 0;
        user->locked_until = 0;
        user->version += 1;
        user->updated_at = std::max(ToMicros(now), user->updated_at);
        absl::Status updated = txn.UpdateUser(
            *user, NewEvent(caller, event_type::kUserUpdated, user->id,
                            events_->EncodeUser(View(*user))));
        if (!updated.ok()) {
          return updated;
        }
        if (sign_out_of_other_sessions) {
          absl::Status revoked =
              RevokeSessions(txn, caller, user->id, "", now, *ids_, *events_);
          if (!revoked.ok()) {
            return revoked;
          }
        }
        return Complete(txn, caller, now, *attempt, step);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return step;
}

absl::StatusOr<int64_t> SignInAttemptService::Prune(int64_t max_rows) {
  const storage::Micros cutoff = ToMicros(clock_->Now() - kExpiredKept);
  auto attempts = PruneBatch([&](storage::WriteTransaction& txn) {
    return txn.PruneSignInAttempts(cutoff, max_rows);
  });
  if (!attempts.ok()) {
    return attempts;
  }
  auto tickets = PruneBatch([&](storage::WriteTransaction& txn) {
    return txn.PruneSignInTickets(cutoff, max_rows);
  });
  if (!tickets.ok()) {
    return tickets;
  }
  return *attempts + *tickets;
}

}  // namespace roster::domain

// UserService's password operations: hashing off the write thread, and password
// attempts that count toward the lockout before the slow check runs.
#include <algorithm>
#include <utility>

#include "server/domain/errors.h"
#include "server/domain/lockout.h"
#include "server/domain/passwords.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_service.h"
#include "server/domain/validation.h"

namespace roster::domain {

using internal::CheckUserId;
using internal::FromStore;
using internal::IdentifiersOf;

namespace {

absl::Status UserLocked() {
  return Error(absl::StatusCode::kPermissionDenied, reason::kUserLocked,
               "the user is locked after too many failed password attempts");
}

}  // namespace

absl::StatusOr<std::string> PasswordService::HashPasswordForNewUser(
    const CreateUserParams& params) const {
  if (!params.password.has_value()) {
    return std::string();
  }
  // Identifiers as they will be stored; invalid ones are reported by CreateUser
  // itself.
  std::vector<std::string> identifiers;
  for (const auto& e : params.email_addresses) {
    identifiers.push_back(NormalizeEmailAddress(e).value_or(""));
  }
  for (const auto& p : params.phone_numbers) {
    identifiers.push_back(NormalizePhoneNumber(p).value_or(""));
  }
  if (params.username.has_value()) {
    identifiers.push_back(NormalizeUsername(*params.username).value_or(""));
  }
  absl::Status ok = CheckNewPassword(*params.password,
                                     params.skip_password_checks, identifiers);
  if (!ok.ok()) {
    return ok;
  }
  return HashPassword(*params.password);
}

absl::StatusOr<std::string> PasswordService::HashPasswordForUser(
    absl::string_view user_id, absl::string_view password, bool skip_checks) {
  auto user = ReadUser(user_id);
  if (!user.ok()) {
    return user.status();
  }
  absl::Status ok =
      CheckNewPassword(password, skip_checks, IdentifiersOf(user->record));
  if (!ok.ok()) {
    return ok;
  }
  return HashPassword(password);
}

absl::Status PasswordService::WriteLockChange(storage::WriteTransaction& txn,
                                              const Caller& caller,
                                              storage::UserRecord& user) const {
  user.version += 1;
  user.updated_at = std::max(ToMicros(clock_->Now()), user.updated_at);
  return txn.UpdateUser(user,
                        NewEvent(caller, event_type::kUserUpdated, user.id,
                                 events_->EncodeUser(View(user))));
}

absl::StatusOr<PasswordAttempt> PasswordService::BeginPasswordAttempt(
    const Caller& caller, absl::string_view user_id, bool refuse_banned) {
  absl::Status valid = CheckUserId(user_id);
  if (!valid.ok()) {
    return valid;
  }
  PasswordAttempt attempt;
  bool locked_now = false;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = txn.GetUser(user_id);
        if (!user.ok()) {
          return user.status();
        }
        const storage::Micros now = ToMicros(clock_->Now());
        if (user->banned && refuse_banned) {
          return Error(absl::StatusCode::kPermissionDenied, reason::kUserBanned,
                       "the user is banned");
        }
        FailureCount count{user->failed_password_attempts, user->locked_until,
                           user->last_failed_password_at};
        const Reservation reservation = ReserveCheck(count, now, options_);
        if (reservation == Reservation::kRefused) {
          return UserLocked();
        }
        user->failed_password_attempts = count.failures;
        user->locked_until = count.locked_until;
        user->last_failed_password_at = count.last_failed_at;
        if (reservation == Reservation::kLockedNow) {
          locked_now = true;
          return WriteLockChange(txn, caller, *user);
        }
        attempt = {user->id, user->password_hash, 0, user->two_factor_enabled,
                   user->banned};
        if (reservation == Reservation::kLastOne) {
          attempt.locked_until = count.locked_until;
          return WriteLockChange(txn, caller, *user);
        }
        return txn.UpdateSignInState(
            user->id, {count.failures, count.locked_until, count.last_failed_at,
                       user->last_sign_in_at, user->last_active_at});
      });
  if (!written.ok()) {
    return FromStore(written);
  }
  if (locked_now) {
    return UserLocked();
  }
  return attempt;
}

absl::Status PasswordService::CountUnknownIdentifierAttempt(
    storage::IdentifierKind kind, absl::string_view value) {
  const storage::Micros now = ToMicros(clock_->Now());
  const std::string key = UnknownIdentifierKey(kind, value);
  bool refused = false;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto record = txn.GetSignInFailures(key);
        if (!record.ok()) {
          return record.status();
        }
        FailureCount count{record->failures, record->locked_until,
                           record->last_failed_at};
        const Reservation reservation = ReserveCheck(count, now, options_);
        if (reservation == Reservation::kRefused) {
          refused = true;  // As a locked user's: nothing written.
          return absl::OkStatus();
        }
        refused = reservation == Reservation::kLockedNow;
        return txn.PutSignInFailures(
            {key, count.failures, count.locked_until, count.last_failed_at},
            now - absl::ToInt64Microseconds(options_.lockout_duration));
      });
  if (!written.ok()) {
    return FromStore(written);
  }
  return refused ? UserLocked() : absl::OkStatus();
}

absl::StatusOr<UserView> PasswordService::FinishPasswordAttempt(
    const Caller& caller, absl::string_view user_id, bool verified,
    bool sign_in, const PasswordAttempt& attempt,
    const std::string& upgraded_hash) {
  if (!verified) {
    // Counted, and for the last attempt locked, when reserved: nothing to
    // read or write (a read here would be work an unknown identifier's
    // failure does not do, and a difference in time).
    return UserView{};
  }
  storage::UserRecord result;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = txn.GetUser(user_id);
        if (!user.ok()) {
          return user.status();
        }
        const storage::Micros now = ToMicros(clock_->Now());
        user->failed_password_attempts = 0;
        if (sign_in) {
          user->last_sign_in_at = now;
          user->last_active_at = now;
        }
        if (!upgraded_hash.empty()) {
          absl::Status replaced = txn.ReplacePasswordHash(
              user->id, attempt.password_hash, upgraded_hash);
          if (!replaced.ok()) {
            return replaced;
          }
          if (user->password_hash == attempt.password_hash) {
            user->password_hash = upgraded_hash;
          }
        }
        // A right password lifts the lockout its own reservation set, not
        // one set since (LockUser).
        if (attempt.locked_until != 0 &&
            user->locked_until == attempt.locked_until) {
          user->locked_until = 0;
          result = *user;
          return WriteLockChange(txn, caller, result);
        }
        result = *user;
        return txn.UpdateSignInState(
            user->id, {0, user->locked_until, user->last_failed_password_at,
                       user->last_sign_in_at, user->last_active_at});
      });
  if (!written.ok()) {
    return FromStore(written);
  }
  return View(std::move(result));
}

}  // namespace roster::domain

// UserService's password operations: hashing off the write thread, and password
// attempts that count toward the lockout before the slow check runs.
#include <algorithm>
#include <utility>

#include "server/domain/errors.h"
#include "server/domain/passwords.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_service.h"
#include "server/domain/validation.h"

namespace roster::domain {

using internal::CheckUserId;
using internal::FromStore;
using internal::IdentifiersOf;

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

absl::StatusOr<PasswordAttempt> PasswordService::BeginPasswordAttempt(
    absl::string_view user_id) {
  absl::Status valid = CheckUserId(user_id);
  if (!valid.ok()) {
    return valid;
  }
  PasswordAttempt attempt;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = txn.GetUser(user_id);
        if (!user.ok()) {
          return user.status();
        }
        const storage::Micros now = ToMicros(clock_->Now());
        if (user->banned) {
          return Error(absl::StatusCode::kPermissionDenied, reason::kUserBanned,
                       "the user is banned");
        }
        if (user->locked_until > now) {
          return Error(
              absl::StatusCode::kPermissionDenied, reason::kUserLocked,
              "the user is locked after too many failed password attempts");
        }
        // A lockout that has run out starts a fresh count.
        const bool expired = user->locked_until != 0;
        int32_t failed = expired ? 0 : user->failed_password_attempts;
        if (failed >= options_.lockout_attempts) {
          // Every attempt is taken by checks still running: no more guesses
          // until they resolve.
          return Error(absl::StatusCode::kPermissionDenied, reason::kUserLocked,
                       "too many password attempts are in progress");
        }
        absl::Status reserved =
            txn.UpdateSignInState(user->id, failed + 1, /*locked_until=*/0,
                                  user->last_sign_in_at, user->last_active_at);
        if (!reserved.ok()) {
          return reserved;
        }
        attempt = {user->id, user->password_hash};
        return absl::OkStatus();
      });
  if (!written.ok()) {
    return FromStore(written);
  }
  return attempt;
}

absl::StatusOr<UserView> PasswordService::FinishPasswordAttempt(
    const Caller& caller, absl::string_view user_id, bool verified,
    bool sign_in, const PasswordAttempt& attempt,
    const std::string& upgraded_hash) {
  if (!verified) {
    const storage::Micros until =
        ToMicros(clock_->Now() + options_.lockout_duration);
    // The attempt was counted when reserved; lock once none are left.
    return MutateUser(
        caller, user_id, "",
        [&](storage::WriteTransaction&, storage::UserRecord& user) {
          if (user.failed_password_attempts >= options_.lockout_attempts &&
              user.locked_until == 0) {
            user.locked_until = until;
          }
          return absl::OkStatus();
        });
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
        result = *user;
        return txn.UpdateSignInState(user->id, 0, user->locked_until,
                                     user->last_sign_in_at,
                                     user->last_active_at);
      });
  if (!written.ok()) {
    return FromStore(written);
  }
  return View(std::move(result));
}

}  // namespace roster::domain

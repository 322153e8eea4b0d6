#include "server/domain/user_operations.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/identifier_kind.h"
#include "server/domain/lockout.h"
#include "server/domain/second_factors.h"
#include "server/domain/user_checks.h"

namespace roster::domain {

using internal::CheckUserId;
using internal::FromStore;
using internal::Kind;
using internal::LoadForChange;
using storage::VerificationStatus;

std::string EtagOf(int64_t version) {
  return absl::StrCat("\"", version, "\"");
}

std::string PrimaryIdentifierOf(const storage::UserRecord& user) {
  for (const auto& email : user.email_addresses) {
    if (email.id == user.primary_email_address_id) {
      return email.email_address;
    }
  }
  if (!user.username.empty()) {
    return user.username;
  }
  for (const auto& phone : user.phone_numbers) {
    if (phone.id == user.primary_phone_number_id) {
      return phone.phone_number;
    }
  }
  return "";
}

storage::Micros ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(storage::Micros micros) {
  return absl::FromUnixMicros(micros);
}

UserOperations::UserOperations(storage::UserStore* store, const Clock* clock,
                               const IdGenerator* ids,
                               const EventEncoder* events,
                               UserServiceOptions options)
    : store_(store),
      clock_(clock),
      ids_(ids),
      events_(events),
      options_(std::move(options)) {}

storage::EventRecord UserOperations::NewEvent(const Caller& caller,
                                              const char* type,
                                              const std::string& user_id,
                                              std::string payload) const {
  storage::EventRecord event;
  event.id = ids_->New(kEventIdPrefix);
  event.type = type;
  event.user_id = user_id;
  event.created_at = ToMicros(clock_->Now());
  event.payload = std::move(payload);
  event.request_id = caller.request_id;
  event.actor = caller.actor;
  return event;
}

absl::StatusOr<UserView> UserOperations::ReadUser(
    absl::string_view user_id) const {
  absl::Status valid = CheckUserId(user_id);
  if (!valid.ok()) {
    return valid;
  }
  auto user = store_->GetUser(user_id);
  if (!user.ok()) {
    return FromStore(user.status());
  }
  return View(*std::move(user));
}

void UserOperations::ReadUserAsync(absl::string_view user_id,
                                   ReadUserDone done) const {
  absl::Status valid = CheckUserId(user_id);
  if (!valid.ok()) {
    std::move(done)(std::move(valid));
    return;
  }
  store_->GetUserAsync(user_id,
                       [this, done = std::move(done)](
                           absl::StatusOr<storage::UserRecord> user) mutable {
                         if (!user.ok()) {
                           std::move(done)(FromStore(user.status()));
                         } else {
                           std::move(done)(View(*std::move(user)));
                         }
                       });
}

UserView UserOperations::View(storage::UserRecord record) const {
  UserView view;
  const storage::Micros now = ToMicros(clock_->Now());
  view.locked = record.locked_until > now;
  if (view.locked) {
    constexpr int64_t kMicrosPerSecond = 1'000'000;
    view.lockout_expires_in_seconds =
        (record.locked_until - now + kMicrosPerSecond - 1) / kMicrosPerSecond;
  }
  view.verification_attempts_remaining = std::max(
      0, options_.lockout_attempts -
             FailuresAt({record.failed_password_attempts, record.locked_until,
                         record.last_failed_password_at},
                        now, options_));
  view.etag = EtagOf(record.version);
  view.record = std::move(record);
  if (!view.record.image_url.empty()) {
    view.record.image_url =
        AbsoluteImageUrl(options_.public_http_url, view.record.image_url);
  }
  return view;
}

absl::StatusOr<UserView> UserOperations::MutateUser(
    const Caller& caller, absl::string_view user_id, absl::string_view etag,
    absl::FunctionRef<absl::Status(storage::WriteTransaction&,
                                   storage::UserRecord&)>
        change) {
  absl::Status valid = CheckUserId(user_id);
  if (!valid.ok()) {
    return valid;
  }
  storage::UserRecord result;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        return MutateUserIn(txn, caller, user_id, etag, change, result);
      });
  if (!written.ok()) {
    return FromStore(written);
  }
  return View(std::move(result));
}

absl::Status UserOperations::MutateUserIn(
    storage::WriteTransaction& txn, const Caller& caller,
    absl::string_view user_id, absl::string_view etag,
    absl::FunctionRef<absl::Status(storage::WriteTransaction&,
                                   storage::UserRecord&)>
        change,
    storage::UserRecord& result) {
  auto user = LoadForChange(txn, user_id, etag);
  if (!user.ok()) {
    return user.status();
  }
  const storage::UserRecord before = *user;
  absl::Status changed = change(txn, *user);
  if (!changed.ok()) {
    return changed;
  }
  // A user who removes their own last app or second-factor phone turns
  // two-step verification off, so the backup codes that stood in for it go
  // too: they could not be renewed, and the user could not remove them. A
  // backend removing a factor the user lost (DeleteUserTotp) leaves them.
  if (caller.actor == UserActor(user->id) &&
      HasFactorBeyondBackupCodes(before) &&
      !HasFactorBeyondBackupCodes(*user)) {
    user->backup_codes.clear();
  }
  // A phone verified, reserved or removed may change the second factors.
  RefreshTwoFactor(*user, ToMicros(clock_->Now()));
  if (*user == before) {
    result = *std::move(user);  // Nothing changed: no write, the etag stays.
    return absl::OkStatus();
  }
  absl::Status released = ReleaseClaims(txn, caller, before, *user);
  if (!released.ok()) {
    return released;
  }
  user->version += 1;
  user->updated_at = std::max(ToMicros(clock_->Now()), before.updated_at);
  absl::Status updated =
      txn.UpdateUser(*user, NewEvent(caller, event_type::kUserUpdated, user->id,
                                     events_->EncodeUser(View(*user))));
  if (!updated.ok()) {
    return updated;
  }
  result = *std::move(user);
  return absl::OkStatus();
}

absl::Status UserOperations::CountCodeSend(storage::WriteTransaction& txn,
                                           const std::string& address_key,
                                           const std::string& user_id,
                                           storage::Micros now) const {
  const struct {
    std::string key;
    int32_t limit;
    const char* what;
  } budgets[] = {
      {address_key, options_.verification_codes_per_hour, "this address"},
      {user_id.empty() ? "" : absl::StrCat("user:", user_id),
       options_.verification_codes_per_user_per_hour, "this user"},
      {"all", options_.verification_codes_per_hour_total, "this service"},
  };
  for (const auto& budget : budgets) {
    if (budget.key.empty()) {
      continue;
    }
    auto sends = txn.CountVerificationSend(
        budget.key, now, now - absl::ToInt64Microseconds(absl::Hours(1)));
    if (!sends.ok()) {
      return sends.status();
    }
    if (*sends > budget.limit) {
      return TooManyAttempts(
          absl::StrCat("too many codes sent for ", budget.what,
                       "; try again within the hour"),
          absl::Hours(1));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> UserOperations::PruneBatch(
    absl::FunctionRef<absl::StatusOr<int64_t>(storage::WriteTransaction&)>
        prune) {
  int64_t pruned = 0;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto deleted = prune(txn);
        if (!deleted.ok()) {
          return deleted.status();
        }
        pruned = *deleted;
        return absl::OkStatus();
      });
  if (!written.ok()) {
    return written;
  }
  return pruned;
}

absl::Status UserOperations::ReleaseClaims(storage::WriteTransaction& txn,
                                           const Caller& caller,
                                           const storage::UserRecord& before,
                                           const storage::UserRecord& after) {
  constexpr auto kVerified = VerificationStatus::kVerified;
  auto release = [&](auto tag) -> absl::Status {
    using Record = decltype(tag);
    using K = Kind<Record>;
    const auto& before_list = K::List(before);
    for (const Record& r : K::List(after)) {
      if (r.verification.status != kVerified) {
        continue;
      }
      const bool was_verified = std::any_of(
          before_list.begin(), before_list.end(), [&](const Record& b) {
            return K::Value(b) == K::Value(r) &&
                   b.verification.status == kVerified;
          });
      if (was_verified) {
        continue;
      }
      auto claimants = txn.FindUnverifiedClaimants(K::kStoreKind, K::Value(r));
      if (!claimants.ok()) {
        return claimants.status();
      }
      for (const std::string& loser_id : *claimants) {
        if (loser_id == after.id) {
          continue;
        }
        auto loser = txn.GetUser(loser_id);
        if (!loser.ok()) {
          return loser.status();
        }
        auto& list = K::List(*loser);
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [&](const Record& claim) {
                                    return K::Value(claim) == K::Value(r) &&
                                           claim.verification.status !=
                                               kVerified;
                                  }),
                   list.end());
        loser->version += 1;
        loser->updated_at =
            std::max(ToMicros(clock_->Now()), loser->updated_at);
        absl::Status updated = txn.UpdateUser(
            *loser, NewEvent(caller, event_type::kUserUpdated, loser->id,
                             events_->EncodeUser(View(*loser))));
        if (!updated.ok()) {
          return updated;
        }
      }
    }
    return absl::OkStatus();
  };
  absl::Status emails = release(storage::EmailAddressRecord{});
  if (!emails.ok()) {
    return emails;
  }
  return release(storage::PhoneNumberRecord{});
}

}  // namespace roster::domain

#include "server/domain/second_factors.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/ids.h"
#include "server/domain/totp.h"
#include "server/domain/verification_codes.h"

namespace roster::domain {
namespace {

std::string TotpContext(absl::string_view user_id) {
  return absl::StrCat("totp:", user_id);
}

absl::Status MalformedCode(absl::string_view expected) {
  return Error(absl::StatusCode::kInvalidArgument,
               reason::kInvalidArgumentFormat, "code is malformed",
               {{"code", std::string(expected)}});
}

absl::Status NoTotp() {
  return Error(absl::StatusCode::kNotFound, reason::kNotFound,
               "the user has no verified authenticator app");
}

void ClearTotp(storage::UserRecord& user) {
  user.totp_secret.clear();
  user.totp_key_id.clear();
  user.totp_enabled = false;
  user.totp_last_step = 0;
}

}  // namespace

const storage::PhoneNumberRecord* SecondFactorPhone(
    const storage::UserRecord& user) {
  const storage::PhoneNumberRecord* found = nullptr;
  for (const auto& phone : user.phone_numbers) {
    if (phone.reserved_for_second_factor &&
        phone.verification.status == storage::VerificationStatus::kVerified &&
        (found == nullptr || phone.default_second_factor)) {
      found = &phone;
    }
  }
  return found;
}

std::vector<std::string> SecondFactorsOf(const storage::UserRecord& user) {
  std::vector<std::string> factors;
  if (user.totp_enabled) {
    factors.push_back(kTotpStrategy);
  }
  if (SecondFactorPhone(user) != nullptr) {
    factors.push_back(kPhoneCodeStrategy);
  }
  if (!user.backup_codes.empty()) {
    factors.push_back(kBackupCodeStrategy);
  }
  return factors;
}

bool HasFactorBeyondBackupCodes(const storage::UserRecord& user) {
  return user.totp_enabled || SecondFactorPhone(user) != nullptr;
}

void RefreshTwoFactor(storage::UserRecord& user, storage::Micros now) {
  const bool enabled = !SecondFactorsOf(user).empty();
  if (enabled && !user.two_factor_enabled) {
    user.mfa_enabled_at = now;
  } else if (!enabled && user.two_factor_enabled) {
    user.mfa_disabled_at = now;
  }
  user.two_factor_enabled = enabled;
}

SecondFactorService::SecondFactorService(
    storage::UserStore* store, const Clock* clock, const IdGenerator* ids,
    const EventEncoder* events, UserServiceOptions options,
    const DataKeys* keys, std::string totp_issuer, PasswordService* passwords)
    : UserOperations(store, clock, ids, events, std::move(options)),
      keys_(keys),
      totp_issuer_(std::move(totp_issuer)),
      passwords_(passwords) {}

absl::Status SecondFactorService::CheckKeys() const {
  if (keys_ == nullptr || keys_->empty()) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 reason::kDataKeysMissing,
                 "this server has no --data_keys_file to store an "
                 "authenticator secret with");
  }
  return absl::OkStatus();
}

absl::StatusOr<TotpView> SecondFactorService::CreateTotp(
    const Caller& caller, absl::string_view user_id) {
  absl::Status ready = CheckKeys();
  if (!ready.ok()) {
    return ready;
  }
  const std::string secret = NewTotpSecret();
  auto sealed = keys_->Seal(secret, TotpContext(user_id));
  if (!sealed.ok()) {
    return sealed.status();
  }
  TotpView view;
  auto changed = MutateUser(
      caller, user_id, "",
      [&](storage::WriteTransaction&, storage::UserRecord& user) {
        if (user.totp_enabled) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kTotpExists,
                       "an authenticator app is already verified; delete it "
                       "first");
        }
        user.totp_secret = *sealed;
        user.totp_key_id = keys_->sealing_key_id();
        user.totp_last_step = 0;
        view.secret = Base32Encode(secret);
        const std::string account = PrimaryIdentifierOf(user);
        view.uri =
            TotpUri(secret, totp_issuer_, account.empty() ? user.id : account);
        return absl::OkStatus();
      });
  if (!changed.ok()) {
    return changed.status();
  }
  auto svg = QrCodeSvg(view.uri);
  if (!svg.ok()) {
    return svg.status();
  }
  view.qr_code_svg = *std::move(svg);
  return view;
}

absl::StatusOr<TotpView> SecondFactorService::VerifyTotp(
    const Caller& caller, absl::string_view user_id, absl::string_view code) {
  if (!IsWellFormedTotpCode(code)) {
    return MalformedCode("must be 6 digits");
  }
  const absl::Time now = clock_->Now();
  auto changed = MutateUser(
      caller, user_id, "",
      [&](storage::WriteTransaction&,
          storage::UserRecord& user) -> absl::Status {
        if (user.totp_enabled) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kTotpExists,
                       "the authenticator app is already verified");
        }
        if (user.totp_secret.empty()) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kNoVerificationPending,
                       "no authenticator app is pending; call CreateMyTotp");
        }
        auto matched = UseFactor(user, kTotpStrategy, code, now);
        if (!matched.ok()) {
          return matched.status();
        }
        if (!*matched) {
          return VerificationCodeIncorrect();
        }
        user.totp_enabled = true;
        RefreshTwoFactor(user, ToMicros(now));
        return absl::OkStatus();
      });
  if (!changed.ok()) {
    return changed.status();
  }
  TotpView view;
  view.verified = true;
  return view;
}

absl::StatusOr<UserView> SecondFactorService::DeleteTotp(
    const Caller& caller, absl::string_view user_id, absl::string_view code) {
  const bool totp = IsWellFormedTotpCode(code);
  if (!totp && !IsWellFormedBackupCode(code)) {
    return MalformedCode(
        "must be 6 digits, or a backup code of 10 letters and digits");
  }
  auto current = ReadUser(user_id);
  if (!current.ok()) {
    return current.status();
  }
  if (!current->record.totp_enabled) {
    return NoTotp();
  }
  // Counted like a password: a stolen session cannot guess its way to
  // removing the factor.
  auto attempt = passwords_->BeginPasswordAttempt(caller, user_id);
  if (!attempt.ok()) {
    return attempt.status();
  }
  const absl::Time now = clock_->Now();
  bool verified = false;
  auto changed = MutateUser(
      caller, user_id, "",
      [&](storage::WriteTransaction&,
          storage::UserRecord& user) -> absl::Status {
        if (!user.totp_enabled) {
          return NoTotp();
        }
        auto matched = UseFactor(
            user, totp ? kTotpStrategy : kBackupCodeStrategy, code, now);
        if (!matched.ok()) {
          return matched.status();
        }
        if (!*matched) {
          return VerificationCodeIncorrect();
        }
        verified = true;
        ClearTotp(user);
        RefreshTwoFactor(user, ToMicros(now));
        return absl::OkStatus();
      });
  auto recorded =
      passwords_->FinishPasswordAttempt(caller, user_id, verified,
                                        /*sign_in=*/false, *attempt);
  if (!changed.ok()) {
    return changed.status();
  }
  if (!recorded.ok()) {
    return recorded.status();
  }
  return recorded;
}

absl::StatusOr<std::vector<std::string>> SecondFactorService::CreateBackupCodes(
    const Caller& caller, absl::string_view user_id) {
  std::vector<std::string> codes = NewBackupCodes();
  std::vector<std::string> digests;
  digests.reserve(codes.size());
  for (const auto& code : codes) {
    digests.push_back(DigestVerificationCode(code));
  }
  const storage::Micros now = ToMicros(clock_->Now());
  auto changed = MutateUser(
      caller, user_id, "",
      [&](storage::WriteTransaction&,
          storage::UserRecord& user) -> absl::Status {
        if (!HasFactorBeyondBackupCodes(user)) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kSecondFactorRequired,
                       "backup codes stand in for another second factor: "
                       "verify an authenticator app or a second-factor phone "
                       "first");
        }
        user.backup_codes = absl::StrJoin(digests, " ");
        RefreshTwoFactor(user, now);
        return absl::OkStatus();
      });
  if (!changed.ok()) {
    return changed.status();
  }
  return codes;
}

absl::StatusOr<IdentifierView> SecondFactorService::UpdatePhone(
    const Caller& caller, absl::string_view user_id,
    absl::string_view phone_number_id,
    std::optional<bool> reserved_for_second_factor,
    std::optional<bool> default_second_factor) {
  if (!IsWellFormedId(phone_number_id, kIdentifierIdPrefix)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat, "phone_number_id is malformed",
                 {{"phone_number_id", "must be a phone number id (idn_…)"}});
  }
  auto changed = MutateUser(
      caller, user_id, "",
      [&](storage::WriteTransaction&,
          storage::UserRecord& user) -> absl::Status {
        auto phone = std::find_if(
            user.phone_numbers.begin(), user.phone_numbers.end(),
            [&](const auto& p) { return p.id == phone_number_id; });
        if (phone == user.phone_numbers.end()) {
          return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                       "phone number not found");
        }
        bool reserved = reserved_for_second_factor.value_or(
            phone->reserved_for_second_factor);
        bool is_default =
            default_second_factor.value_or(phone->default_second_factor);
        if (default_second_factor.value_or(false)) {
          reserved = true;  // The default is one of the second factors.
        }
        if (!reserved) {
          is_default = false;
        }
        if (reserved && phone->verification.status !=
                            storage::VerificationStatus::kVerified) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kIdentifierNotVerified,
                       "only a verified phone number can be a second factor");
        }
        const storage::Micros now = ToMicros(clock_->Now());
        for (auto& other : user.phone_numbers) {
          const bool was_default = other.default_second_factor;
          const bool was_reserved = other.reserved_for_second_factor;
          if (&other == &*phone) {
            other.reserved_for_second_factor = reserved;
            other.default_second_factor = is_default;
          } else if (is_default) {
            other.default_second_factor = false;  // One default at most.
          }
          if (was_default != other.default_second_factor ||
              was_reserved != other.reserved_for_second_factor) {
            other.updated_at = now;
          }
        }
        return absl::OkStatus();
      });
  if (!changed.ok()) {
    return changed.status();
  }
  return IdentifierView{*std::move(changed), std::string(phone_number_id)};
}

absl::StatusOr<UserView> SecondFactorService::RemoveTotp(
    const Caller& caller, absl::string_view user_id) {
  const storage::Micros now = ToMicros(clock_->Now());
  return MutateUser(caller, user_id, "",
                    [&](storage::WriteTransaction&, storage::UserRecord& user) {
                      ClearTotp(user);
                      RefreshTwoFactor(user, now);
                      return absl::OkStatus();
                    });
}

absl::StatusOr<UserView> SecondFactorService::RemoveBackupCodes(
    const Caller& caller, absl::string_view user_id) {
  const storage::Micros now = ToMicros(clock_->Now());
  return MutateUser(caller, user_id, "",
                    [&](storage::WriteTransaction&, storage::UserRecord& user) {
                      user.backup_codes.clear();
                      RefreshTwoFactor(user, now);
                      return absl::OkStatus();
                    });
}

absl::StatusOr<UserView> SecondFactorService::RemoveAll(
    const Caller& caller, absl::string_view user_id) {
  const storage::Micros now = ToMicros(clock_->Now());
  return MutateUser(caller, user_id, "",
                    [&](storage::WriteTransaction&, storage::UserRecord& user) {
                      ClearTotp(user);
                      user.backup_codes.clear();
                      for (auto& phone : user.phone_numbers) {
                        phone.reserved_for_second_factor = false;
                        phone.default_second_factor = false;
                      }
                      RefreshTwoFactor(user, now);
                      return absl::OkStatus();
                    });
}

absl::StatusOr<bool> SecondFactorService::UseFactor(storage::UserRecord& user,
                                                    absl::string_view strategy,
                                                    absl::string_view code,
                                                    absl::Time now) const {
  if (strategy == kTotpStrategy) {
    if (!IsWellFormedTotpCode(code)) {
      return MalformedCode("must be 6 digits");
    }
    if (user.totp_secret.empty()) {
      return false;
    }
    if (keys_ == nullptr) {
      return CheckKeys();
    }
    auto secret = keys_->Open(user.totp_secret, TotpContext(user.id));
    if (!secret.ok()) {
      return secret.status();
    }
    auto step = MatchTotp(*secret, code, now, user.totp_last_step);
    if (!step.has_value()) {
      return false;
    }
    user.totp_last_step = *step;
    return true;
  }
  if (strategy == kBackupCodeStrategy) {
    if (!IsWellFormedBackupCode(code)) {
      return MalformedCode("must be 10 lower-case letters and digits");
    }
    std::vector<std::string> digests =
        absl::StrSplit(user.backup_codes, ' ', absl::SkipEmpty());
    // Every digest is checked, so the time does not say which one matched.
    int matched = -1;
    for (int i = 0; i < static_cast<int>(digests.size()); ++i) {
      if (VerificationCodeMatches(code, digests[static_cast<size_t>(i)]) &&
          matched < 0) {
        matched = i;
      }
    }
    if (matched < 0) {
      return false;
    }
    digests.erase(digests.begin() + matched);
    user.backup_codes = absl::StrJoin(digests, " ");
    RefreshTwoFactor(user, ToMicros(now));
    return true;
  }
  return Error(absl::StatusCode::kInvalidArgument,
               reason::kInvalidArgumentFormat,
               "strategy is not a second factor",
               {{"strategy", "must be totp or backup_code"}});
}

}  // namespace roster::domain

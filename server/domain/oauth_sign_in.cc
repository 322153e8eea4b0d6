#include "server/domain/oauth_sign_in.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/ids.h"
#include "server/domain/social_sign_up.h"
#include "server/domain/user_checks.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

absl::Status Banned() {
  return Error(absl::StatusCode::kPermissionDenied, reason::kUserBanned,
               "the user is banned");
}

// What a provider says is text of its choosing: only what fits our own
// bounds is kept (a name too long is dropped, not the sign-in).
std::string Bounded(const std::string& value, size_t max_bytes) {
  return ValidateText(value, max_bytes).ok() ? value : "";
}

// The provider's picture, when it is an https URL that apps and browsers can
// be handed as it is; anything else (http:, data:, javascript:, a relative
// path, characters a URL cannot hold) is dropped.
std::string ImageUrlOf(const ProviderAccount& account) {
  const std::string& url = account.image_url;
  const bool usable = absl::StartsWith(url, "https://") && url.size() > 8 &&
                      url.find_first_of(" \t\r\n\"<>\\`") == std::string::npos;
  return usable ? Bounded(url, 2048) : "";
}

// The provider's email as Roster stores addresses; one that is not a valid
// address is dropped (the account still signs in, without it).
ProviderAccount Normalized(ProviderAccount account) {
  auto email = NormalizeEmailAddress(account.email);
  account.email = email.ok() ? *std::move(email) : "";
  return account;
}

// What DataKeys seals a provider's tokens to: the account they belong to.
std::string TokenContext(absl::string_view external_account_id) {
  return absl::StrCat("oauth:", external_account_id);
}

// What the provider says about the account, as its record holds it: the
// same bounds at linking and at every later sign-in.
void Describe(const ProviderAccount& account,
              storage::ExternalAccountRecord& record) {
  record.email_address = account.email;
  record.first_name = Bounded(account.first_name, kMaxNameBytes);
  record.last_name = Bounded(account.last_name, kMaxNameBytes);
  record.username = Bounded(account.username, kMaxNameBytes);
  record.image_url = ImageUrlOf(account);
  record.approved_scopes.clear();
  for (const std::string& scope : account.scopes) {
    if (record.approved_scopes.size() < 50 && ValidateText(scope, 256).ok()) {
      record.approved_scopes.push_back(scope);
    }
  }
}

// Brings `user`'s record of the account up to what the provider says now,
// as Clerk's sign-ins do. Only the account changes: the user's own names,
// image and addresses are theirs. Nothing changes (so nothing is written)
// when the provider says what it said before.
void Refresh(const ProviderAccount& account, storage::Micros now,
             storage::UserRecord& user) {
  for (storage::ExternalAccountRecord& linked : user.external_accounts) {
    if (linked.provider != account.provider ||
        linked.provider_user_id != account.provider_user_id) {
      continue;
    }
    storage::ExternalAccountRecord described = linked;
    Describe(account, described);
    if (!(described == linked)) {
      described.updated_at = now;
      linked = std::move(described);
    }
    return;
  }
}

ProviderTokensView TokensOf(const ProviderAccount& account) {
  return {"", account.access_token, account.refresh_token,
          account.token_expire_at, account.scopes};
}

}  // namespace

OAuthSignInService::OAuthSignInService(
    storage::UserStore* store, const Clock* clock, const IdGenerator* ids,
    const EventEncoder* events, UserServiceOptions options,
    const SignInAttemptService* tickets, const SignUpOptions& sign_up,
    const DataKeys* keys)
    : UserOperations(store, clock, ids, events, std::move(options)),
      tickets_(tickets),
      mode_(sign_up.mode),
      required_fields_(sign_up.required_fields),
      sign_up_lifetime_(sign_up.lifetime),
      legal_acceptance_required_(
          absl::c_linear_search(sign_up.required_fields, "legal_accepted")),
      keys_(keys) {}

storage::ExternalAccountRecord OAuthSignInService::NewAccount(
    const ProviderAccount& account, absl::string_view user_id,
    storage::Micros now) const {
  storage::ExternalAccountRecord record;
  record.id = ids_->New(kExternalAccountIdPrefix);
  record.user_id = std::string(user_id);
  record.provider = account.provider;
  record.provider_user_id = account.provider_user_id;
  Describe(account, record);
  record.verification.status = storage::VerificationStatus::kVerified;
  record.verification.strategy = absl::StrCat("from_", account.provider);
  record.created_at = record.updated_at = now;
  return record;
}

absl::Status OAuthSignInService::Link(storage::WriteTransaction& txn,
                                      const ProviderAccount& account,
                                      storage::Micros now,
                                      storage::UserRecord& user) const {
  if (user.external_accounts.size() >= internal::kMaxExternalAccounts) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat,
                 "the user has too many external accounts");
  }
  storage::ExternalAccountRecord record = NewAccount(account, user.id, now);
  // An address another user has verified stays theirs (DESIGN §3): the
  // account keeps it, this user does not get it.
  bool email_is_free = !account.email.empty();
  if (email_is_free) {
    auto holder = txn.FindUserIdByIdentifier(
        storage::IdentifierKind::kEmailAddress, account.email);
    if (!holder.ok()) {
      return holder.status();
    }
    email_is_free = !holder->has_value() || **holder == user.id;
  }
  if (email_is_free) {
    // The provider verified it: the user now holds it verified too.
    auto held = std::find_if(
        user.email_addresses.begin(), user.email_addresses.end(),
        [&](const auto& e) { return e.email_address == account.email; });
    if (held == user.email_addresses.end()) {
      storage::EmailAddressRecord email;
      email.id = ids_->New(kIdentifierIdPrefix);
      email.user_id = user.id;
      email.email_address = account.email;
      email.verification = record.verification;
      email.created_at = email.updated_at = now;
      user.email_addresses.push_back(std::move(email));
      held = std::prev(user.email_addresses.end());
    } else if (held->verification.status !=
               storage::VerificationStatus::kVerified) {
      held->verification = record.verification;
      held->updated_at = now;
    }
    if (user.primary_email_address_id.empty()) {
      user.primary_email_address_id = held->id;
    }
  }
  user.external_accounts.push_back(std::move(record));
  return absl::OkStatus();
}

absl::Status OAuthSignInService::CreateUser(storage::WriteTransaction& txn,
                                            const Caller& caller,
                                            const ProviderAccount& account,
                                            bool legal_accepted,
                                            storage::Micros now,
                                            storage::UserRecord& user) {
  user = storage::UserRecord{};
  user.id = ids_->New(kUserIdPrefix);
  user.first_name = Bounded(account.first_name, kMaxNameBytes);
  user.last_name = Bounded(account.last_name, kMaxNameBytes);
  // As Clerk's: the new user's profile image is the provider's picture, until
  // they upload one or remove it.
  user.image_url = ImageUrlOf(account);
  user.created_at = user.updated_at = now;
  user.legal_accepted_at = legal_accepted ? now : 0;
  user.version = 1;
  absl::Status linked = Link(txn, account, now, user);
  if (!linked.ok()) {
    return linked;
  }
  // Others' unverified claims on the address give way, as at sign-up.
  absl::Status released =
      ReleaseClaims(txn, caller, storage::UserRecord{}, user);
  if (!released.ok()) {
    return released;
  }
  return txn.InsertUser(user,
                        NewEvent(caller, event_type::kUserCreated, user.id,
                                 events_->EncodeUser(View(user))));
}

absl::StatusOr<OAuthOutcome> OAuthSignInService::SignIn(
    const Caller& caller, const ProviderAccount& given, bool legal_accepted) {
  const ProviderAccount account = Normalized(given);
  OAuthOutcome outcome;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        outcome = OAuthOutcome{};
        const absl::Time now = clock_->Now();
        auto holder = txn.FindUserIdByExternalAccount(account.provider,
                                                      account.provider_user_id);
        if (!holder.ok()) {
          return holder.status();
        }
        // The user signing in, as stored; each way there checks the ban.
        storage::UserRecord user;
        if (holder->has_value()) {
          absl::Status refreshed = MutateUserIn(
              txn, caller, **holder, "",
              [&](storage::WriteTransaction&, storage::UserRecord& known) {
                if (known.banned) {
                  return Banned();
                }
                Refresh(account, ToMicros(now), known);
                return absl::OkStatus();
              },
              user);
          if (!refreshed.ok()) {
            return refreshed;
          }
        } else if (!account.email.empty()) {
          // Only a verified holder counts (FindUserIdByIdentifier's rule):
          // an unverified claim on the address links nothing.
          auto owner = txn.FindUserIdByIdentifier(
              storage::IdentifierKind::kEmailAddress, account.email);
          if (!owner.ok()) {
            return owner.status();
          }
          if (owner->has_value()) {
            absl::Status changed = MutateUserIn(
                txn, caller, **owner, "",
                [&](storage::WriteTransaction& t, storage::UserRecord& owning) {
                  return owning.banned
                             ? Banned()
                             : Link(t, account, ToMicros(now), owning);
                },
                user);
            if (!changed.ok()) {
              return changed;
            }
            outcome.linked = true;
          }
        }
        if (user.id.empty()) {
          if (mode_ != SignUpMode::kPublic) {
            return Error(absl::StatusCode::kPermissionDenied,
                         reason::kSignUpRestricted,
                         "sign-up is not open: no user holds this account");
          }
          if (legal_acceptance_required_ && !legal_accepted) {
            // Nothing is kept: the person starts again, accepting the terms.
            return Error(absl::StatusCode::kFailedPrecondition,
                         reason::kSignUpIncomplete,
                         "signing up needs the terms accepted: start again "
                         "with legal_accepted");
          }
          auto pending = PendingSignUp(account, legal_accepted, now);
          if (!pending.ok()) {
            return pending.status();
          }
          if (pending->has_value()) {
            absl::Status saved = txn.PutSignUp(**pending);
            if (!saved.ok()) {
              return saved;
            }
            auto ticket = tickets_->IssueTicket(txn, (*pending)->id, now);
            if (!ticket.ok()) {
              return ticket.status();
            }
            outcome.sign_up_id = (*pending)->id;
            outcome.ticket = *std::move(ticket);
            return absl::OkStatus();
          }
          absl::Status created = CreateUser(
              txn, caller, account, legal_accepted, ToMicros(now), user);
          if (!created.ok()) {
            return created;
          }
          outcome.created = outcome.linked = true;
        }
        outcome.user_id = user.id;
        ProviderTokensView tokens = TokensOf(account);
        tokens.external_account_id = AccountIdOf(user, account);
        absl::Status kept = PutTokens(txn, outcome.user_id, tokens);
        if (!kept.ok()) {
          return kept;
        }
        auto ticket = tickets_->IssueTicket(txn, outcome.user_id, now);
        if (!ticket.ok()) {
          return ticket.status();
        }
        outcome.ticket = *std::move(ticket);
        return absl::OkStatus();
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return outcome;
}

absl::StatusOr<OAuthOutcome> OAuthSignInService::Connect(
    const Caller& caller, absl::string_view user_id,
    const ProviderAccount& given) {
  const ProviderAccount account = Normalized(given);
  OAuthOutcome outcome;
  outcome.user_id = std::string(user_id);
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto holder = txn.FindUserIdByExternalAccount(account.provider,
                                                      account.provider_user_id);
        if (!holder.ok()) {
          return holder.status();
        }
        if (holder->has_value() && **holder != user_id) {
          return Error(absl::StatusCode::kAlreadyExists,
                       reason::kIdentifierExists,
                       "this provider account is linked to another user");
        }
        outcome.linked = !holder->has_value();
        storage::UserRecord linked;
        absl::Status changed = MutateUserIn(
            txn, caller, user_id, "",
            [&](storage::WriteTransaction& t, storage::UserRecord& user) {
              if (user.banned) {
                return Banned();
              }
              const storage::Micros now = ToMicros(clock_->Now());
              if (outcome.linked) {
                return Link(t, account, now, user);
              }
              Refresh(account, now, user);  // Already this user's.
              return absl::OkStatus();
            },
            linked);
        if (!changed.ok()) {
          return changed;
        }
        ProviderTokensView tokens = TokensOf(account);
        tokens.external_account_id = AccountIdOf(linked, account);
        return PutTokens(txn, user_id, tokens);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return outcome;
}

std::string OAuthSignInService::AccountIdOf(const storage::UserRecord& user,
                                            const ProviderAccount& account) {
  for (const auto& linked : user.external_accounts) {
    if (linked.provider == account.provider &&
        linked.provider_user_id == account.provider_user_id) {
      return linked.id;
    }
  }
  return "";
}

absl::StatusOr<std::optional<storage::SignUpRecord>>
OAuthSignInService::PendingSignUp(const ProviderAccount& account,
                                  bool legal_accepted, absl::Time now) const {
  const storage::Micros now_micros = ToMicros(now);
  storage::SignUpRecord sign_up;
  sign_up.email_address = account.email;
  if (!account.email.empty()) {
    sign_up.email_verification.status = storage::VerificationStatus::kVerified;
    sign_up.email_verification.strategy =
        absl::StrCat("from_", account.provider);
  }
  sign_up.first_name = Bounded(account.first_name, kMaxNameBytes);
  sign_up.last_name = Bounded(account.last_name, kMaxNameBytes);
  sign_up.legal_accepted_at = legal_accepted ? now_micros : 0;
  sign_up.external_account = "{}";  // A social sign-up: no password needed.
  const SignUpView view = ViewOfSignUp(sign_up, required_fields_, now);
  if (view.missing_fields.empty()) {
    return std::nullopt;  // The provider gave all: a user, at once.
  }
  PendingProviderAccount pending;
  pending.account = NewAccount(account, "", now_micros);
  ProviderTokensView tokens = TokensOf(account);
  tokens.external_account_id = pending.account.id;
  auto sealed = SealTokens("", tokens);
  if (!sealed.ok()) {
    return sealed.status();
  }
  pending.tokens = *std::move(sealed);
  sign_up.id = ids_->New(kSignUpIdPrefix);
  sign_up.external_account = EncodePendingAccount(pending);
  sign_up.created_at = sign_up.updated_at = now_micros;
  sign_up.expire_at = ToMicros(now + sign_up_lifetime_);
  return sign_up;
}

absl::Status OAuthSignInService::PutTokens(
    storage::WriteTransaction& txn, absl::string_view user_id,
    const ProviderTokensView& tokens) const {
  auto sealed = SealTokens(user_id, tokens);
  if (!sealed.ok()) {
    return sealed.status();
  }
  return sealed->has_value() ? txn.PutOAuthToken(**sealed) : absl::OkStatus();
}

absl::StatusOr<std::optional<storage::OAuthTokenRecord>>
OAuthSignInService::SealTokens(absl::string_view user_id,
                               const ProviderTokensView& tokens) const {
  // Without data keys tokens are not kept at all: never in clear.
  if (keys_ == nullptr || keys_->empty() || tokens.access_token.empty() ||
      tokens.external_account_id.empty()) {
    return std::nullopt;
  }
  const std::string plain = nlohmann::json{
      {"access_token", tokens.access_token},
      {"refresh_token",
       tokens.refresh_token}}.dump();
  auto sealed = keys_->Seal(plain, TokenContext(tokens.external_account_id));
  if (!sealed.ok()) {
    return sealed.status();
  }
  storage::OAuthTokenRecord record;
  record.external_account_id = tokens.external_account_id;
  record.user_id = std::string(user_id);
  record.key_id = DataKeys::KeyIdOf(*sealed);
  record.sealed = *std::move(sealed);
  record.expire_at =
      tokens.expire_at.has_value() ? ToMicros(*tokens.expire_at) : 0;
  record.scopes = absl::StrJoin(tokens.scopes, " ");
  record.updated_at = ToMicros(clock_->Now());
  return record;
}

absl::Status OAuthSignInService::CheckTokensKept(
    absl::string_view user_id) const {
  if (absl::Status valid = internal::CheckUserId(user_id); !valid.ok()) {
    return valid;
  }
  if (keys_ == nullptr || keys_->empty()) {
    return Error(absl::StatusCode::kFailedPrecondition,
                 reason::kDataKeysMissing,
                 "provider tokens are kept only with --data_keys_file");
  }
  return absl::OkStatus();
}

absl::StatusOr<OAuthSignInService::KeptTokens> OAuthSignInService::ReadTokensIn(
    storage::WriteTransaction& txn, absl::string_view user_id,
    absl::string_view provider) const {
  auto user = txn.GetUser(user_id);
  if (!user.ok()) {
    return user.status();
  }
  for (const auto& account : user->external_accounts) {
    if (account.provider != provider) {
      continue;
    }
    auto stored = txn.GetOAuthToken(account.id);
    if (!stored.ok()) {
      return stored.status();
    }
    if (!stored->has_value()) {
      continue;
    }
    auto opened = keys_->Open((*stored)->sealed, TokenContext(account.id));
    if (!opened.ok()) {
      return opened.status();
    }
    const nlohmann::json plain = nlohmann::json::parse(*opened, nullptr, false);
    if (!plain.is_object()) {
      return absl::DataLossError("provider tokens are not readable");
    }
    KeptTokens kept{**std::move(stored), {}};
    kept.tokens.external_account_id = account.id;
    kept.tokens.access_token = plain.value("access_token", "");
    kept.tokens.refresh_token = plain.value("refresh_token", "");
    if (kept.record.expire_at != 0) {
      kept.tokens.expire_at = FromMicros(kept.record.expire_at);
    }
    kept.tokens.scopes =
        absl::StrSplit(kept.record.scopes, ' ', absl::SkipEmpty());
    return kept;
  }
  return Error(absl::StatusCode::kNotFound, reason::kNotFound,
               "the user has no tokens kept for this provider");
}

absl::StatusOr<RefreshClaim> OAuthSignInService::ClaimRefresh(
    absl::string_view user_id, absl::string_view provider, absl::Time now,
    absl::Duration lease,
    absl::FunctionRef<bool(const ProviderTokensView&)> needs_refresh) {
  if (absl::Status checked = CheckTokensKept(user_id); !checked.ok()) {
    return checked;
  }
  RefreshClaim claim;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        // The user's row lock (taken by GetUser) makes replicas take turns.
        auto kept = ReadTokensIn(txn, user_id, provider);
        if (!kept.ok()) {
          return kept.status();
        }
        claim.tokens = kept->tokens;
        claim.claimed = false;  // A body run again starts over.
        if (!needs_refresh(claim.tokens) ||
            kept->record.refresh_lease_until > ToMicros(now)) {
          return absl::OkStatus();
        }
        kept->record.refresh_lease_until = ToMicros(now + lease);
        claim.claimed = true;
        return txn.PutOAuthToken(kept->record);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return claim;
}

absl::Status OAuthSignInService::ReleaseRefresh(
    absl::string_view user_id, absl::string_view external_account_id) {
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = txn.GetUser(user_id);  // Takes turns with ClaimRefresh.
        if (!user.ok()) {
          return user.status();
        }
        auto stored = txn.GetOAuthToken(external_account_id);
        if (!stored.ok() || !stored->has_value()) {
          return stored.status();
        }
        (*stored)->refresh_lease_until = 0;
        return txn.PutOAuthToken(**stored);
      });
  return written.ok() ? written : internal::FromStore(written);
}

absl::Status OAuthSignInService::WriteTokens(absl::string_view user_id,
                                             const ProviderTokensView& tokens) {
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = txn.GetUser(user_id);
        if (!user.ok()) {
          return user.status();
        }
        // Unlinked while the refresh was in flight: nothing to keep.
        const bool linked = std::any_of(
            user->external_accounts.begin(), user->external_accounts.end(),
            [&](const auto& a) { return a.id == tokens.external_account_id; });
        if (!linked) {
          return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                       "the external account was unlinked");
        }
        return PutTokens(txn, user_id, tokens);
      });
  return written.ok() ? written : internal::FromStore(written);
}

}  // namespace roster::domain

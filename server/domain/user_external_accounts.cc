// UserService's external (OAuth) accounts.
#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/metadata.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_service.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

constexpr size_t kMaxScopes = 50;

bool IsProvider(absl::string_view provider) {
  if (provider.size() < 7 || provider.size() > 64 ||
      provider.substr(0, 6) != "oauth_") {
    return false;
  }
  for (char c : provider.substr(6)) {
    const auto u = static_cast<unsigned char>(c);
    if (!(absl::ascii_islower(u) || absl::ascii_isdigit(u) || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<IdentifierView> ExternalAccountService::CreateExternalAccount(
    const Caller& caller, const CreateExternalAccountParams& params) {
  Violations violations;
  if (!IsProvider(params.provider)) {
    violations.Add(
        "provider",
        "must be oauth_ followed by 1-58 of [a-z0-9_], e.g. oauth_google");
  }
  if (params.provider_user_id.empty() ||
      !ValidateText(params.provider_user_id, 256).ok()) {
    violations.Add("provider_user_id", "must be 1-256 bytes of text");
  }
  std::string email;
  if (!params.email_address.empty()) {
    auto normalized = NormalizeEmailAddress(params.email_address);
    if (normalized.ok()) {
      email = *normalized;
    } else {
      violations.Add("email_address",
                     std::string(normalized.status().message()));
    }
  }
  for (const auto& [field, value] :
       {std::pair{"first_name", &params.first_name},
        std::pair{"last_name", &params.last_name},
        std::pair{"username", &params.username},
        std::pair{"image_url", &params.image_url}}) {
    if (!ValidateText(*value,
                      field == std::string("image_url") ? 2048 : kMaxNameBytes)
             .ok()) {
      violations.Add(field, "must be valid text of bounded length");
    }
  }
  if (params.approved_scopes.size() > kMaxScopes) {
    violations.Add("approved_scopes",
                   absl::StrCat("at most ", kMaxScopes, " scopes"));
  }
  for (size_t i = 0; i < params.approved_scopes.size() && i < kMaxScopes; ++i) {
    const auto& scope = params.approved_scopes[i];
    if (scope.empty() || absl::StrContains(scope, ' ') ||
        !ValidateText(scope, 256).ok()) {
      violations.Add(absl::StrCat("approved_scopes[", i, "]"),
                     "must be one scope without spaces");
    }
  }
  std::string metadata = "{}";
  if (params.public_metadata.has_value()) {
    auto compact = CompactJsonObject(*params.public_metadata);
    if (!compact.ok() || compact->size() > kMaxMetadataBytes) {
      violations.Add("public_metadata",
                     "must be a JSON object of at most 8 KiB",
                     compact.ok() ? reason::kMetadataTooLarge
                                  : reason::kInvalidArgumentFormat);
    } else {
      metadata = *std::move(compact);
    }
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  storage::ExternalAccountRecord account;
  account.id = ids_->New(kExternalAccountIdPrefix);
  account.user_id = params.user_id;
  account.provider = params.provider;
  account.provider_user_id = params.provider_user_id;
  account.email_address = email;
  account.first_name = params.first_name;
  account.last_name = params.last_name;
  account.username = params.username;
  account.image_url = params.image_url;
  account.approved_scopes = params.approved_scopes;
  account.public_metadata = metadata;
  account.verification.status = storage::VerificationStatus::kVerified;
  account.verification.strategy = absl::StrCat("from_", params.provider);
  account.created_at = account.updated_at = ToMicros(clock_->Now());
  auto user = MutateUser(
      caller, params.user_id, "",
      [&](storage::WriteTransaction&, storage::UserRecord& u) -> absl::Status {
        if (u.external_accounts.size() >= internal::kMaxExternalAccounts) {
          return Error(absl::StatusCode::kInvalidArgument,
                       reason::kInvalidArgumentFormat,
                       "the user has too many external accounts");
        }
        // A provider-verified email joins the user's addresses, verified,
        // and is linked to the account.
        if (!email.empty() && params.email_verified) {
          bool present = false;
          for (auto& e : u.email_addresses) {
            if (e.email_address == email) {
              present = true;
              if (e.verification.status !=
                  storage::VerificationStatus::kVerified) {
                e.verification = account.verification;
                e.updated_at = account.created_at;
              }
            }
          }
          if (!present) {
            storage::EmailAddressRecord record;
            record.id = ids_->New(kIdentifierIdPrefix);
            record.user_id = u.id;
            record.email_address = email;
            record.verification = account.verification;
            record.created_at = record.updated_at = account.created_at;
            u.email_addresses.push_back(std::move(record));
          }
          if (u.primary_email_address_id.empty()) {
            for (const auto& e : u.email_addresses) {
              if (e.email_address == email) {
                u.primary_email_address_id = e.id;
              }
            }
          }
        } else {
          account.verification.status =
              storage::VerificationStatus::kUnverified;
        }
        u.external_accounts.push_back(account);
        return absl::OkStatus();
      });
  if (!user.ok()) {
    return user.status();
  }
  return IdentifierView{*std::move(user), account.id};
}

absl::StatusOr<UserView> ExternalAccountService::DeleteExternalAccount(
    const Caller& caller, absl::string_view id,
    absl::string_view owner_user_id) {
  if (!IsWellFormedId(id, kExternalAccountIdPrefix)) {
    return Error(
        absl::StatusCode::kInvalidArgument, reason::kInvalidArgumentFormat,
        "external_account_id is malformed",
        {{"external_account_id", "must be an external account id (eac_…)"}});
  }
  auto owner = store_->GetIdentifierOwner(id);
  if (owner.ok() && !owner_user_id.empty() && *owner != owner_user_id) {
    owner = absl::NotFoundError("another user's external account");
  }
  if (!owner.ok()) {
    return absl::IsNotFound(owner.status())
               ? Error(absl::StatusCode::kNotFound, reason::kNotFound,
                       "external account not found")
               : owner.status();
  }
  return MutateUser(
      caller, *owner, "",
      [&](storage::WriteTransaction& txn,
          storage::UserRecord& u) -> absl::Status {
        auto& accounts = u.external_accounts;
        auto it = std::find_if(accounts.begin(), accounts.end(),
                               [&](const auto& a) { return a.id == id; });
        if (it == accounts.end()) {
          return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                       "external account not found");
        }
        const bool had_way_in = internal::WaysIn(u) > 0;
        accounts.erase(it);
        if (had_way_in && internal::WaysIn(u) == 0) {
          return Error(
              absl::StatusCode::kFailedPrecondition, reason::kLastIdentifier,
              "the user would have no way left to sign in",
              {{"external_account_id", "is the user's last way to sign in"}});
        }
        // The provider's tokens go with the account, in the same write.
        return txn.DeleteOAuthToken(id);
      });
}

}  // namespace roster::domain

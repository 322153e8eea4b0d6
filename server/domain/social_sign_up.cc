#include "server/domain/social_sign_up.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace roster::domain {

std::string EncodePendingAccount(const PendingProviderAccount& pending) {
  const storage::ExternalAccountRecord& a = pending.account;
  nlohmann::json json = {
      {"id", a.id},
      {"provider", a.provider},
      {"provider_user_id", a.provider_user_id},
      {"email_address", a.email_address},
      {"first_name", a.first_name},
      {"last_name", a.last_name},
      {"username", a.username},
      {"image_url", a.image_url},
      {"approved_scopes", a.approved_scopes},
      {"verification_strategy", a.verification.strategy},
      {"created_at", a.created_at},
  };
  if (pending.tokens.has_value()) {
    const storage::OAuthTokenRecord& t = *pending.tokens;
    json["tokens"] = {{"sealed", t.sealed},
                      {"key_id", t.key_id},
                      {"expire_at", t.expire_at},
                      {"scopes", t.scopes},
                      {"updated_at", t.updated_at}};
  }
  return json.dump();
}

absl::StatusOr<PendingProviderAccount> DecodePendingAccount(
    absl::string_view text) {
  const nlohmann::json json =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return absl::InternalError("a sign-up's provider account is unreadable");
  }
  PendingProviderAccount pending;
  try {
    storage::ExternalAccountRecord& a = pending.account;
    a.id = json.at("id").get<std::string>();
    a.provider = json.at("provider").get<std::string>();
    a.provider_user_id = json.at("provider_user_id").get<std::string>();
    a.email_address = json.at("email_address").get<std::string>();
    a.first_name = json.at("first_name").get<std::string>();
    a.last_name = json.at("last_name").get<std::string>();
    a.username = json.at("username").get<std::string>();
    a.image_url = json.at("image_url").get<std::string>();
    a.approved_scopes =
        json.at("approved_scopes").get<std::vector<std::string>>();
    a.verification.status = storage::VerificationStatus::kVerified;
    a.verification.strategy =
        json.at("verification_strategy").get<std::string>();
    a.created_at = a.updated_at = json.at("created_at").get<int64_t>();
    if (json.contains("tokens")) {
      const nlohmann::json& t = json.at("tokens");
      storage::OAuthTokenRecord tokens;
      tokens.external_account_id = a.id;
      tokens.sealed = t.at("sealed").get<std::string>();
      tokens.key_id = t.at("key_id").get<std::string>();
      tokens.expire_at = t.at("expire_at").get<int64_t>();
      tokens.scopes = t.at("scopes").get<std::string>();
      tokens.updated_at = t.at("updated_at").get<int64_t>();
      pending.tokens = std::move(tokens);
    }
  } catch (const nlohmann::json::exception&) {
    return absl::InternalError("a sign-up's provider account is unreadable");
  }
  return pending;
}

}  // namespace roster::domain

#include "server/domain/import_users.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

// The normalised identifiers an item would claim, each tagged with its kind.
std::vector<std::pair<std::string, std::string>> Claims(
    const CreateUserParams& item) {
  std::vector<std::pair<std::string, std::string>> claims;
  for (size_t i = 0; i < item.email_addresses.size(); ++i) {
    auto email = NormalizeEmailAddress(item.email_addresses[i]);
    if (email.ok()) {
      claims.emplace_back(absl::StrCat("email_addresses[", i, "]"),
                          "e:" + *email);
    }
  }
  for (size_t i = 0; i < item.phone_numbers.size(); ++i) {
    auto phone = NormalizePhoneNumber(item.phone_numbers[i]);
    if (phone.ok()) {
      claims.emplace_back(absl::StrCat("phone_numbers[", i, "]"),
                          "p:" + *phone);
    }
  }
  if (item.username.has_value() && !item.username->empty()) {
    auto username = NormalizeUsername(*item.username);
    if (username.ok()) {
      claims.emplace_back("username", "u:" + *username);
    }
  }
  if (item.external_id.has_value() && !item.external_id->empty()) {
    claims.emplace_back("external_id", "x:" + *item.external_id);
  }
  return claims;
}

}  // namespace

absl::StatusOr<std::vector<absl::StatusOr<UserView>>> ImportUsers(
    UserService& users, const Caller& caller,
    std::vector<CreateUserParams> items, bool validate_only,
    const std::string& request_id) {
  Violations violations;
  if (items.empty() || items.size() > kMaxImportBatch) {
    violations.Add("users",
                   absl::StrCat("must hold 1-", kMaxImportBatch, " users"));
  }
  // Leave room for ":<index>" within the request_id limit.
  if (!request_id.empty() && (!ValidateRequestId(request_id).ok() ||
                              request_id.size() > kMaxRequestIdBytes - 5)) {
    violations.Add("request_id", "must be 1-123 characters of [A-Za-z0-9._:-]");
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  std::vector<absl::StatusOr<UserView>> results;
  results.reserve(items.size());
  absl::flat_hash_set<std::string> claimed;
  for (size_t index = 0; index < items.size(); ++index) {
    CreateUserParams& item = items[index];
    if (item.request_id.empty() && !request_id.empty()) {
      item.request_id = absl::StrCat(request_id, ":", index);
    }
    Violations repeated;
    for (const auto& [field, claim] : Claims(item)) {
      if (claimed.contains(claim)) {
        repeated.Add(field, "is claimed by an earlier user of this batch",
                     reason::kIdentifierExists);
      }
    }
    if (!repeated.empty()) {
      results.push_back(repeated.ToStatus(absl::StatusCode::kAlreadyExists));
      continue;
    }
    if (item.password.has_value() && item.password_hash.empty()) {
      auto hashed = users.HashPasswordForNewUser(item);
      if (!hashed.ok()) {
        results.push_back(hashed.status());
        continue;
      }
      item.password_hash = *std::move(hashed);
    }
    absl::StatusOr<UserView> created =
        users.CreateUser(caller, item, validate_only);
    if (created.ok()) {
      for (auto& [field, claim] : Claims(item)) {
        claimed.insert(std::move(claim));
      }
    }
    results.push_back(std::move(created));
  }
  return results;
}

}  // namespace roster::domain

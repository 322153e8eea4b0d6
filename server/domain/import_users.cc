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
    UserServices& users, const Caller& caller,
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
  for (size_t index = 0; index < items.size(); ++index) {
    if (items[index].request_id.empty() && !request_id.empty()) {
      items[index].request_id = absl::StrCat(request_id, ":", index);
    }
  }
  // An identifier is claimed by the first item written with it; the batch is
  // written in order, so "earlier" is decided inside each item's write.
  absl::flat_hash_set<std::string> claimed;
  std::vector<absl::StatusOr<UserView>> results = users.users.CreateUsers(
      caller, items, validate_only,
      [&](size_t i) -> absl::Status {
        Violations repeated;
        for (const auto& [field, claim] : Claims(items[i])) {
          if (claimed.contains(claim)) {
            repeated.Add(field, "is claimed by an earlier user of this batch",
                         reason::kIdentifierExists);
          }
        }
        return repeated.empty()
                   ? absl::OkStatus()
                   : repeated.ToStatus(absl::StatusCode::kAlreadyExists);
      },
      [&](size_t i) {
        for (auto& [field, claim] : Claims(items[i])) {
          claimed.insert(std::move(claim));
        }
      });
  return results;
}

}  // namespace roster::domain

#include "server/domain/user_checks.h"

#include <utility>

#include "server/domain/ids.h"
#include "server/domain/metadata.h"
#include "server/domain/password_digests.h"
#include "server/domain/user_service.h"
#include "server/domain/validation.h"

namespace roster::domain::internal {

namespace {

absl::Status UserNotFound() {
  return Error(absl::StatusCode::kNotFound, reason::kNotFound,
               "user not found");
}

}  // namespace

// Storage errors as the API should see them: a missing row is NOT_FOUND and a
// unique clash that slipped past the explicit checks is IDENTIFIER_EXISTS.
// Domain errors (which carry a reason) and other storage errors pass through
// unchanged.
absl::Status FromStore(const absl::Status& status) {
  if (!ReasonOf(status).empty()) {
    return status;
  }
  if (absl::IsNotFound(status)) {
    return UserNotFound();
  }
  if (absl::IsAlreadyExists(status)) {
    return Error(absl::StatusCode::kAlreadyExists, reason::kIdentifierExists,
                 "an identifier already belongs to another user");
  }
  return status;
}

absl::StatusOr<storage::UserRecord> LoadForChange(
    storage::WriteTransaction& txn, absl::string_view user_id,
    absl::string_view etag) {
  auto user = txn.GetUser(user_id);
  if (!user.ok()) {
    return user.status();
  }
  if (!etag.empty() && etag != EtagOf(user->version)) {
    return Error(absl::StatusCode::kAborted, reason::kEtagMismatch,
                 "the user changed since this etag was read; read it again and "
                 "retry");
  }
  return user;
}

absl::Status CheckUserId(absl::string_view user_id) {
  Violations violations;
  if (user_id.empty()) {
    violations.Add("user_id", "is required");
  } else if (!IsWellFormedId(user_id, kUserIdPrefix)) {
    violations.Add(
        "user_id",
        "must be a user id (user_ followed by 27 letters and digits)");
  }
  return violations.ToStatus();
}

void CheckText(const char* field, const std::optional<std::string>& value,
               size_t max_bytes, Violations& violations) {
  if (!value.has_value()) {
    return;
  }
  auto valid = ValidateText(*value, max_bytes);
  if (!valid.ok()) {
    violations.Add(field, std::string(valid.status().message()));
  }
}

// Normalises a username (empty stays empty: "no username").
std::optional<std::string> CheckUsername(
    const std::optional<std::string>& value, Violations& violations) {
  if (!value.has_value() || value->empty()) {
    return value;
  }
  auto normalized = NormalizeUsername(*value);
  if (!normalized.ok()) {
    violations.Add("username", std::string(normalized.status().message()),
                   reason::kUsernameInvalid);
    return std::nullopt;
  }
  return *std::move(normalized);
}

std::optional<std::string> CheckLocale(const std::optional<std::string>& value,
                                       Violations& violations) {
  if (!value.has_value() || value->empty()) {
    return value;
  }
  auto normalized = NormalizeLocale(*value);
  if (!normalized.ok()) {
    violations.Add("locale", std::string(normalized.status().message()));
    return std::nullopt;
  }
  return *std::move(normalized);
}

std::optional<storage::Micros> CheckPastTime(
    const char* field, const std::optional<absl::Time>& time, absl::Time now,
    Violations& violations) {
  if (!time.has_value()) {
    return std::nullopt;
  }
  if (*time <= absl::UnixEpoch() || *time > now) {
    violations.Add(field, "must be after 1970 and not in the future");
    return std::nullopt;
  }
  return absl::ToUnixMicros(*time);
}

// A metadata tier as compact JSON, or nullopt when absent or invalid
// (reported).
std::optional<std::string> CheckMetadata(const char* field,
                                         const std::optional<std::string>& json,
                                         Violations& violations) {
  if (!json.has_value()) {
    return std::nullopt;
  }
  auto compact = CompactJsonObject(*json);
  if (!compact.ok()) {
    violations.Add(field, std::string(compact.status().message()));
    return std::nullopt;
  }
  if (compact->size() > kMaxMetadataBytes) {
    violations.Add(
        field,
        absl::StrCat("is ", compact->size(), " bytes of compact JSON; at most ",
                     kMaxMetadataBytes),
        reason::kMetadataTooLarge);
    return std::nullopt;
  }
  return *std::move(compact);
}

// Reports `field` when `value` belongs to a user other than `self`.
absl::Status CheckUnique(storage::WriteTransaction& txn,
                         storage::IdentifierKind kind, const std::string& value,
                         absl::string_view self, std::string field,
                         Violations& violations) {
  auto holder = txn.FindUserIdByIdentifier(kind, value);
  if (!holder.ok()) {
    return holder.status();
  }
  if (holder->has_value() && **holder != self) {
    violations.Add(std::move(field), "already belongs to another user",
                   reason::kIdentifierExists);
  }
  return absl::OkStatus();
}

int WaysIn(const storage::UserRecord& u) {
  int ways = static_cast<int>(u.external_accounts.size());
  for (const auto& e : u.email_addresses) {
    ways +=
        e.verification.status == storage::VerificationStatus::kVerified ? 1 : 0;
  }
  for (const auto& p : u.phone_numbers) {
    ways +=
        p.verification.status == storage::VerificationStatus::kVerified ? 1 : 0;
  }
  if (!u.username.empty() && !u.password_hash.empty()) {
    ++ways;
  }
  return ways;
}

std::vector<std::string> IdentifiersOf(const storage::UserRecord& user) {
  std::vector<std::string> identifiers;
  for (const auto& e : user.email_addresses) {
    identifiers.push_back(e.email_address);
  }
  for (const auto& p : user.phone_numbers) {
    identifiers.push_back(p.phone_number);
  }
  identifiers.push_back(user.username);
  return identifiers;
}

void AddPasswordViolation(const absl::Status& checked, Violations& violations) {
  if (checked.ok()) {
    return;
  }
  for (auto& v : FieldViolationsOf(checked)) {
    violations.Add(std::move(v.field), std::move(v.description),
                   ReasonOf(checked));
  }
}

std::optional<std::string> CheckDigest(const std::optional<std::string>& digest,
                                       const std::string& hasher,
                                       bool password_set,
                                       Violations& violations) {
  if (!digest.has_value()) {
    // A hasher alone would otherwise be ignored, and the user created
    // without the password it was meant to carry.
    if (!hasher.empty()) {
      violations.Add("password_hasher", "is given without password_digest",
                     reason::kPasswordDigestInvalid);
    }
    return std::nullopt;
  }
  if (password_set) {
    violations.Add("password_digest", "cannot be combined with password");
    return std::nullopt;
  }
  auto imported = ImportDigest(hasher, *digest);
  if (!imported.ok()) {
    for (auto& v : FieldViolationsOf(imported.status())) {
      violations.Add(std::move(v.field), std::move(v.description),
                     reason::kPasswordDigestInvalid);
    }
    return std::nullopt;
  }
  return *std::move(imported);
}

}  // namespace roster::domain::internal

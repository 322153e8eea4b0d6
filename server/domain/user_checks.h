// Field checks shared by the UserService operations: each validates or
// normalises one request field and reports problems into a Violations under the
// field's API name. Internal to the domain; callers are user_service.cc and
// later services built on the same rules.
#ifndef ROSTER_SERVER_DOMAIN_USER_CHECKS_H_
#define ROSTER_SERVER_DOMAIN_USER_CHECKS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/errors.h"
#include "storage/user_store.h"

namespace roster::domain::internal {

inline constexpr size_t kMaxIdentifiersPerKind = 100;
// External accounts one user may link (Backend and OAuth sign-in alike).
inline constexpr size_t kMaxExternalAccounts = 20;

// Storage errors as the API should see them: a bare NotFound is NOT_FOUND and a
// bare AlreadyExists is IDENTIFIER_EXISTS. Statuses with a reason, and others,
// pass through.
absl::Status FromStore(const absl::Status& status);

// OK for a well-formed user id; INVALID_ARGUMENT on `user_id` otherwise.
absl::Status CheckUserId(absl::string_view user_id);

// The user about to be changed: NotFound if missing, ABORTED (ETAG_MISMATCH)
// when `etag` is set and no longer matches.
absl::StatusOr<storage::UserRecord> LoadForChange(
    storage::WriteTransaction& txn, absl::string_view user_id,
    absl::string_view etag);

// Reports `field` when `value` is set and not valid text of at most
// `max_bytes`.
void CheckText(const char* field, const std::optional<std::string>& value,
               size_t max_bytes, Violations& violations);

// The normalised username (empty stays empty: "no username"); nullopt when
// unset or invalid (reported with reason USERNAME_INVALID).
std::optional<std::string> CheckUsername(
    const std::optional<std::string>& value, Violations& violations);

// The canonical BCP 47 tag (empty stays empty: "no locale"); nullopt when unset
// or invalid (reported on `locale`).
std::optional<std::string> CheckLocale(const std::optional<std::string>& value,
                                       Violations& violations);

// `time` as micros when it is after 1970 and not after `now`; nullopt when
// unset or out of range (reported on `field`).
std::optional<storage::Micros> CheckPastTime(
    const char* field, const std::optional<absl::Time>& time, absl::Time now,
    Violations& violations);

// A metadata tier as compact JSON, or nullopt when absent or invalid (reported;
// over 8 KiB with reason METADATA_TOO_LARGE).
std::optional<std::string> CheckMetadata(const char* field,
                                         const std::optional<std::string>& json,
                                         Violations& violations);

// Reports `field` (reason IDENTIFIER_EXISTS) when `value` belongs to a user
// other than `self`. Returns storage errors.
absl::Status CheckUnique(storage::WriteTransaction& txn,
                         storage::IdentifierKind kind, const std::string& value,
                         absl::string_view self, std::string field,
                         Violations& violations);

// Normalises a list of identifiers, reporting invalid and duplicate values as
// `field[i]`.
template <typename Normalize>
std::vector<std::string> CheckIdentifiers(const char* field,
                                          const std::vector<std::string>& input,
                                          Violations& violations,
                                          Normalize normalize) {
  std::vector<std::string> out;
  if (input.size() > kMaxIdentifiersPerKind) {
    violations.Add(field,
                   absl::StrCat("at most ", kMaxIdentifiersPerKind, " values"));
    return out;
  }
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < input.size(); ++i) {
    auto normalized = normalize(input[i]);
    if (!normalized.ok()) {
      violations.Add(absl::StrCat(field, "[", i, "]"),
                     std::string(normalized.status().message()));
    } else if (!seen.insert(*normalized).second) {
      violations.Add(absl::StrCat(field, "[", i, "]"),
                     "repeats an earlier value");
    } else {
      out.push_back(*std::move(normalized));
    }
  }
  return out;
}

// How many ways the user has to sign in: verified email addresses and phone
// numbers, external accounts, and a username with a password.
int WaysIn(const storage::UserRecord& user);

// The identifiers a password must not equal: emails, phone numbers, username.
std::vector<std::string> IdentifiersOf(const storage::UserRecord& user);

// Adds the field violation of a failed CheckNewPassword to `violations`.
void AddPasswordViolation(const absl::Status& checked, Violations& violations);

// The hash to store for an imported digest, or nullopt when there is none or
// it is invalid (reported under its field with PASSWORD_DIGEST_INVALID);
// `password` set as well is reported too.
std::optional<std::string> CheckDigest(const std::optional<std::string>& digest,
                                       const std::string& hasher,
                                       bool password_set,
                                       Violations& violations);

}  // namespace roster::domain::internal

#endif  // ROSTER_SERVER_DOMAIN_USER_CHECKS_H_

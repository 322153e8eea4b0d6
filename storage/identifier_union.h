// The three identifier tables (email addresses, phone numbers, external
// accounts) read in one shape, so that a user and all its identifiers come
// back from one statement: one snapshot, one round trip. Both adapters read
// users this way. SQLite runs the branches one after another with no ORDER
// BY (a sort there cost more than the statements it saved), and the caller
// puts each kind oldest first. Internal to storage/.
#ifndef ROSTER_STORAGE_IDENTIFIER_UNION_H_
#define ROSTER_STORAGE_IDENTIFIER_UNION_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "storage/records.h"

namespace roster::storage {

// How many columns IdentifierUnionSql selects before `extra_columns`.
inline constexpr int kIdentifierUnionColumnCount = 21;

// Columns, in order: kind (1 email, 2 phone, 3 external account), user_id,
// id, value (email address / phone number / provider_user_id), the four
// verification columns, created_at, updated_at, code digest,
// reserved_for_second_factor, default_second_factor, provider, email_address,
// first_name, last_name, username, image_url, approved_scopes,
// public_metadata, then `extra_columns` (", NULL, NULL" to line the branches up
// with a wider SELECT they follow). Each branch keeps the rows whose user_id
// satisfies `user_id_condition` ("= ?1", "= ANY($1::text[])", …).
inline std::string IdentifierUnionSql(absl::string_view user_id_condition,
                                      absl::string_view extra_columns = "") {
  return absl::StrCat(
      "SELECT 1 AS kind, user_id, id, email_address AS value, "
      "verification_status, verification_strategy, verification_attempts, "
      "verification_expire_at, created_at, updated_at, "
      "verification_code_digest, 0 AS reserved, 0 AS dflt, '' AS provider, "
      "'' AS email, '' AS first_name, '' AS last_name, '' AS username, "
      "'' AS image_url, '' AS scopes, '' AS metadata",
      extra_columns, " FROM email_addresses WHERE user_id ", user_id_condition,
      " UNION ALL SELECT 2, user_id, id, phone_number, verification_status, "
      "verification_strategy, verification_attempts, verification_expire_at, "
      "created_at, updated_at, verification_code_digest, "
      "reserved_for_second_factor, default_second_factor, '', '', '', '', '', "
      "'', '', ''",
      extra_columns, " FROM phone_numbers WHERE user_id ", user_id_condition,
      " UNION ALL SELECT 3, user_id, id, provider_user_id, "
      "verification_status, verification_strategy, verification_attempts, "
      "verification_expire_at, created_at, updated_at, '', 0, 0, provider, "
      "email_address, first_name, last_name, username, image_url, "
      "approved_scopes, public_metadata",
      extra_columns, " FROM external_accounts WHERE user_id ",
      user_id_condition);
}

// Appends the identifier in `row`, columns from `first` in IdentifierUnionSql
// order, to `user`. Row reads the current row: std::string Text(int column)
// and int64_t Int(int column).
template <typename Row>
void AppendIdentifier(const Row& row, int first, UserRecord& user) {
  const int64_t kind = row.Int(first);
  VerificationRecord v;
  v.status = static_cast<VerificationStatus>(row.Int(first + 4));
  v.strategy = row.Text(first + 5);
  v.attempts = static_cast<int32_t>(row.Int(first + 6));
  v.expire_at = row.Int(first + 7);
  std::string id = row.Text(first + 2);
  std::string value = row.Text(first + 3);
  const Micros created_at = row.Int(first + 8);
  const Micros updated_at = row.Int(first + 9);
  if (kind == 1) {
    EmailAddressRecord e;
    e.id = std::move(id);
    e.user_id = user.id;
    e.email_address = std::move(value);
    e.verification = std::move(v);
    e.verification.code_digest = row.Text(first + 10);
    e.created_at = created_at;
    e.updated_at = updated_at;
    user.email_addresses.push_back(std::move(e));
  } else if (kind == 2) {
    PhoneNumberRecord p;
    p.id = std::move(id);
    p.user_id = user.id;
    p.phone_number = std::move(value);
    p.verification = std::move(v);
    p.verification.code_digest = row.Text(first + 10);
    p.reserved_for_second_factor = row.Int(first + 11) != 0;
    p.default_second_factor = row.Int(first + 12) != 0;
    p.created_at = created_at;
    p.updated_at = updated_at;
    user.phone_numbers.push_back(std::move(p));
  } else {
    ExternalAccountRecord a;
    a.id = std::move(id);
    a.user_id = user.id;
    a.provider_user_id = std::move(value);
    a.verification = std::move(v);
    a.provider = row.Text(first + 13);
    a.email_address = row.Text(first + 14);
    a.first_name = row.Text(first + 15);
    a.last_name = row.Text(first + 16);
    a.username = row.Text(first + 17);
    a.image_url = row.Text(first + 18);
    a.approved_scopes =
        absl::StrSplit(row.Text(first + 19), ' ', absl::SkipEmpty());
    a.public_metadata = row.Text(first + 20);
    a.created_at = created_at;
    a.updated_at = updated_at;
    user.external_accounts.push_back(std::move(a));
  }
}

// Each kind oldest first, then by id. The by-user indexes already yield this
// order; the sort keeps it whatever plan SQLite picks, and puts the
// identifiers column's records (kept in any order) in it.
template <typename Identifier>
void SortOldestFirst(std::vector<Identifier>& identifiers) {
  std::sort(identifiers.begin(), identifiers.end(),
            [](const Identifier& a, const Identifier& b) {
              return std::tie(a.created_at, a.id) <
                     std::tie(b.created_at, b.id);
            });
}

inline void SortIdentifiers(UserRecord& user) {
  SortOldestFirst(user.email_addresses);
  SortOldestFirst(user.phone_numbers);
  SortOldestFirst(user.external_accounts);
}

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_IDENTIFIER_UNION_H_

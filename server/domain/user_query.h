// Validation of ListUsers / CountUsers input (filters, order_by, paging) and
// the opaque keyset page token. Split from user_service.cc to keep each file
// focused.
#ifndef ROSTER_SERVER_DOMAIN_USER_QUERY_H_
#define ROSTER_SERVER_DOMAIN_USER_QUERY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/errors.h"
#include "storage/user_query.h"

namespace roster::domain {

inline constexpr int32_t kDefaultPageSize = 10;
inline constexpr int32_t kMaxPageSize = 500;
inline constexpr int32_t kMaxOffset = 1'000'000;
inline constexpr size_t kMaxFilterValues = 100;

// Normalises `filter` in place (emails, phones and usernames as stored), adding
// a violation for every invalid value.
void NormalizeUserFilter(storage::UserFilter& filter, Violations& violations);

// Parses `order_by` (e.g. `-created_at`); empty means `-created_at`.
absl::StatusOr<storage::UserOrder> ParseOrderBy(absl::string_view order_by);

// A stable fingerprint of a normalised filter and order, bound into page
// tokens.
std::string QueryFingerprint(const storage::UserFilter& filter,
                             const storage::UserOrder& order);

// The opaque token for the page after `cursor` of the query with `fingerprint`.
std::string EncodePageToken(absl::string_view fingerprint,
                            const storage::UserOrder& order,
                            const storage::UserCursor& cursor);

// The cursor in `token`. InvalidArgument when it is malformed or was issued for
// another query.
absl::StatusOr<storage::UserCursor> DecodePageToken(
    absl::string_view token, absl::string_view fingerprint,
    const storage::UserOrder& order);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_USER_QUERY_H_

// Filters, order and paging for listing users: plain values, already validated
// and normalised by the caller (the domain). Every non-empty field narrows the
// result (AND); a list matches any of its values (OR).
#ifndef ROSTER_STORAGE_USER_QUERY_H_
#define ROSTER_STORAGE_USER_QUERY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/records.h"

namespace roster::storage {

enum class MetadataTier { kPublic, kPrivate, kUnsafe };

// A JSON scalar to compare with; objects and arrays are not comparable.
struct JsonScalar {
  enum class Kind { kNull, kBool, kNumber, kString };
  Kind kind = Kind::kNull;
  bool bool_value = false;
  double number_value = 0;
  std::string string_value;
};

struct MetadataFilter {
  MetadataTier tier = MetadataTier::kPublic;
  std::vector<std::string>
      path;  // Keys of [A-Za-z0-9_-]; validated by the caller.
  JsonScalar value;
};

// A new field here must also be refused by SqliteUserStore's SingleLookupKey,
// or a cached identifier lookup would answer a query without it.
struct UserFilter {
  std::vector<std::string> email_addresses;
  std::vector<std::string> phone_numbers;
  std::vector<std::string> usernames;
  std::vector<std::string> external_ids;
  std::vector<std::string> user_ids;
  std::string query;  // Substring filters; empty means no filter.
  std::string email_address_query;
  std::string phone_number_query;
  std::string username_query;
  std::string name_query;
  std::optional<bool> banned;
  std::optional<Micros> created_at_before, created_at_after;
  std::optional<Micros> last_sign_in_at_before, last_sign_in_at_after;
  std::optional<Micros> last_active_at_before, last_active_at_after;
  std::vector<MetadataFilter> metadata_filters;
};

enum class UserOrderKey {
  kCreatedAt,
  kUpdatedAt,
  kLastSignInAt,
  kLastActiveAt,
  kUsername,
  kFirstName,
  kLastName,
  kEmailAddress,  // The primary email address.
  kPhoneNumber,   // The primary phone number.
};

// True for keys whose sort value is text; the others sort by a Micros value.
bool IsTextOrderKey(UserOrderKey key);

struct UserOrder {
  UserOrderKey key = UserOrderKey::kCreatedAt;
  bool descending = true;
};

// A keyset position: the sort value and id of the last user of the previous
// page.
struct UserCursor {
  std::variant<int64_t, std::string> sort_value;
  std::string id;
};

struct UserPageQuery {
  UserFilter filter;
  UserOrder order;
  int32_t limit = 10;
  int64_t offset = 0;
  std::optional<UserCursor> after;  // Keyset paging; exclusive of the offset.
};

struct UserPage {
  std::vector<UserRecord> users;
  int64_t total_count = 0;
  std::optional<UserCursor> next;  // Set when more users follow this page.
};

// The total a page implies on its own, without a COUNT: a page with no
// successor that is reached by offset alone (and, past offset 0, holds a user,
// proving that `offset` users came before it) ends the result, so the total is
// the offset plus its size. The common lookup (a filter by email address with
// one match) then costs one query instead of two.
inline std::optional<int64_t> TotalImpliedByPage(const UserPageQuery& query,
                                                 const UserPage& page) {
  if (query.after.has_value() || page.next.has_value() ||
      (query.offset > 0 && page.users.empty())) {
    return std::nullopt;
  }
  return query.offset + static_cast<int64_t>(page.users.size());
}

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_USER_QUERY_H_

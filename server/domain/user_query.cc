#include "server/domain/user_query.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/domain/ids.h"
#include "server/domain/validation.h"
#include "storage/metadata_index.h"

namespace roster::domain {
namespace {

constexpr size_t kMaxQueryBytes = 256;

// Normalises each value of a list filter with `normalize`, reporting `field[i]`
// on failure.
template <typename Normalize>
void NormalizeList(const char* field, std::vector<std::string>& values,
                   Violations& violations, Normalize normalize) {
  if (values.size() > kMaxFilterValues) {
    violations.Add(field,
                   absl::StrCat("at most ", kMaxFilterValues, " values"));
    return;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    absl::StatusOr<std::string> normalized = normalize(values[i]);
    if (normalized.ok()) {
      values[i] = *std::move(normalized);
    } else {
      violations.Add(absl::StrCat(field, "[", i, "]"),
                     std::string(normalized.status().message()));
    }
  }
}

void CheckQuery(const char* field, const std::string& value,
                Violations& violations) {
  auto valid = ValidateText(value, kMaxQueryBytes);
  if (!valid.ok()) {
    violations.Add(field, std::string(valid.status().message()));
  }
}

constexpr std::pair<absl::string_view, storage::UserOrderKey> kOrderKeys[] = {
    {"created_at", storage::UserOrderKey::kCreatedAt},
    {"updated_at", storage::UserOrderKey::kUpdatedAt},
    {"last_sign_in_at", storage::UserOrderKey::kLastSignInAt},
    {"last_active_at", storage::UserOrderKey::kLastActiveAt},
    {"username", storage::UserOrderKey::kUsername},
    {"first_name", storage::UserOrderKey::kFirstName},
    {"last_name", storage::UserOrderKey::kLastName},
    {"email_address", storage::UserOrderKey::kEmailAddress},
    {"phone_number", storage::UserOrderKey::kPhoneNumber},
};

// Appends `value` length-prefixed, so distinct inputs never concatenate to the
// same text.
void AppendField(std::string& out, absl::string_view value) {
  absl::StrAppend(&out, value.size(), ":", value, ";");
}

}  // namespace

void NormalizeUserFilter(storage::UserFilter& filter, Violations& violations) {
  NormalizeList("email_addresses", filter.email_addresses, violations,
                NormalizeEmailAddress);
  NormalizeList("phone_numbers", filter.phone_numbers, violations,
                NormalizePhoneNumber);
  NormalizeList("usernames", filter.usernames, violations, NormalizeUsername);
  NormalizeList("external_ids", filter.external_ids, violations,
                [](const std::string& v) {
                  return ValidateText(v, kMaxExternalIdBytes);
                });
  NormalizeList(
      "user_ids", filter.user_ids, violations,
      [](const std::string& v) -> absl::StatusOr<std::string> {
        if (!IsWellFormedId(v, kUserIdPrefix)) {
          return absl::InvalidArgumentError("must be a user id (user_…)");
        }
        return v;
      });
  CheckQuery("query", filter.query, violations);
  CheckQuery("email_address_query", filter.email_address_query, violations);
  CheckQuery("phone_number_query", filter.phone_number_query, violations);
  CheckQuery("username_query", filter.username_query, violations);
  CheckQuery("name_query", filter.name_query, violations);
  if (filter.metadata_filters.size() > kMaxFilterValues) {
    violations.Add("metadata_filters",
                   absl::StrCat("at most ", kMaxFilterValues, " filters"));
    return;
  }
  for (size_t i = 0; i < filter.metadata_filters.size(); ++i) {
    const auto& path = filter.metadata_filters[i].path;
    bool valid = !path.empty() && path.size() <= storage::kMaxMetadataPathKeys;
    for (const auto& key : path) {
      valid = valid && storage::IsMetadataPathKey(key);
    }
    if (!valid) {
      violations.Add(
          absl::StrCat("metadata_filters[", i, "].path"),
          "must be 1-8 dot-separated keys of 1-64 characters of [A-Za-z0-9_-]");
    }
  }
}

absl::StatusOr<storage::UserOrder> ParseOrderBy(absl::string_view order_by) {
  storage::UserOrder order;
  if (order_by.empty()) {
    return order;  // -created_at
  }
  order.descending = false;
  if (order_by.front() == '-' || order_by.front() == '+') {
    order.descending = order_by.front() == '-';
    order_by.remove_prefix(1);
  }
  for (const auto& [name, key] : kOrderKeys) {
    if (order_by == name) {
      order.key = key;
      return order;
    }
  }
  return absl::InvalidArgumentError(
      "must be one of created_at, updated_at, last_sign_in_at, last_active_at, "
      "username, "
      "first_name, last_name, email_address, phone_number, optionally prefixed "
      "with - or +");
}

std::string QueryFingerprint(const storage::UserFilter& f,
                             const storage::UserOrder& order) {
  std::string canonical;
  for (const auto* list : {&f.email_addresses, &f.phone_numbers, &f.usernames,
                           &f.external_ids, &f.user_ids}) {
    AppendField(canonical, absl::StrCat(list->size()));
    for (const auto& v : *list) {
      AppendField(canonical, v);
    }
  }
  for (const auto* text :
       {&f.query, &f.email_address_query, &f.phone_number_query,
        &f.username_query, &f.name_query}) {
    AppendField(canonical, *text);
  }
  AppendField(canonical, f.banned.has_value() ? (*f.banned ? "t" : "f") : "-");
  for (const auto* bound :
       {&f.created_at_before, &f.created_at_after, &f.last_sign_in_at_before,
        &f.last_sign_in_at_after, &f.last_active_at_before,
        &f.last_active_at_after}) {
    AppendField(canonical, bound->has_value() ? absl::StrCat(**bound) : "-");
  }
  for (const auto& m : f.metadata_filters) {
    AppendField(canonical, absl::StrCat(static_cast<int>(m.tier)));
    AppendField(canonical, absl::StrJoin(m.path, "."));
    AppendField(canonical,
                absl::StrCat(static_cast<int>(m.value.kind), m.value.bool_value,
                             m.value.number_value, "|", m.value.string_value));
  }
  AppendField(canonical,
              absl::StrCat(static_cast<int>(order.key), order.descending));
  return Fingerprint(canonical);
}

std::string EncodePageToken(absl::string_view fingerprint,
                            const storage::UserOrder& order,
                            const storage::UserCursor& cursor) {
  const bool text = IsTextOrderKey(order.key);
  const std::string value =
      text ? std::get<std::string>(cursor.sort_value)
           : absl::StrCat(std::get<int64_t>(cursor.sort_value));
  return absl::WebSafeBase64Escape(absl::StrCat(
      "1|", fingerprint, "|", text ? "s" : "i", "|", cursor.id, "|", value));
}

absl::StatusOr<storage::UserCursor> DecodePageToken(
    absl::string_view token, absl::string_view fingerprint,
    const storage::UserOrder& order) {
  std::string raw;
  if (token.size() > 4096 || !absl::WebSafeBase64Unescape(token, &raw)) {
    return absl::InvalidArgumentError("is not a page token from this service");
  }
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('|', 4));
  const bool text = IsTextOrderKey(order.key);
  if (parts.size() != 5 || parts[0] != "1" || parts[2] != (text ? "s" : "i") ||
      !IsWellFormedId(parts[3], kUserIdPrefix)) {
    return absl::InvalidArgumentError("is not a page token from this service");
  }
  if (parts[1] != fingerprint) {
    return absl::InvalidArgumentError(
        "was issued for a different query: keep every other field as in the "
        "first call");
  }
  storage::UserCursor cursor;
  cursor.id = parts[3];
  if (text) {
    cursor.sort_value = parts[4];
  } else {
    int64_t value = 0;
    if (!absl::SimpleAtoi(parts[4], &value)) {
      return absl::InvalidArgumentError(
          "is not a page token from this service");
    }
    cursor.sort_value = value;
  }
  return cursor;
}

}  // namespace roster::domain

// Email addresses and phone numbers follow one set of rules; Kind<Record>
// tells the code written once over both where each kind lives in a UserRecord
// and how its values are named and normalised. Internal to the domain.
#ifndef ROSTER_SERVER_DOMAIN_IDENTIFIER_KIND_H_
#define ROSTER_SERVER_DOMAIN_IDENTIFIER_KIND_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/validation.h"
#include "storage/records.h"
#include "storage/user_store.h"

namespace roster::domain::internal {

// The parts of UserRecord one identifier kind lives in.
template <typename Record>
struct Kind;

template <>
struct Kind<storage::EmailAddressRecord> {
  static constexpr const char* kField = "email_address";
  static constexpr const char* kIdField = "email_address_id";
  static constexpr const char* kCodeStrategy = "email_code";
  static constexpr storage::IdentifierKind kStoreKind =
      storage::IdentifierKind::kEmailAddress;
  static std::vector<storage::EmailAddressRecord>& List(
      storage::UserRecord& u) {
    return u.email_addresses;
  }
  static std::string& Primary(storage::UserRecord& u) {
    return u.primary_email_address_id;
  }
  static std::string& Value(storage::EmailAddressRecord& r) {
    return r.email_address;
  }
  static const std::vector<storage::EmailAddressRecord>& List(
      const storage::UserRecord& u) {
    return u.email_addresses;
  }
  static const std::string& Value(const storage::EmailAddressRecord& r) {
    return r.email_address;
  }
  static absl::StatusOr<std::string> Normalize(absl::string_view v) {
    return NormalizeEmailAddress(v);
  }
};

template <>
struct Kind<storage::PhoneNumberRecord> {
  static constexpr const char* kField = "phone_number";
  static constexpr const char* kIdField = "phone_number_id";
  static constexpr const char* kCodeStrategy = "phone_code";
  static constexpr storage::IdentifierKind kStoreKind =
      storage::IdentifierKind::kPhoneNumber;
  static std::vector<storage::PhoneNumberRecord>& List(storage::UserRecord& u) {
    return u.phone_numbers;
  }
  static std::string& Primary(storage::UserRecord& u) {
    return u.primary_phone_number_id;
  }
  static std::string& Value(storage::PhoneNumberRecord& r) {
    return r.phone_number;
  }
  static const std::vector<storage::PhoneNumberRecord>& List(
      const storage::UserRecord& u) {
    return u.phone_numbers;
  }
  static const std::string& Value(const storage::PhoneNumberRecord& r) {
    return r.phone_number;
  }
  static absl::StatusOr<std::string> Normalize(absl::string_view v) {
    return NormalizePhoneNumber(v);
  }
};

template <typename Record>
Record* Find(storage::UserRecord& u, absl::string_view id) {
  auto& list = Kind<Record>::List(u);
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const Record& r) { return r.id == id; });
  return it == list.end() ? nullptr : &*it;
}

}  // namespace roster::domain::internal

#endif  // ROSTER_SERVER_DOMAIN_IDENTIFIER_KIND_H_

#include "storage/sqlite/identifier_column.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/identifier_union.h"

namespace roster::storage {
namespace {

// Field order per kind (migration 6's SQL writes the same):
//   e: id, email_address, status, strategy, attempts, expire_at, created_at,
//      updated_at, code_digest
//   p: the same with phone_number, then reserved_for_second_factor,
//      default_second_factor
//   x: id, provider_user_id, status, strategy, attempts, expire_at,
//      created_at, updated_at, provider, email_address, first_name,
//      last_name, username, image_url, approved_scopes (space-separated, as
//      the table keeps them), public_metadata

void AppendField(std::string& out, absl::string_view value) {
  absl::StrAppend(&out, value.size(), ":", value);
}

void AppendField(std::string& out, int64_t value) {
  AppendField(out, absl::StrCat(value));
}

void AppendVerification(std::string& out, const VerificationRecord& v) {
  AppendField(out, static_cast<int64_t>(v.status));
  AppendField(out, v.strategy);
  AppendField(out, int64_t{v.attempts});
  AppendField(out, v.expire_at);
}

// Reads fields off the front of a column; any malformed field sets failed_.
class FieldReader {
 public:
  explicit FieldReader(absl::string_view in) : in_(in) {}

  bool done() const { return in_.empty(); }
  bool failed() const { return failed_; }

  char Kind() {
    if (in_.empty()) {
      failed_ = true;
      return 0;
    }
    const char kind = in_.front();
    in_.remove_prefix(1);
    return kind;
  }

  std::string Text() { return std::string(Field()); }

  int64_t Int() {
    int64_t value = 0;
    if (!absl::SimpleAtoi(Field(), &value)) {
      failed_ = true;
    }
    return value;
  }

  void Read(VerificationRecord& v) {
    v.status = static_cast<VerificationStatus>(Int());
    v.strategy = Text();
    v.attempts = static_cast<int32_t>(Int());
    v.expire_at = Int();
  }

 private:
  absl::string_view Field() {
    const size_t colon = in_.find(':');
    size_t size = 0;
    if (failed_ || colon == absl::string_view::npos ||
        !absl::SimpleAtoi(in_.substr(0, colon), &size) ||
        size > in_.size() - colon - 1) {
      failed_ = true;
      in_ = {};
      return {};
    }
    absl::string_view field = in_.substr(colon + 1, size);
    in_.remove_prefix(colon + 1 + size);
    return field;
  }

  absl::string_view in_;
  bool failed_ = false;
};

}  // namespace

std::string EncodeIdentifierColumn(const UserRecord& user) {
  std::string out;
  for (const EmailAddressRecord& e : user.email_addresses) {
    out += 'e';
    AppendField(out, e.id);
    AppendField(out, e.email_address);
    AppendVerification(out, e.verification);
    AppendField(out, e.created_at);
    AppendField(out, e.updated_at);
    AppendField(out, e.verification.code_digest);
  }
  for (const PhoneNumberRecord& p : user.phone_numbers) {
    out += 'p';
    AppendField(out, p.id);
    AppendField(out, p.phone_number);
    AppendVerification(out, p.verification);
    AppendField(out, p.created_at);
    AppendField(out, p.updated_at);
    AppendField(out, p.verification.code_digest);
    AppendField(out, int64_t{p.reserved_for_second_factor ? 1 : 0});
    AppendField(out, int64_t{p.default_second_factor ? 1 : 0});
  }
  for (const ExternalAccountRecord& a : user.external_accounts) {
    out += 'x';
    AppendField(out, a.id);
    AppendField(out, a.provider_user_id);
    AppendVerification(out, a.verification);
    AppendField(out, a.created_at);
    AppendField(out, a.updated_at);
    AppendField(out, a.provider);
    AppendField(out, a.email_address);
    AppendField(out, a.first_name);
    AppendField(out, a.last_name);
    AppendField(out, a.username);
    AppendField(out, a.image_url);
    AppendField(out, absl::StrJoin(a.approved_scopes, " "));
    AppendField(out, a.public_metadata);
  }
  return out;
}

bool DecodeIdentifierColumn(absl::string_view column, UserRecord& user) {
  std::vector<EmailAddressRecord> emails;
  std::vector<PhoneNumberRecord> phones;
  std::vector<ExternalAccountRecord> accounts;
  FieldReader in(column);
  while (!in.done() && !in.failed()) {
    switch (in.Kind()) {
      case 'e': {
        EmailAddressRecord& e = emails.emplace_back();
        e.user_id = user.id;
        e.id = in.Text();
        e.email_address = in.Text();
        in.Read(e.verification);
        e.created_at = in.Int();
        e.updated_at = in.Int();
        e.verification.code_digest = in.Text();
        break;
      }
      case 'p': {
        PhoneNumberRecord& p = phones.emplace_back();
        p.user_id = user.id;
        p.id = in.Text();
        p.phone_number = in.Text();
        in.Read(p.verification);
        p.created_at = in.Int();
        p.updated_at = in.Int();
        p.verification.code_digest = in.Text();
        p.reserved_for_second_factor = in.Int() != 0;
        p.default_second_factor = in.Int() != 0;
        break;
      }
      case 'x': {
        ExternalAccountRecord& a = accounts.emplace_back();
        a.user_id = user.id;
        a.id = in.Text();
        a.provider_user_id = in.Text();
        in.Read(a.verification);
        a.created_at = in.Int();
        a.updated_at = in.Int();
        a.provider = in.Text();
        a.email_address = in.Text();
        a.first_name = in.Text();
        a.last_name = in.Text();
        a.username = in.Text();
        a.image_url = in.Text();
        a.approved_scopes = absl::StrSplit(in.Text(), ' ', absl::SkipEmpty());
        a.public_metadata = in.Text();
        break;
      }
      default:
        return false;
    }
  }
  if (in.failed()) {
    return false;
  }
  user.email_addresses = std::move(emails);
  user.phone_numbers = std::move(phones);
  user.external_accounts = std::move(accounts);
  SortIdentifiers(user);
  return true;
}

}  // namespace roster::storage

#include "storage/sign_up_row.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/user_row.h"

namespace roster::storage {

const std::vector<std::string>& SignUpColumns() {
  static const std::vector<std::string>* const kColumns =
      new std::vector<std::string>{
          "id",
          "status",
          "email_address",
          "email_verification_status",
          "email_verification_strategy",
          "email_verification_attempts",
          "email_verification_expire_at",
          "email_verification_code_digest",
          "phone_number",
          "phone_verification_status",
          "phone_verification_strategy",
          "phone_verification_attempts",
          "phone_verification_expire_at",
          "phone_verification_code_digest",
          "username",
          "first_name",
          "last_name",
          "password_hash",
          "unsafe_metadata",
          "public_metadata",
          "invitation_id",
          "legal_accepted_at",
          "created_user_id",
          "created_session_id",
          "expire_at",
          "created_at",
          "updated_at",
          "external_account",
      };
  return *kColumns;
}

std::string SelectSignUpSql(SqlDialect dialect) {
  return absl::StrCat("SELECT ", absl::StrJoin(SignUpColumns(), ", "),
                      " FROM sign_ups WHERE id = ",
                      dialect == SqlDialect::kPostgres ? "$1" : "?");
}

std::string UpsertSignUpSql(SqlDialect dialect) {
  return UpsertSql("sign_ups", SignUpColumns(), dialect);
}

std::vector<SqlValue> SignUpValues(const SignUpRecord& r) {
  std::vector<SqlValue> values;
  values.reserve(SignUpColumns().size());
  auto verification = [&](const VerificationRecord& v) {
    values.emplace_back(static_cast<int64_t>(v.status));
    values.emplace_back(v.strategy);
    values.emplace_back(int64_t{v.attempts});
    values.emplace_back(v.expire_at);
    values.emplace_back(v.code_digest);
  };
  values.emplace_back(r.id);
  values.emplace_back(static_cast<int64_t>(r.status));
  values.emplace_back(r.email_address);
  verification(r.email_verification);
  values.emplace_back(r.phone_number);
  verification(r.phone_verification);
  for (const std::string* text :
       {&r.username, &r.first_name, &r.last_name, &r.password_hash,
        &r.unsafe_metadata, &r.public_metadata, &r.invitation_id}) {
    values.emplace_back(*text);
  }
  values.emplace_back(r.legal_accepted_at);
  values.emplace_back(r.created_user_id);
  values.emplace_back(r.created_session_id);
  values.emplace_back(r.expire_at);
  values.emplace_back(r.created_at);
  values.emplace_back(r.updated_at);
  values.emplace_back(r.external_account);
  return values;
}

}  // namespace roster::storage

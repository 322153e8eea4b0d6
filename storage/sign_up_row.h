// The sign_ups row as SQL for both adapters: its columns, the values a write
// binds, a reader over any row type, and one upsert statement. Internal to
// storage/.
#ifndef ROSTER_STORAGE_SIGN_UP_ROW_H_
#define ROSTER_STORAGE_SIGN_UP_ROW_H_

#include <string>
#include <vector>

#include "storage/records.h"
#include "storage/user_query_sql.h"

namespace roster::storage {

// The columns, id first, in the order SignUpValues and ReadSignUpColumns use.
const std::vector<std::string>& SignUpColumns();

// "SELECT <columns> FROM sign_ups WHERE id = ?" ($1 on PostgreSQL).
std::string SelectSignUpSql(SqlDialect dialect);

// INSERT … ON CONFLICT (id) DO UPDATE: one statement for new and changed rows.
std::string UpsertSignUpSql(SqlDialect dialect);

// `sign_up`'s values for SignUpColumns().
std::vector<SqlValue> SignUpValues(const SignUpRecord& sign_up);

// The sign-up from a row in SignUpColumns() order. `Row` has
// `std::string Text(int column)` and `int64_t Int(int column)`.
template <typename Row>
SignUpRecord ReadSignUpColumns(const Row& row) {
  int column = 0;
  auto text = [&] { return row.Text(column++); };
  auto number = [&] { return row.Int(column++); };
  auto verification = [&](VerificationRecord& v) {
    v.status = static_cast<VerificationStatus>(number());
    v.strategy = text();
    v.attempts = static_cast<int32_t>(number());
    v.expire_at = number();
    v.code_digest = text();
  };
  SignUpRecord r;
  r.id = text();
  r.status = static_cast<SignUpStatus>(number());
  r.email_address = text();
  verification(r.email_verification);
  r.phone_number = text();
  verification(r.phone_verification);
  r.username = text();
  r.first_name = text();
  r.last_name = text();
  r.password_hash = text();
  r.unsafe_metadata = text();
  r.public_metadata = text();
  r.invitation_id = text();
  r.legal_accepted_at = number();
  r.created_user_id = text();
  r.created_session_id = text();
  r.expire_at = number();
  r.created_at = number();
  r.updated_at = number();
  r.external_account = text();
  return r;
}

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SIGN_UP_ROW_H_

// The sign_in_attempts row as SQL for both adapters. Internal to storage/.
#ifndef ROSTER_STORAGE_SIGN_IN_ATTEMPT_ROW_H_
#define ROSTER_STORAGE_SIGN_IN_ATTEMPT_ROW_H_

#include <string>
#include <vector>

#include "storage/records.h"
#include "storage/user_query_sql.h"

namespace roster::storage {

// "SELECT <columns> FROM sign_in_attempts WHERE id = ?" (`?` markers).
std::string SelectSignInAttemptSql();
// INSERT … ON CONFLICT (id) DO UPDATE, numbered for `dialect`.
std::string UpsertSignInAttemptSql(SqlDialect dialect);
std::vector<SqlValue> SignInAttemptValues(const SignInAttemptRecord& attempt);

// `Row` has `std::string Text(int column)` and `int64_t Int(int column)`.
template <typename Row>
SignInAttemptRecord ReadSignInAttemptColumns(const Row& row) {
  SignInAttemptRecord r;
  r.id = row.Text(0);
  r.status = static_cast<SignInAttemptStatus>(row.Int(1));
  r.identifier = row.Text(2);
  r.user_id = row.Text(3);
  r.code_strategy = row.Text(4);
  r.code_digest = row.Text(5);
  r.code_expire_at = row.Int(6);
  r.failures = static_cast<int32_t>(row.Int(7));
  r.created_session_id = row.Text(8);
  r.expire_at = row.Int(9);
  r.created_at = row.Int(10);
  r.updated_at = row.Int(11);
  return r;
}

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SIGN_IN_ATTEMPT_ROW_H_

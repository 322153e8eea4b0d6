#include "storage/sign_in_attempt_row.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/user_row.h"

namespace roster::storage {
namespace {

const std::vector<std::string>& AttemptColumns() {
  static const std::vector<std::string>* const kColumns =
      new std::vector<std::string>{"id",
                                   "status",
                                   "identifier",
                                   "user_id",
                                   "code_strategy",
                                   "code_digest",
                                   "code_expire_at",
                                   "failures",
                                   "created_session_id",
                                   "expire_at",
                                   "created_at",
                                   "updated_at"};
  return *kColumns;
}

}  // namespace

std::string SelectSignInAttemptSql() {
  return absl::StrCat("SELECT ", absl::StrJoin(AttemptColumns(), ", "),
                      " FROM sign_in_attempts WHERE id = ?");
}

std::string UpsertSignInAttemptSql(SqlDialect dialect) {
  return UpsertSql("sign_in_attempts", AttemptColumns(), dialect);
}

std::vector<SqlValue> SignInAttemptValues(const SignInAttemptRecord& r) {
  return {r.id,
          int64_t{static_cast<int>(r.status)},
          r.identifier,
          r.user_id,
          r.code_strategy,
          r.code_digest,
          r.code_expire_at,
          int64_t{r.failures},
          r.created_session_id,
          r.expire_at,
          r.created_at,
          r.updated_at};
}

}  // namespace roster::storage

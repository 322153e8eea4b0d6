#include "storage/invitation_row.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/user_row.h"

namespace roster::storage {
namespace {

const std::vector<std::string>& InvitationColumns() {
  static const std::vector<std::string>* const kColumns =
      new std::vector<std::string>{"id",
                                   "email_address",
                                   "status",
                                   "public_metadata",
                                   "redirect_url",
                                   "ticket_digest",
                                   "accepted_user_id",
                                   "expire_at",
                                   "created_at",
                                   "updated_at"};
  return *kColumns;
}

// The WHERE clause of `query`.
SqlClause Where(const InvitationQuery& query) {
  SqlClause where;
  where.sql = kNoCondition;
  if (query.expired) {
    where.sql = "status = ? AND expire_at <= ?";
    where.params = {int64_t{static_cast<int>(InvitationStatus::kPending)},
                    query.now};
  } else if (query.status == static_cast<int>(InvitationStatus::kPending)) {
    where.sql = "status = ? AND expire_at > ?";
    where.params = {int64_t{query.status}, query.now};
  } else if (query.status != 0) {
    where.sql = "status = ?";
    where.params = {int64_t{query.status}};
  }
  if (!query.email_contains.empty()) {
    // Addresses are stored lower-case and the query is too, so LIKE's case
    // rules (ASCII-insensitive on SQLite, sensitive on PostgreSQL) agree.
    std::string pattern = "%";
    for (char ch : query.email_contains) {
      if (ch == '%' || ch == '_' || ch == '\\') {
        pattern.push_back('\\');
      }
      pattern.push_back(ch);
    }
    pattern.push_back('%');
    absl::StrAppend(&where.sql, " AND email_address LIKE ? ESCAPE '\\'");
    where.params.emplace_back(std::move(pattern));
  }
  return where;
}

}  // namespace

std::string SelectInvitationBySql(const char* column) {
  return absl::StrCat("SELECT ", absl::StrJoin(InvitationColumns(), ", "),
                      " FROM invitations WHERE ", column, " = ?");
}

std::string UpsertInvitationSql(SqlDialect dialect) {
  return UpsertSql("invitations", InvitationColumns(), dialect);
}

std::vector<SqlValue> InvitationValues(const InvitationRecord& r) {
  return {r.id,
          r.email_address,
          int64_t{static_cast<int>(r.status)},
          r.public_metadata,
          r.redirect_url,
          r.ticket_digest,
          r.accepted_user_id,
          r.expire_at,
          r.created_at,
          r.updated_at};
}

SqlClause InvitationPageSql(const InvitationQuery& query) {
  SqlClause page = Where(query);
  page.sql =
      absl::StrCat("SELECT ", absl::StrJoin(InvitationColumns(), ", "),
                   " FROM invitations WHERE ", page.sql,
                   " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?");
  page.params.emplace_back(query.limit);
  page.params.emplace_back(query.offset);
  return page;
}

SqlClause InvitationCountSql(const InvitationQuery& query) {
  SqlClause count = Where(query);
  count.sql =
      absl::StrCat("SELECT COUNT(*) FROM invitations WHERE ", count.sql);
  return count;
}

}  // namespace roster::storage

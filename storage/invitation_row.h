// The invitations row as SQL for both adapters: its columns, the values a
// write binds, a reader over any row type, and the statements. Statements use
// `?` markers; the PostgreSQL adapter numbers them. Internal to storage/.
#ifndef ROSTER_STORAGE_INVITATION_ROW_H_
#define ROSTER_STORAGE_INVITATION_ROW_H_

#include <string>
#include <vector>

#include "storage/records.h"
#include "storage/user_query_sql.h"

namespace roster::storage {

// "SELECT <columns> FROM invitations WHERE <column> = ?".
std::string SelectInvitationBySql(const char* column);

// INSERT … ON CONFLICT (id) DO UPDATE, numbered for `dialect`.
std::string UpsertInvitationSql(SqlDialect dialect);

// `invitation`'s values in UpsertInvitationSql's order.
std::vector<SqlValue> InvitationValues(const InvitationRecord& invitation);

// The page of `query` (LIMIT and OFFSET bound last) and its count.
SqlClause InvitationPageSql(const InvitationQuery& query);
SqlClause InvitationCountSql(const InvitationQuery& query);

// The invitation from a row selected by the statements above. `Row` has
// `std::string Text(int column)` and `int64_t Int(int column)`.
template <typename Row>
InvitationRecord ReadInvitationColumns(const Row& row) {
  InvitationRecord r;
  r.id = row.Text(0);
  r.email_address = row.Text(1);
  r.status = static_cast<InvitationStatus>(row.Int(2));
  r.public_metadata = row.Text(3);
  r.redirect_url = row.Text(4);
  r.ticket_digest = row.Text(5);
  r.accepted_user_id = row.Text(6);
  r.expire_at = row.Int(7);
  r.created_at = row.Int(8);
  r.updated_at = row.Int(9);
  return r;
}

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_INVITATION_ROW_H_

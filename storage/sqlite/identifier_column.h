// The users.identifiers column: a copy of a user's rows in the three
// identifier tables, kept in the user's own row so that reading a user is one
// b-tree search instead of four. The tables stay the truth (their indexes
// enforce uniqueness and answer lookups by value); every write of a user's
// identifiers rewrites the column in the same transaction, and migration 6
// filled it from the tables in SQL (which IdentifierColumnTest checks against
// EncodeIdentifierColumn).
//
// Format, all text: one record per identifier, each a kind letter ('e' email
// address, 'p' phone number, 'x' external account) and then its fields, each
// as <decimal byte length>:<bytes>, integers in decimal. The fields are the
// ones the tables store, in the order of the kField* lists in the .cc; the
// records may come in any order. Internal to storage/.
#ifndef ROSTER_STORAGE_SQLITE_IDENTIFIER_COLUMN_H_
#define ROSTER_STORAGE_SQLITE_IDENTIFIER_COLUMN_H_

#include <string>

#include "absl/strings/string_view.h"
#include "storage/records.h"

namespace roster::storage {

// The column's value for `user`'s identifiers, in the order the record holds
// them.
std::string EncodeIdentifierColumn(const UserRecord& user);

// Replaces `user`'s identifiers with those in `column`, each kind oldest
// first (then by id), with user_id set to user.id. False, leaving `user`
// unchanged, when `column` is not in the format above.
bool DecodeIdentifierColumn(absl::string_view column, UserRecord& user);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_IDENTIFIER_COLUMN_H_

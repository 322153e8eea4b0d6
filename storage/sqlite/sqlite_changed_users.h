// ChangedUsers: the ids of users whose rows a connection inserted, updated or
// deleted (the user row or any of its identifier rows), and the lookup keys
// (UserCache's LookupKey) of the identifier values those rows held before or
// after, collected by SQLite's pre-update hook. Hooking the connection rather
// than each write path means no present or future statement can change a user
// without it being noticed, which is what the user cache's correctness rests
// on. Internal to storage/.
//
// Thread-compatible: the hook runs on whichever thread uses the connection.
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_CHANGED_USERS_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_CHANGED_USERS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/user_store.h"

namespace roster::storage {

class ChangedUsers {
 public:
  ChangedUsers() = default;
  ~ChangedUsers();

  ChangedUsers(const ChangedUsers&) = delete;
  ChangedUsers& operator=(const ChangedUsers&) = delete;

  // Starts collecting from `connection`, which must outlive this object (its
  // destruction removes the hook). Internal if the schema lacks the tables.
  absl::Status Attach(SqliteConnection& connection);

  struct Changes {
    std::vector<std::string> user_ids;     // Duplicates possible.
    std::vector<std::string> lookup_keys;  // Likewise.
  };
  // What was collected since the last call.
  Changes Take();

 private:
  // A table holding user rows, and the column that names the user.
  struct TrackedTable {
    const char* name;
    const char* user_column;
    int column_index;
  };
  // A column of a tracked table holding identifiers that ListUsers filters
  // on.
  struct TrackedIdentifier {
    const char* table;
    const char* column;
    IdentifierKind kind;
    int column_index;
  };

  // Called by the hook before each row change.
  void Record(struct sqlite3* db, int op, const char* database,
              const char* table);

  struct sqlite3* db_ = nullptr;
  std::vector<TrackedTable> tables_ = {{"users", "id", -1},
                                       {"email_addresses", "user_id", -1},
                                       {"phone_numbers", "user_id", -1},
                                       {"external_accounts", "user_id", -1}};
  std::vector<TrackedIdentifier> identifiers_ = {
      {"users", "username", IdentifierKind::kUsername, -1},
      {"users", "external_id", IdentifierKind::kExternalId, -1},
      {"email_addresses", "email_address", IdentifierKind::kEmailAddress, -1},
      {"phone_numbers", "phone_number", IdentifierKind::kPhoneNumber, -1}};
  Changes changes_;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_CHANGED_USERS_H_

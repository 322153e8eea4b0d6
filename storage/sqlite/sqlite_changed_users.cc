// The pre-update hook's declarations are compiled in only with this macro;
// Debian's libsqlite3 is built with it.
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "storage/sqlite/sqlite_changed_users.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "storage/sqlite/user_cache.h"

namespace roster::storage {
namespace {

// The value as text; empty for NULL.
absl::string_view Text(sqlite3_value* value) {
  const auto* text = sqlite3_value_text(value);
  if (text == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char*>(text),
          static_cast<size_t>(sqlite3_value_bytes(value))};
}

// Calls `use` with the column's value before the change (unless an insert)
// and after it (unless a delete).
template <typename Use>
void OldAndNew(sqlite3* db, int op, int column, Use use) {
  sqlite3_value* value = nullptr;
  if (op != SQLITE_INSERT &&
      sqlite3_preupdate_old(db, column, &value) == SQLITE_OK) {
    use(Text(value));
  }
  if (op != SQLITE_DELETE &&
      sqlite3_preupdate_new(db, column, &value) == SQLITE_OK) {
    use(Text(value));
  }
}

}  // namespace

ChangedUsers::~ChangedUsers() {
  if (db_ != nullptr) {
    sqlite3_preupdate_hook(db_, nullptr, nullptr);
  }
}

absl::Status ChangedUsers::Attach(SqliteConnection& connection) {
  try {
    auto& column = connection.Prepare(
        "SELECT cid FROM pragma_table_info(?1) WHERE name = ?2");
    auto index_of = [&](const char* table, const char* name, int& index) {
      column.bind(1, table);
      column.bind(2, name);
      const bool found = column.executeStep();
      index = found ? column.getColumn(0).getInt() : -1;
      column.reset();
      return found ? absl::OkStatus()
                   : absl::InternalError(absl::StrCat("schema has no column ",
                                                      table, ".", name));
    };
    for (TrackedTable& table : tables_) {
      absl::Status found =
          index_of(table.name, table.user_column, table.column_index);
      if (!found.ok()) {
        return found;
      }
    }
    for (TrackedIdentifier& identifier : identifiers_) {
      absl::Status found = index_of(identifier.table, identifier.column,
                                    identifier.column_index);
      if (!found.ok()) {
        return found;
      }
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, "reading the schema");
  }
  db_ = connection.db().getHandle();
  sqlite3_preupdate_hook(
      db_,
      [](void* self, sqlite3* db, int op, const char* database,
         const char* table, sqlite3_int64 /*old_rowid*/,
         sqlite3_int64 /*new_rowid*/) {
        static_cast<ChangedUsers*>(self)->Record(db, op, database, table);
      },
      this);
  return absl::OkStatus();
}

ChangedUsers::Changes ChangedUsers::Take() {
  return std::exchange(changes_, {});
}

void ChangedUsers::Record(sqlite3* db, int op, const char* database,
                          const char* table) {
  if (std::strcmp(database, "main") != 0) {
    return;
  }
  for (const TrackedTable& tracked : tables_) {
    if (std::strcmp(table, tracked.name) != 0) {
      continue;
    }
    OldAndNew(db, op, tracked.column_index, [&](absl::string_view id) {
      if (!id.empty()) {
        changes_.user_ids.emplace_back(id);
      }
    });
    break;
  }
  for (const TrackedIdentifier& identifier : identifiers_) {
    if (std::strcmp(table, identifier.table) != 0) {
      continue;
    }
    OldAndNew(db, op, identifier.column_index, [&](absl::string_view value) {
      if (!value.empty()) {
        changes_.lookup_keys.push_back(LookupKey(identifier.kind, value));
      }
    });
  }
}

}  // namespace roster::storage

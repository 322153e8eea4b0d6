// The pre-update hook's declarations are compiled in only with this macro;
// Debian's libsqlite3 is built with it.
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "storage/sqlite_changed_users.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace roster::storage {
namespace {

void AppendText(sqlite3_value* value, std::vector<std::string>& ids) {
  const auto* text = sqlite3_value_text(value);
  if (text != nullptr) {
    ids.emplace_back(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_value_bytes(value)));
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
    for (TrackedTable& table : tables_) {
      column.bind(1, table.name);
      column.bind(2, table.user_column);
      if (!column.executeStep()) {
        column.reset();
        return absl::InternalError(absl::StrCat(
            "schema has no column ", table.name, ".", table.user_column));
      }
      table.column_index = column.getColumn(0).getInt();
      column.reset();
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

std::vector<std::string> ChangedUsers::Take() {
  return std::exchange(ids_, {});
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
    sqlite3_value* value = nullptr;
    if (op != SQLITE_INSERT &&
        sqlite3_preupdate_old(db, tracked.column_index, &value) == SQLITE_OK) {
      AppendText(value, ids_);
    }
    if (op != SQLITE_DELETE &&
        sqlite3_preupdate_new(db, tracked.column_index, &value) == SQLITE_OK) {
      AppendText(value, ids_);
    }
    return;
  }
}

}  // namespace roster::storage

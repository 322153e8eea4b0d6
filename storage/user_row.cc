#include "storage/user_row.h"

#include <cstddef>
#include <utility>

#include "absl/strings/str_cat.h"

namespace roster::storage {
namespace {

// Counts an aggregate's members: the most initialisers `T{…}` accepts. It
// makes forgetting a new UserRecord member's line in kUserRow a compile error
// (a member with no line would be silently not stored). Probing with fewer
// initialisers than members is the point, so clang's warning about them is
// off here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
struct AnyField {
  template <typename T>
  operator T() const;  // NOLINT(google-explicit-constructor): unevaluated only.
};
template <typename T, typename... Fields>
constexpr bool BraceInitializable(decltype(void(T{
    std::declval<Fields>()...}))*) {
  return true;
}
template <typename T, typename... Fields>
constexpr bool BraceInitializable(...) {
  return false;
}
template <typename T, typename... Fields>
constexpr size_t CountFields() {
  if constexpr (BraceInitializable<T, Fields..., AnyField>(nullptr)) {
    return CountFields<T, Fields..., AnyField>();
  } else {
    return sizeof...(Fields);
  }
}
static_assert(CountFields<UserRecord>() == kUserRow.size() + 3,
              "each UserRecord member but the three identifier lists needs "
              "its line in kUserRow (records.h)");
#pragma GCC diagnostic pop

std::string Placeholder(int index, SqlDialect dialect) {
  return absl::StrCat(dialect == SqlDialect::kSqlite ? "?" : "$", index);
}

}  // namespace

const std::string& UserSelectList() {
  static const std::string* const kList = [] {
    auto* list = new std::string;
    for (const UserColumn& column : kUserRow) {
      absl::StrAppend(list, list->empty() ? "" : ", ", "u.", column.name);
    }
    return list;
  }();
  return *kList;
}

const std::vector<std::string>& UserWrittenColumns() {
  static const std::vector<std::string>* const kColumns = [] {
    auto* columns = new std::vector<std::string>;
    for (const UserColumn& column : kUserRow) {
      columns->emplace_back(column.name);
    }
    columns->emplace_back("primary_email_address");
    columns->emplace_back("primary_phone_number");
    return columns;
  }();
  return *kColumns;
}

std::vector<SqlValue> UserWrittenValues(const UserRecord& user) {
  std::vector<SqlValue> values;
  values.reserve(kUserRow.size() + 2);
  for (const UserColumn& column : kUserRow) {
    std::visit(
        [&](auto member) {
          const auto& value = user.*member;
          if constexpr (std::is_same_v<std::decay_t<decltype(value)>,
                                       std::string>) {
            values.emplace_back(value);
          } else {
            values.emplace_back(static_cast<int64_t>(value));
          }
        },
        column.member);
  }
  values.emplace_back(PrimaryEmailAddress(user));
  values.emplace_back(PrimaryPhoneNumber(user));
  return values;
}

std::string InsertSql(const std::string& table,
                      const std::vector<std::string>& columns,
                      SqlDialect dialect) {
  std::string names, placeholders;
  for (size_t i = 0; i < columns.size(); ++i) {
    absl::StrAppend(&names, i == 0 ? "" : ", ", columns[i]);
    absl::StrAppend(&placeholders, i == 0 ? "" : ", ",
                    Placeholder(static_cast<int>(i) + 1, dialect));
  }
  return absl::StrCat("INSERT INTO ", table, " (", names, ") VALUES (",
                      placeholders, ")");
}

std::string UpsertSql(const std::string& table,
                      const std::vector<std::string>& columns,
                      SqlDialect dialect) {
  std::string sql =
      absl::StrCat(InsertSql(table, columns, dialect), " ON CONFLICT (",
                   columns[0], ") DO UPDATE SET ");
  for (size_t i = 1; i < columns.size(); ++i) {
    absl::StrAppend(&sql, i == 1 ? "" : ", ", columns[i], " = excluded.",
                    columns[i]);
  }
  return sql;
}

std::string UpdateSql(const std::string& table,
                      const std::vector<std::string>& columns,
                      const std::vector<int>& changed, SqlDialect dialect) {
  std::string sql = absl::StrCat("UPDATE ", table, " SET ");
  for (size_t i = 0; i < changed.size(); ++i) {
    absl::StrAppend(&sql, i == 0 ? "" : ", ",
                    columns[static_cast<size_t>(changed[i])], " = ",
                    Placeholder(changed[i] + 1, dialect));
  }
  absl::StrAppend(&sql, " WHERE ", columns[0], " = ", Placeholder(1, dialect));
  return sql;
}

std::vector<int> ChangedColumns(const std::vector<SqlValue>& before,
                                const std::vector<SqlValue>& after) {
  std::vector<int> changed;
  for (size_t i = 1; i < before.size() && i < after.size(); ++i) {
    if (before[i] != after[i]) {
      changed.push_back(static_cast<int>(i));
    }
  }
  return changed;
}

}  // namespace roster::storage

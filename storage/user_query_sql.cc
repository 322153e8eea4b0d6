#include "storage/user_query_sql.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/metadata_index.h"

namespace roster::storage {
namespace {

// " IN (?, ?, …)" over `count` values.
std::string InMarks(size_t count) {
  std::vector<std::string> marks(count, "?");
  return absl::StrCat(" IN (", absl::StrJoin(marks, ","), ")");
}

// A filter's lists of identifiers. Each matches a column of users, or the
// users an identifier table names (`holders` selects their ids by value). The
// filter and its lookup (SqlClause::lookup_sql) both read this table, so they
// test the same thing.
struct IdentifierList {
  const std::vector<std::string>* values;
  const char* users_column;  // Null when `holders` is set.
  const char* holders;
};

std::array<IdentifierList, 5> IdentifierLists(const UserFilter& filter) {
  return {{
      {&filter.email_addresses, nullptr,
       "SELECT user_id FROM email_addresses WHERE email_address"},
      {&filter.phone_numbers, nullptr,
       "SELECT user_id FROM phone_numbers WHERE phone_number"},
      {&filter.usernames, "u.username", nullptr},
      {&filter.external_ids, "u.external_id", nullptr},
      {&filter.user_ids, "u.id", nullptr},
  }};
}

// Builds a conjunction of conditions with their parameters in order.
class ConditionBuilder {
 public:
  // Adds `sql`, whose `?`s bind `params` in order.
  void Add(std::string sql, std::vector<SqlValue> params) {
    conditions_.push_back(std::move(sql));
    for (auto& p : params) {
      params_.push_back(std::move(p));
    }
  }

  // Adds "`expr` IN (?, ?, …)" over `values`; nothing when `values` is empty.
  void AddIn(const std::string& expr_prefix,
             const std::vector<std::string>& values,
             const std::string& expr_suffix = "") {
    if (values.empty()) {
      return;
    }
    std::vector<SqlValue> params(values.begin(), values.end());
    Add(absl::StrCat(expr_prefix, InMarks(values.size()), expr_suffix),
        std::move(params));
  }

  size_t size() const { return conditions_.size(); }

  SqlClause Build() && {
    SqlClause clause;
    clause.sql = conditions_.empty() ? kNoCondition
                                     : absl::StrJoin(conditions_, " AND ");
    clause.params = std::move(params_);
    return clause;
  }

 private:
  std::vector<std::string> conditions_;
  std::vector<SqlValue> params_;
};

// A LIKE pattern matching `needle` anywhere, with LIKE's wildcards escaped by
// '\'.
std::string ContainsPattern(const std::string& needle) {
  std::string pattern = "%";
  for (char c : needle) {
    if (c == '%' || c == '_' || c == '\\') {
      pattern.push_back('\\');
    }
    pattern.push_back(c);
  }
  pattern.push_back('%');
  return pattern;
}

// SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE is its counterpart.
const char* Like(SqlDialect dialect) {
  return dialect == SqlDialect::kSqlite ? " LIKE ? ESCAPE '\\'"
                                        : " ILIKE ? ESCAPE '\\'";
}

// The rows of the metadata index (storage/metadata_index.h) that hold a
// filter's value at its path.
constexpr char kMetadataRows[] =
    "FROM user_metadata_values WHERE tier = ? AND path = ? AND value = ?";

// The users whose metadata holds the filter's value at its path.
void AddMetadataFilter(const MetadataFilter& filter, ConditionBuilder& where) {
  where.Add(absl::StrCat("u.id IN (SELECT user_id ", kMetadataRows, ")"),
            {MetadataTierCode(filter.tier), MetadataIndexPath(filter.path),
             MetadataIndexValue(filter.value)});
}

// `column` strictly before / after a bound; unset (0) values match neither.
void AddTimeRange(const char* column, const std::optional<Micros>& before,
                  const std::optional<Micros>& after, ConditionBuilder& where) {
  if (before.has_value()) {
    where.Add(absl::StrCat(column, " <> 0 AND ", column, " < ?"), {*before});
  }
  if (after.has_value()) {
    where.Add(absl::StrCat(column, " <> 0 AND ", column, " > ?"), {*after});
  }
}

template <typename Record, typename Field>
std::string PrimaryValue(const std::vector<Record>& records,
                         const std::string& primary_id, Field field) {
  for (const auto& r : records) {
    if (r.id == primary_id) {
      return r.*field;
    }
  }
  return "";
}

// SqlClause::lookup_sql for a filter whose conditions number `conditions`:
// the same test as the filter's one condition, without the users table when
// an identifier table or the metadata index holds the values.
std::string LookupSql(const UserFilter& filter, size_t conditions) {
  if (conditions != 1) {
    return "";
  }
  if (filter.metadata_filters.size() == 1) {
    return absl::StrCat("SELECT user_id ", kMetadataRows);
  }
  for (const IdentifierList& list : IdentifierLists(filter)) {
    if (list.values->empty()) {
      continue;
    }
    const std::string marks = InMarks(list.values->size());
    return list.holders != nullptr
               ? absl::StrCat(list.holders, marks)
               : absl::StrCat("SELECT u.id FROM users u WHERE ",
                              list.users_column, marks);
  }
  return "";
}

}  // namespace

std::string PrimaryEmailAddress(const UserRecord& user) {
  return PrimaryValue(user.email_addresses, user.primary_email_address_id,
                      &EmailAddressRecord::email_address);
}

std::string PrimaryPhoneNumber(const UserRecord& user) {
  return PrimaryValue(user.phone_numbers, user.primary_phone_number_id,
                      &PhoneNumberRecord::phone_number);
}

bool IsTextOrderKey(UserOrderKey key) {
  switch (key) {
    case UserOrderKey::kUsername:
    case UserOrderKey::kFirstName:
    case UserOrderKey::kLastName:
    case UserOrderKey::kEmailAddress:
    case UserOrderKey::kPhoneNumber:
      return true;
    default:
      return false;
  }
}

SqlClause UserFilterSql(const UserFilter& filter, SqlDialect dialect) {
  const char* const like = Like(dialect);
  ConditionBuilder where;
  for (const IdentifierList& list : IdentifierLists(filter)) {
    if (list.holders != nullptr) {
      where.AddIn(absl::StrCat("u.id IN (", list.holders), *list.values, ")");
    } else {
      where.AddIn(list.users_column, *list.values);
    }
  }
  if (!filter.query.empty()) {
    const std::string p = ContainsPattern(filter.query);
    where.Add(
        absl::StrCat(
            "(u.id", like, " OR u.first_name", like, " OR u.last_name", like,
            " OR u.username", like,
            " OR u.id IN (SELECT user_id FROM email_addresses WHERE "
            "email_address",
            like, ")",
            " OR u.id IN (SELECT user_id FROM phone_numbers WHERE phone_number",
            like, "))"),
        {p, p, p, p, p, p});
  }
  if (!filter.email_address_query.empty()) {
    where.Add(
        absl::StrCat(
            "u.id IN (SELECT user_id FROM email_addresses WHERE email_address",
            like, ")"),
        {ContainsPattern(filter.email_address_query)});
  }
  if (!filter.phone_number_query.empty()) {
    where.Add(
        absl::StrCat(
            "u.id IN (SELECT user_id FROM phone_numbers WHERE phone_number",
            like, ")"),
        {ContainsPattern(filter.phone_number_query)});
  }
  if (!filter.username_query.empty()) {
    where.Add(absl::StrCat("u.username", like),
              {ContainsPattern(filter.username_query)});
  }
  if (!filter.name_query.empty()) {
    // Matches either name or the full name "first last".
    where.Add(absl::StrCat("(u.first_name || ' ' || u.last_name)", like),
              {ContainsPattern(filter.name_query)});
  }
  if (filter.banned.has_value()) {
    where.Add("u.banned = ?", {int64_t{*filter.banned ? 1 : 0}});
  }
  if (filter.created_at_before.has_value()) {
    where.Add("u.created_at < ?", {*filter.created_at_before});
  }
  if (filter.created_at_after.has_value()) {
    where.Add("u.created_at > ?", {*filter.created_at_after});
  }
  AddTimeRange("u.last_sign_in_at", filter.last_sign_in_at_before,
               filter.last_sign_in_at_after, where);
  AddTimeRange("u.last_active_at", filter.last_active_at_before,
               filter.last_active_at_after, where);
  for (const auto& metadata_filter : filter.metadata_filters) {
    AddMetadataFilter(metadata_filter, where);
  }
  std::string lookup_sql = dialect == SqlDialect::kSqlite
                               ? LookupSql(filter, where.size())
                               : std::string();
  const bool metadata_alone =
      where.size() == 1 && filter.metadata_filters.size() == 1;
  SqlClause clause = std::move(where).Build();
  clause.lookup_sql = std::move(lookup_sql);
  if (metadata_alone) {
    clause.count_sql = absl::StrCat("SELECT COUNT(*) ", kMetadataRows);
  }
  return clause;
}

const char* OrderColumn(UserOrderKey key, SqlDialect dialect) {
  // PostgreSQL sorts names by lower(), as SQLite's NOCASE columns do.
  if (dialect == SqlDialect::kPostgres && key == UserOrderKey::kFirstName) {
    return "lower(u.first_name)";
  }
  if (dialect == SqlDialect::kPostgres && key == UserOrderKey::kLastName) {
    return "lower(u.last_name)";
  }
  switch (key) {
    case UserOrderKey::kCreatedAt:
      return "u.created_at";
    case UserOrderKey::kUpdatedAt:
      return "u.updated_at";
    case UserOrderKey::kLastSignInAt:
      return "u.last_sign_in_at";
    case UserOrderKey::kLastActiveAt:
      return "u.last_active_at";
    case UserOrderKey::kUsername:
      return "u.username";
    case UserOrderKey::kFirstName:
      return "u.first_name";
    case UserOrderKey::kLastName:
      return "u.last_name";
    case UserOrderKey::kEmailAddress:
      return "u.primary_email_address";
    case UserOrderKey::kPhoneNumber:
      return "u.primary_phone_number";
  }
  return "u.created_at";
}

SqlClause AfterCursorSql(const UserOrder& order, const UserCursor& cursor,
                         SqlDialect dialect) {
  SqlClause clause;
  // A row value comparison walks the (column, id) index directly.
  clause.sql = absl::StrCat("(", OrderColumn(order.key, dialect), ", u.id) ",
                            order.descending ? "<" : ">", " (?, ?)");
  std::visit([&](const auto& v) { clause.params.push_back(v); },
             cursor.sort_value);
  clause.params.push_back(cursor.id);
  return clause;
}

}  // namespace roster::storage

#include "storage/postgres/pg_fan_in.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_rows.h"

namespace roster::storage {
namespace {

const char* ArrayType(PgParamType type) {
  switch (type) {
    case PgParamType::kInt8:
      return "int8[]";
    case PgParamType::kFloat8:
      return "float8[]";
    default:
      return "text[]";
  }
}

bool SameTypes(const PgParams& a, const PgParams& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (int i = 0; i < a.size(); ++i) {
    if (a.type(i) != b.type(i)) {
      return false;
    }
  }
  return true;
}

// `sql` with each placeholder $k outside a quoted literal read from the
// fanned-in row instead: fan_in.pk.
std::string ReadParamsFromFanIn(absl::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 64);
  bool quoted = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char ch = sql[i];
    if (ch == '\'') {
      quoted = !quoted;
    }
    if (ch == '$' && !quoted && i + 1 < sql.size() &&
        absl::ascii_isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out.append("fan_in.p");
      continue;  // The digits follow as they are.
    }
    out.push_back(ch);
  }
  return out;
}

}  // namespace

std::optional<PgStatement> FanInStatement(
    absl::Span<const PgStatement* const> members) {
  if (members.size() < 2) {
    return std::nullopt;
  }
  const PgStatement& first = *members.front();
  const int params = first.params.size();
  if (params == 0) {
    return std::nullopt;  // Nothing to tell the members apart.
  }
  for (int k = 0; k < params; ++k) {
    if (first.params.type(k) == PgParamType::kBytes) {
      return std::nullopt;  // Sent in binary; an array of them is not.
    }
  }
  for (const PgStatement* member : members) {
    if (member->sql != first.sql || !SameTypes(member->params, first.params)) {
      return std::nullopt;
    }
  }
  // Each array goes through a subquery so that PostgreSQL cannot see its
  // length when planning: a custom plan for a few members would otherwise
  // always look cheaper than the generic plan (priced for ten), and the
  // statement, a dozen joins, would be planned afresh on every run. The
  // members' own values are not visible to a plan either way (they are
  // read row by row from the arrays), so the generic plan loses nothing.
  PgStatement fanned;
  std::string arrays;
  std::string columns;
  std::vector<std::string> column_values(members.size());
  for (int k = 0; k < params; ++k) {
    absl::StrAppend(&arrays, k == 0 ? "" : ", ", "(SELECT $", k + 1,
                    "::", ArrayType(first.params.type(k)), ")");
    absl::StrAppend(&columns, "p", k + 1, ", ");
    for (size_t m = 0; m < members.size(); ++m) {
      column_values[m] = std::string(members[m]->params.value(k));
    }
    fanned.params.Add(PgTextArray(column_values));
  }
  // row_number() over the member's ordered rows keeps their order through
  // the final sort, which only groups them by member.
  fanned.sql = absl::StrCat(
      "SELECT fan_in.fan_member, fanned.* FROM unnest(", arrays,
      ") WITH ORDINALITY AS fan_in(", columns,
      "fan_member) CROSS JOIN LATERAL (SELECT row_number() OVER () AS "
      "fan_row, member.* FROM (",
      ReadParamsFromFanIn(first.sql),
      ") member) fanned ORDER BY fan_in.fan_member, fanned.fan_row");
  return fanned;
}

std::optional<std::vector<PgResult>> SplitFannedIn(const PgResult& rows,
                                                   size_t members) {
  std::vector<PgResult> split;
  split.reserve(members);
  int row = 0;
  for (size_t m = 1; m <= members; ++m) {
    const int first = row;
    while (row < rows.rows() && rows.Int(row, 0) == static_cast<int64_t>(m)) {
      ++row;
    }
    split.push_back(rows.Slice(first, row - first, /*first_column=*/2));
  }
  if (row != rows.rows()) {
    return std::nullopt;  // Not grouped by member in order.
  }
  return split;
}

std::vector<absl::StatusOr<PgResult>> RunEachFannedIn(
    PgConnection& connection, absl::Span<const PgStatement* const> statements) {
  // Groups of the same SQL, in order of first appearance.
  absl::flat_hash_map<absl::string_view, size_t> group_of;
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < statements.size(); ++i) {
    auto [it, added] = group_of.try_emplace(statements[i]->sql, groups.size());
    if (added) {
      groups.emplace_back();
    }
    groups[it->second].push_back(i);
  }
  // What runs: a fanned-in statement per group that takes one, else each
  // member as it is.
  std::vector<std::optional<PgStatement>> fanned(groups.size());
  std::vector<const PgStatement*> to_run;
  std::vector<std::vector<size_t>> answers;  // Per statement run: its members.
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<const PgStatement*> members;
    members.reserve(groups[g].size());
    for (size_t i : groups[g]) {
      members.push_back(statements[i]);
    }
    fanned[g] = FanInStatement(members);
    if (fanned[g].has_value()) {
      to_run.push_back(&*fanned[g]);
      answers.push_back(groups[g]);
      continue;
    }
    for (size_t i : groups[g]) {
      to_run.push_back(statements[i]);
      answers.push_back({i});
    }
  }
  std::vector<absl::StatusOr<PgResult>> results(statements.size(),
                                                absl::UnknownError("not run"));
  std::vector<const PgStatement*> again;
  std::vector<size_t> again_index;
  std::vector<absl::StatusOr<PgResult>> ran = connection.RunEach(to_run);
  for (size_t r = 0; r < ran.size(); ++r) {
    const std::vector<size_t>& members = answers[r];
    if (to_run[r] == statements[members.front()]) {
      results[members.front()] = std::move(ran[r]);
      continue;
    }
    std::optional<std::vector<PgResult>> split;
    if (ran[r].ok()) {
      split = SplitFannedIn(*ran[r], members.size());
    }
    if (split.has_value()) {
      for (size_t m = 0; m < members.size(); ++m) {
        results[members[m]] = std::move((*split)[m]);
      }
    } else if (!ran[r].ok() &&
               ran[r].status().code() == absl::StatusCode::kUnavailable) {
      // A timeout or a server going away: running each member again would
      // only add load where there is too much already.
      for (size_t i : members) {
        results[i] = ran[r].status();
      }
    } else {
      for (size_t i : members) {
        again.push_back(statements[i]);
        again_index.push_back(i);
      }
    }
  }
  if (!again.empty()) {
    std::vector<absl::StatusOr<PgResult>> alone = connection.RunEach(again);
    for (size_t a = 0; a < alone.size(); ++a) {
      results[again_index[a]] = std::move(alone[a]);
    }
  }
  return results;
}

}  // namespace roster::storage

// The metadata index (storage/metadata_index.h): what a leaf's stored value
// is, that every write keeps both adapters' rows exact (so a filter finds what
// the JSON holds and nothing else), and that a filter reads the index rather
// than every user's JSON.
#include "storage/metadata_index.h"

#include <SQLiteCpp/Database.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/read_sql.h"
#include "storage/sqlite/sqlite_migrations.h"
#include "storage/user_query_sql.h"
#include "tests/testing/postgres.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::IsOkAndHolds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

JsonScalar Number(double value) {
  JsonScalar scalar;
  scalar.kind = JsonScalar::Kind::kNumber;
  scalar.number_value = value;
  return scalar;
}

JsonScalar String(std::string value) {
  JsonScalar scalar;
  scalar.kind = JsonScalar::Kind::kString;
  scalar.string_value = std::move(value);
  return scalar;
}

JsonScalar Bool(bool value) {
  JsonScalar scalar;
  scalar.kind = JsonScalar::Kind::kBool;
  scalar.bool_value = value;
  return scalar;
}

TEST(MetadataIndexValueTest, NumbersCompareByValueAndKindsStayApart) {
  EXPECT_EQ(MetadataIndexValue(Number(1)), MetadataIndexValue(Number(1.0)));
  EXPECT_EQ(MetadataIndexValue(Number(-0.0)), MetadataIndexValue(Number(0)));
  EXPECT_NE(MetadataIndexValue(Number(0.1)),
            MetadataIndexValue(Number(0.1 + 1e-17 + 1e-16)));
  EXPECT_NE(MetadataIndexValue(Number(1234567.125)),
            MetadataIndexValue(Number(1234567.0)));
  EXPECT_NE(MetadataIndexValue(Number(1)), MetadataIndexValue(String("1")));
  EXPECT_NE(MetadataIndexValue(Number(1)), MetadataIndexValue(Bool(true)));
  EXPECT_NE(MetadataIndexValue(Bool(false)), MetadataIndexValue(Bool(true)));
  EXPECT_NE(MetadataIndexValue(JsonScalar{}), MetadataIndexValue(String("")));
}

TEST(MetadataIndexValueTest, LongOrNulStringsAreDigestedAndStayDistinct) {
  const std::string long_a(300, 'a');
  const std::string long_b = std::string(299, 'a') + "b";
  EXPECT_THAT(MetadataIndexValue(String(long_a)), StartsWith("h"));
  EXPECT_EQ(MetadataIndexValue(String(long_a)).size(), 65u);
  EXPECT_NE(MetadataIndexValue(String(long_a)),
            MetadataIndexValue(String(long_b)));
  const std::string with_nul("a\0b", 3);
  EXPECT_THAT(MetadataIndexValue(String(with_nul)), StartsWith("h"));
  EXPECT_NE(MetadataIndexValue(String(with_nul)),
            MetadataIndexValue(String("a")));
}

std::vector<std::string> Paths(const UserRecord& user) {
  std::vector<std::string> paths;
  for (const MetadataIndexEntry& entry : MetadataIndexEntries(user)) {
    paths.push_back(absl::StrCat(entry.tier, ":", entry.path));
  }
  return paths;
}

TEST(MetadataIndexEntriesTest, IndexesOnlyLeavesAFilterPathCanName) {
  UserRecord user;
  user.public_metadata =
      R"({"a":{"b":1,"c":[1,{"d":2}],"e":{},"f":null},"g h":1,"x.y":2,)"
      R"("k1":{"k2":{"k3":{"k4":{"k5":{"k6":{"k7":{"k8":true,)"
      R"("k9":{"too":"deep"}}}}}}}}})";
  user.private_metadata = R"({"s":"v"})";
  user.unsafe_metadata = "not json";
  EXPECT_THAT(Paths(user), ElementsAre("1:a.b", "1:a.f",
                                       "1:k1.k2.k3.k4.k5.k6.k7.k8", "2:s"));
}

TEST(MetadataIndexEntriesTest, DiffNamesOnlyTheRowsThatChange) {
  UserRecord before;
  before.public_metadata = R"({"keep":1,"change":"a","drop":true})";
  UserRecord after;
  after.public_metadata = R"({"keep":1,"change":"b","add":null})";
  const MetadataIndexChange change = DiffMetadataIndex(
      MetadataIndexEntries(before), MetadataIndexEntries(after));
  auto rows = [](const std::vector<MetadataIndexEntry>& entries) {
    std::vector<std::string> out;
    out.reserve(entries.size());
    for (const MetadataIndexEntry& e : entries) {
      out.push_back(e.path + "=" + e.value);
    }
    return out;
  };
  EXPECT_THAT(rows(change.removed), ElementsAre("change=sa", "drop=t"));
  EXPECT_THAT(rows(change.added), ElementsAre("add=z", "change=sb"));
}

MetadataFilter Filter(MetadataTier tier, std::vector<std::string> path,
                      JsonScalar value) {
  MetadataFilter filter;
  filter.tier = tier;
  filter.path = std::move(path);
  filter.value = std::move(value);
  return filter;
}

class MetadataIndexStoreTest : public UserStoreTest {
 protected:
  // The ids of the users `filter` matches, and CountUsers's count beside.
  std::vector<std::string> Matches(const MetadataFilter& filter) {
    UserPageQuery query;
    query.filter.metadata_filters = {filter};
    query.limit = 100;
    auto page = store_->ListUsers(query);
    EXPECT_THAT(page, IsOk());
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const UserRecord& user : page->users) {
        ids.push_back(user.id);
      }
      std::sort(ids.begin(), ids.end());
      EXPECT_EQ(page->total_count, static_cast<int64_t>(ids.size()));
    }
    EXPECT_THAT(store_->CountUsers(query.filter),
                IsOkAndHolds(static_cast<int64_t>(ids.size())));
    return ids;
  }

  // The user's metadata replaced as a backend's UpdateUserMetadata does it:
  // read and written in one transaction, or, with `read_first` false, written
  // from a record read before it.
  void SetPublicMetadata(const std::string& id, const std::string& json,
                         bool read_first = true) {
    auto outside = store_->GetUser(id);
    ASSERT_THAT(outside, IsOk());
    ASSERT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
      UserRecord user = *outside;
      if (read_first) {
        auto read = txn.GetUser(id);
        if (!read.ok()) {
          return read.status();
        }
        user = *read;
      }
      user.public_metadata = json;
      return txn.UpdateUser(user, EventFor(id));
    }),
                IsOk());
  }
};
INSTANTIATE_TEST_SUITE_P(Adapters, MetadataIndexStoreTest, AdapterNames(),
                         AdapterName);

TEST_P(MetadataIndexStoreTest, FiltersFollowEveryWriteOfTheMetadata) {
  UserRecord ada = MakeUser("u1", 1);
  ada.public_metadata = R"({"plan":"pro","org":{"id":"o1"},"seats":3})";
  ada.private_metadata = R"({"plan":"pro"})";
  UserRecord bob = MakeUser("u2", 2);
  bob.public_metadata = R"({"plan":"free","seats":3.0,"beta":true})";
  bob.unsafe_metadata =
      absl::StrCat(R"({"bio":")", std::string(500, 'x'), R"(","n":null})");
  ASSERT_THAT(Insert(ada), IsOk());
  ASSERT_THAT(Insert(bob), IsOk());

  const auto public_tier = MetadataTier::kPublic;
  EXPECT_THAT(Matches(Filter(public_tier, {"plan"}, String("pro"))),
              ElementsAre("u1"));
  EXPECT_THAT(Matches(Filter(public_tier, {"org", "id"}, String("o1"))),
              ElementsAre("u1"));
  EXPECT_THAT(Matches(Filter(public_tier, {"seats"}, Number(3))),
              ElementsAre("u1", "u2"));
  EXPECT_THAT(Matches(Filter(public_tier, {"beta"}, Bool(true))),
              ElementsAre("u2"));
  EXPECT_THAT(Matches(Filter(public_tier, {"beta"}, Number(1))), ElementsAre());
  EXPECT_THAT(Matches(Filter(MetadataTier::kPrivate, {"plan"}, String("pro"))),
              ElementsAre("u1"));
  EXPECT_THAT(Matches(Filter(MetadataTier::kUnsafe, {"plan"}, String("pro"))),
              ElementsAre());
  EXPECT_THAT(Matches(Filter(MetadataTier::kUnsafe, {"bio"},
                             String(std::string(500, 'x')))),
              ElementsAre("u2"));
  EXPECT_THAT(Matches(Filter(MetadataTier::kUnsafe, {"n"}, JsonScalar{})),
              ElementsAre("u2"));
  EXPECT_THAT(Matches(Filter(MetadataTier::kUnsafe, {"missing"}, JsonScalar{})),
              ElementsAre());

  SetPublicMetadata("u1", R"({"plan":"free","org":{"id":"o2"},"seats":3})");
  EXPECT_THAT(Matches(Filter(public_tier, {"plan"}, String("pro"))),
              ElementsAre());
  EXPECT_THAT(Matches(Filter(public_tier, {"plan"}, String("free"))),
              ElementsAre("u1", "u2"));
  EXPECT_THAT(Matches(Filter(public_tier, {"org", "id"}, String("o1"))),
              ElementsAre());
  // A lookup of one user (served from SQLite's user cache when it holds
  // them) returns the record as updated.
  UserPageQuery by_org;
  by_org.filter.metadata_filters = {
      Filter(public_tier, {"org", "id"}, String("o2"))};
  for (int read = 0; read < 2; ++read) {
    ASSERT_OK_AND_ASSIGN(page, store_->ListUsers(by_org));
    ASSERT_EQ(page.users.size(), 1u);
    EXPECT_EQ(page.users[0].public_metadata,
              R"({"plan":"free","org":{"id":"o2"},"seats":3})");
  }
  // An update from a record read outside the transaction rewrites the rows.
  SetPublicMetadata("u1", R"({"org":{"id":"o1"}})", /*read_first=*/false);
  EXPECT_THAT(Matches(Filter(public_tier, {"org", "id"}, String("o1"))),
              ElementsAre("u1"));
  EXPECT_THAT(Matches(Filter(public_tier, {"seats"}, Number(3))),
              ElementsAre("u2"));

  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("u2", EventFor("u2", "user.deleted"));
  }),
              IsOk());
  EXPECT_THAT(Matches(Filter(public_tier, {"plan"}, String("free"))),
              ElementsAre());
  // Left: u1's org.id and private plan.
  EXPECT_EQ(CountRows("user_metadata_values"), 2);
}

TEST_P(MetadataIndexStoreTest, TheSchemaStepIndexesMetadataWrittenBeforeIt) {
  UserRecord ada = MakeUser("u1", 1);
  ada.public_metadata = R"({"team":{"name":"core"}})";
  ASSERT_THAT(Insert(ada), IsOk());
  ASSERT_THAT(Insert(MakeUser("u2", 2)), IsOk());
  store_.reset();
  // Back to the schema before the index, with the users kept: its step and
  // the four after it (oauth_states.legal_accepted, sign-in failures, a
  // sign-up's provider account, the refresh lease) undone.
  constexpr char kUndo[] =
      "DROP TABLE user_metadata_values; "
      "ALTER TABLE oauth_states DROP COLUMN legal_accepted; "
      "DROP TABLE sign_in_failures; "
      "ALTER TABLE users DROP COLUMN last_failed_password_at; "
      "ALTER TABLE sign_ups DROP COLUMN external_account; "
      "ALTER TABLE oauth_tokens DROP COLUMN refresh_lease_until;";
  if (postgres()) {
    const std::string undo =
        absl::StrCat(kUndo, " UPDATE roster_schema SET version = version - 5");
    ASSERT_EQ(testing::PgCommand(pg_->dsn(), undo), "");
  } else {
    SQLite::Database db(dir_.File("users.db"), SQLite::OPEN_READWRITE);
    db.exec(kUndo);
    db.exec(absl::StrCat("PRAGMA user_version = ", LatestSchemaVersion() - 5));
  }
  Reopen();
  EXPECT_THAT(
      Matches(Filter(MetadataTier::kPublic, {"team", "name"}, String("core"))),
      ElementsAre("u1"));
  EXPECT_EQ(CountRows("user_metadata_values"), 1);
}

// The plan of `sql` on the SQLite file, one line per step.
std::string SqlitePlan(const std::string& path, const SqlClause& clause) {
  SQLite::Database db(path);
  SQLite::Statement plan(db, "EXPLAIN QUERY PLAN " + clause.sql);
  for (size_t i = 0; i < clause.params.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    std::visit([&](const auto& value) { plan.bind(index, value); },
               clause.params[i]);
  }
  std::vector<std::string> steps;
  while (plan.executeStep()) {
    steps.push_back(plan.getColumn(3).getString());
  }
  return absl::StrJoin(steps, "\n");
}

// `clause` with its `?`s replaced by literals, for EXPLAIN on PostgreSQL.
std::string WithLiterals(const SqlClause& clause) {
  std::string sql = clause.sql;
  size_t at = 0;
  for (const SqlValue& param : clause.params) {
    at = sql.find('?', at);
    const std::string literal = std::visit(
        [](const auto& v) {
          if constexpr (std::is_same_v<std::decay_t<decltype(v)>,
                                       std::string>) {
            return absl::StrCat("'", v, "'");  // The test's values hold no '.
          } else {
            return absl::StrCat(v);
          }
        },
        param);
    sql.replace(at, 1, literal);
    at += literal.size();
  }
  return sql;
}

TEST_P(MetadataIndexStoreTest, AFilterReadsTheIndexNotEveryUser) {
  const SqlDialect dialect =
      postgres() ? SqlDialect::kPostgres : SqlDialect::kSqlite;
  UserPageQuery query;
  query.filter.metadata_filters = {
      Filter(MetadataTier::kPublic, {"org", "id"}, String("o1"))};
  const SqlClause one = UserFilterSql(query.filter, dialect);
  UserFilter two = query.filter;
  two.metadata_filters.push_back(
      Filter(MetadataTier::kPrivate, {"tier"}, Number(2)));
  // A count, a count that must meet users, and a page.
  for (const SqlClause& clause :
       {CountUsersSql(one), CountUsersSql(UserFilterSql(two, dialect)),
        UserPageSql(query, one, dialect)}) {
    SCOPED_TRACE(clause.sql);
    if (postgres()) {
      // With scans priced out, a plan exists that reads no table whole (the
      // tables are too small here for the planner to prefer one unforced).
      const std::string plan =
          testing::PgScalar(pg_->dsn() + "?options=-c%20enable_seqscan%3Doff",
                            "EXPLAIN (FORMAT JSON) " + WithLiterals(clause));
      EXPECT_THAT(plan, HasSubstr("user_metadata_values_pkey"));
      EXPECT_THAT(plan, Not(HasSubstr("Seq Scan")));
    } else {
      const std::string plan = SqlitePlan(dir_.File("users.db"), clause);
      EXPECT_THAT(plan, HasSubstr("SEARCH user_metadata_values USING "));
      EXPECT_THAT(plan, HasSubstr("(tier=? AND path=? AND value=?)"));
      EXPECT_THAT(plan, Not(HasSubstr("SCAN")));
    }
  }
}

}  // namespace
}  // namespace roster::storage

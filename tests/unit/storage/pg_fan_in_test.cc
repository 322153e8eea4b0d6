// RunEachFannedIn must answer each statement exactly as running it alone
// would: the same rows in the same order, empty results and errors included,
// while statements of one shape share a single statement.
#include "storage/postgres/pg_fan_in.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/postgres.h"

namespace roster::storage {
namespace {

// A lookup shaped like ListUsers' pages: a filter, an order, a LIMIT, a
// subquery that counts, literals with quotes, text and integer parameters.
constexpr char kPage[] =
    "SELECT id, owner, note, (SELECT COUNT(*) FROM t c WHERE c.owner = $1) "
    "FROM t WHERE owner = $1 AND id > $2 "
    "AND (note IS NULL OR note <> 'it''s $3') ORDER BY id DESC LIMIT 3";

class PgFanInTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ROSTER_REQUIRE_POSTGRES();
    db_ = std::make_unique<testing::ScratchPgDatabase>();
    ASSERT_EQ(testing::PgCommand(
                  db_->dsn(),
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, owner TEXT, note "
                  "TEXT); INSERT INTO t SELECT g, 'owner' || (g % 7), "
                  "CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END FROM "
                  "generate_series(1, 200) g; ANALYZE t"),
              "");
    auto c = PgConnection::Open(db_->dsn());
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = *std::move(c);
  }

  PgStatement& Page(const std::string& owner, int64_t after) {
    PgStatement& s = statements_.emplace_back();
    s.sql = kPage;
    s.params.Add(owner).Add(after);
    return s;
  }

  // Prepared statements on the connection whose SQL contains `needle`, with
  // how they were planned.
  std::string Plans(const std::string& needle) {
    PgResult r = c_->Exec(absl::StrCat(
        "SELECT generic_plans || ' generic, ' || custom_plans || ' custom' "
        "FROM pg_prepared_statements WHERE statement LIKE '%",
        needle, "%'"));
    return r.rows() == 1 ? r.Text(0, 0) : absl::StrCat(r.rows(), " prepared");
  }

  std::unique_ptr<testing::ScratchPgDatabase> db_;
  std::unique_ptr<PgConnection> c_;
  std::deque<PgStatement> statements_;
};

// The first `columns` cells of each row of `r`, NULLs marked, a line a row.
std::string CellsOf(const absl::StatusOr<PgResult>& r, int columns) {
  if (!r.ok()) {
    return r.status().ToString();
  }
  std::string out;
  for (int row = 0; row < r->rows(); ++row) {
    for (int col = 0; col < columns; ++col) {
      absl::StrAppend(&out, r->IsNull(row, col) ? "NULL" : r->Text(row, col),
                      "|");
    }
    out += "\n";
  }
  return out;
}

TEST_F(PgFanInTest, EachMemberGetsTheRowsItWouldAlone) {
  std::vector<const PgStatement*> batch = {
      &Page("owner1", 0),   &Page("owner2", 150), &Page("nobody", 0),
      &Page("owner1", 100), &Page("owner3", 0),   &Page("owner1", 0)};
  PgStatement& other = statements_.emplace_back();
  other.sql = "SELECT 41 + $1";
  other.params.Add(int64_t{1});
  batch.insert(batch.begin() + 2, &other);

  std::vector<std::string> alone;
  alone.reserve(batch.size());
  for (const PgStatement* s : batch) {
    alone.push_back(CellsOf(c_->Run(s->sql, s->params), s == &other ? 1 : 4));
  }
  EXPECT_EQ(alone[0],
            "197|owner1|n197|29|\n190|owner1|n190|29|\n183|owner1|NULL|29|\n");
  EXPECT_EQ(alone[2], "42|\n");
  EXPECT_EQ(alone[3], "") << "an owner with no rows";

  const std::vector<absl::StatusOr<PgResult>> fanned =
      RunEachFannedIn(*c_, batch);
  ASSERT_EQ(fanned.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(CellsOf(fanned[i], batch[i] == &other ? 1 : 4), alone[i])
        << "statement " << i;
  }
  EXPECT_EQ(Plans("fan_in"), "0 generic, 1 custom")
      << "the six pages ran as one statement";
}

TEST_F(PgFanInTest, AFailedFanInIsRunMemberByMember) {
  std::vector<const PgStatement*> batch;
  for (int64_t divisor : {5, 0, 20}) {
    PgStatement& s = statements_.emplace_back();
    s.sql = "SELECT 100 / $1";
    s.params.Add(divisor);
    batch.push_back(&s);
  }
  const std::vector<absl::StatusOr<PgResult>> results =
      RunEachFannedIn(*c_, batch);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(CellsOf(results[0], 1), "20|\n");
  EXPECT_FALSE(results[1].ok()) << "division by zero";
  EXPECT_EQ(CellsOf(results[2], 1), "5|\n");
  EXPECT_TRUE(c_->ok());
}

// A timeout is not the members' own error: each gets it, and none runs
// again to time out once more.
TEST_F(PgFanInTest, ATimedOutFanInFailsEachMemberWithoutRunningThemAgain) {
  c_->Exec("CREATE SEQUENCE calls; SET statement_timeout = '50ms'");
  std::vector<const PgStatement*> batch;
  for (int i = 0; i < 2; ++i) {
    PgStatement& s = statements_.emplace_back();
    s.sql = "SELECT nextval('calls'), pg_sleep($1)";
    s.params.Add(1.0);
    batch.push_back(&s);
  }
  const std::vector<absl::StatusOr<PgResult>> results =
      RunEachFannedIn(*c_, batch);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable)
        << result.status();
  }
  c_->Exec("RESET statement_timeout");
  // The first member timed out inside the one statement; run again alone,
  // both would have called nextval once more.
  EXPECT_EQ(c_->Exec("SELECT last_value FROM calls").Text(0, 0), "1");
}

// The arrays' lengths are hidden from the planner, so PostgreSQL settles on
// one generic plan after its five trial custom plans instead of planning the
// statement on every run.
TEST_F(PgFanInTest, RepeatedRunsSettleOnAGenericPlan) {
  std::vector<const PgStatement*> batch = {&Page("owner1", 0),
                                           &Page("owner2", 0)};
  for (int run = 0; run < 8; ++run) {
    const auto results = RunEachFannedIn(*c_, batch);
    ASSERT_TRUE(results[1].ok()) << results[1].status();
    EXPECT_EQ(results[1]->rows(), 3);
  }
  EXPECT_EQ(Plans("fan_in"), "3 generic, 5 custom");
}

// Rows out of member order are not handed out as pages: a member would get
// another's rows, or none.
TEST_F(PgFanInTest, RowsOutOfMemberOrderAreNotSplit) {
  const PgResult in_order = c_->Exec(
      "SELECT * FROM (VALUES (1, 1, 'a'), (1, 2, 'b'), (3, 1, 'c')) v");
  const auto split = SplitFannedIn(in_order, 3);
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(CellsOf((*split)[0], 1), "a|\nb|\n");
  EXPECT_EQ(CellsOf((*split)[1], 1), "") << "member 2 has no rows";
  EXPECT_EQ(CellsOf((*split)[2], 1), "c|\n");

  EXPECT_FALSE(SplitFannedIn(c_->Exec("SELECT * FROM (VALUES (2, 1, 'a'), "
                                      "(1, 1, 'b')) v"),
                             2)
                   .has_value());
  EXPECT_FALSE(
      SplitFannedIn(
          c_->Exec("SELECT * FROM (VALUES (1, 1, 'a'), (5, 1, 'b')) v"), 2)
          .has_value())
      << "a member past the last";
}

TEST_F(PgFanInTest, OnlyStatementsOfOneShapeWithTextOrNumbersFanIn) {
  const auto statement = [&](const std::string& sql) -> PgStatement& {
    PgStatement& s = statements_.emplace_back();
    s.sql = sql;
    return s;
  };
  PgStatement& text = statement("SELECT $1");
  text.params.Add("a");
  PgStatement& number = statement("SELECT $1");
  number.params.Add(int64_t{1});
  PgStatement& bytes = statement("SELECT $1");
  bytes.params.AddBytes("b");
  PgStatement& none = statement("SELECT 1");
  PgStatement& other = statement("SELECT $1 || 'x'");
  other.params.Add("c");

  EXPECT_TRUE(FanInStatement({&text, &text}).has_value());
  EXPECT_TRUE(FanInStatement({&number, &number}).has_value());
  EXPECT_FALSE(FanInStatement({&text}).has_value()) << "one member";
  EXPECT_FALSE(FanInStatement({&text, &number}).has_value()) << "types differ";
  EXPECT_FALSE(FanInStatement({&bytes, &bytes}).has_value()) << "binary";
  EXPECT_FALSE(FanInStatement({&none, &none}).has_value()) << "no parameter";
  EXPECT_FALSE(FanInStatement({&text, &other}).has_value()) << "SQL differs";
}

}  // namespace
}  // namespace roster::storage

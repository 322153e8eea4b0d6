// PgConnection's pipelines: a BEGIN sent with the transaction's first
// statement and a COMMIT sent with its last must keep the meaning of three
// separate round trips, failures included; so must RunEach's batch of
// statements.
#include "storage/postgres/pg_connection.h"

#include <gtest/gtest.h>

#include "tests/testing/postgres.h"

namespace roster::storage {
namespace {

TEST(NumberPlaceholdersTest, NumbersMarksOutsideQuotedLiterals) {
  EXPECT_EQ(NumberPlaceholders(""), "");
  EXPECT_EQ(NumberPlaceholders("SELECT 1"), "SELECT 1");
  EXPECT_EQ(NumberPlaceholders("?"), "$1");
  EXPECT_EQ(NumberPlaceholders("a = ? AND b IN (?,?) OR c = ?"),
            "a = $1 AND b IN ($2,$3) OR c = $4");
  EXPECT_EQ(NumberPlaceholders("x LIKE ? ESCAPE '\\' AND y = '?' AND z = ?"),
            "x LIKE $1 ESCAPE '\\' AND y = '?' AND z = $2");
  EXPECT_EQ(NumberPlaceholders("'it''s ?' || ?"), "'it''s ?' || $1");
  EXPECT_EQ(NumberPlaceholders("'unterminated ?"), "'unterminated ?");
}

class PgConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ROSTER_REQUIRE_POSTGRES();
    db_ = std::make_unique<testing::ScratchPgDatabase>();
    ASSERT_EQ(testing::PgCommand(db_->dsn(),
                                 "CREATE TABLE t (id INTEGER PRIMARY KEY)"),
              "");
    auto c = PgConnection::Open(db_->dsn());
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = *std::move(c);
  }

  // Rows in t as another connection sees them: committed rows only.
  std::string CommittedRows() {
    return testing::PgScalar(db_->dsn(), "SELECT COUNT(*) FROM t");
  }

  void Insert(int id) {
    c_->Run("INSERT INTO t VALUES ($1)", PgParams().Add(int64_t{id}));
  }

  std::unique_ptr<testing::ScratchPgDatabase> db_;
  std::unique_ptr<PgConnection> c_;
};

TEST_F(PgConnectionTest, ABeginSentWithTheFirstStatementOpensTheTransaction) {
  c_->SendWithNextStatement("BEGIN ISOLATION LEVEL READ COMMITTED");
  EXPECT_FALSE(c_->InTransaction()) << "nothing is sent before a statement";
  Insert(1);
  EXPECT_TRUE(c_->InTransaction());
  EXPECT_EQ(CommittedRows(), "0");
  PgResult last = c_->RunAndCommit("INSERT INTO t VALUES ($1) RETURNING id",
                                   PgParams().Add(int64_t{2}));
  EXPECT_EQ(last.Int(0, 0), 2);
  EXPECT_FALSE(c_->InTransaction());
  EXPECT_EQ(CommittedRows(), "2");
  EXPECT_TRUE(c_->ok());
}

TEST_F(PgConnectionTest, AFailedStatementReportsItsErrorAndSkipsTheCommit) {
  c_->SendWithNextStatement("BEGIN");
  Insert(1);
  try {
    c_->RunAndCommit("INSERT INTO t VALUES ($1)", PgParams().Add(int64_t{1}));
    ADD_FAILURE() << "a duplicate key was committed";
  } catch (const PgError& e) {
    EXPECT_EQ(e.status().code(), absl::StatusCode::kAlreadyExists)
        << e.status();
  }
  EXPECT_TRUE(c_->InTransaction()) << "the COMMIT ran after a failure";
  c_->Exec("ROLLBACK");
  EXPECT_EQ(CommittedRows(), "0");
  // The connection carries on: a new transaction commits.
  c_->SendWithNextStatement("BEGIN");
  c_->RunAndCommit("INSERT INTO t VALUES ($1)", PgParams().Add(int64_t{1}));
  EXPECT_EQ(CommittedRows(), "1");
}

TEST_F(PgConnectionTest, AStatementThatFailsToPrepareIsNotCached) {
  const std::string bad = "SELEC id FROM t WHERE id = $1";
  for (int attempt = 0; attempt < 2; ++attempt) {
    c_->SendWithNextStatement("BEGIN");
    try {
      c_->Run(bad, PgParams().Add(int64_t{1}));
      ADD_FAILURE() << "a syntax error ran";
    } catch (const PgError& e) {
      // Not "prepared statement does not exist": the PREPARE ran again.
      EXPECT_NE(e.status().message().find("syntax"), std::string::npos)
          << e.status();
    }
    c_->Exec("ROLLBACK");
  }
  c_->SendWithNextStatement("BEGIN");
  Insert(7);
  c_->Exec("COMMIT");
  EXPECT_EQ(CommittedRows(), "1");
}

TEST_F(PgConnectionTest, APendingBeginGoesWithTextStatementsToo) {
  c_->SendWithNextStatement("BEGIN");
  c_->Exec("INSERT INTO t VALUES (3)");
  EXPECT_TRUE(c_->InTransaction());
  c_->Exec("COMMIT");
  EXPECT_EQ(CommittedRows(), "1");
  // A transaction that ran nothing ends without error.
  c_->SendWithNextStatement("BEGIN");
  c_->Exec("ROLLBACK");
  EXPECT_FALSE(c_->InTransaction());
}

// Queued statements go in the order queued, with the next statement; the
// last one can be taken back until then.
TEST_F(PgConnectionTest, QueuedStatementsGoInOrderAndTheLastCanBeTakenBack) {
  c_->SendWithNextStatement("BEGIN");
  c_->SendWithNextStatement("SAVEPOINT s");
  EXPECT_TRUE(c_->TakeBackUnsent("SAVEPOINT s"));
  EXPECT_FALSE(c_->TakeBackUnsent("SAVEPOINT s")) << "taken back twice";
  c_->SendWithNextStatement("SAVEPOINT s");
  EXPECT_FALSE(c_->TakeBackUnsent("BEGIN")) << "not the last one queued";
  EXPECT_FALSE(c_->InTransaction()) << "nothing is sent before a statement";
  Insert(1);
  EXPECT_FALSE(c_->TakeBackUnsent("SAVEPOINT s")) << "it was sent";
  // The savepoint ran before the insert, so rolling back to it undoes it.
  c_->Exec("ROLLBACK TO SAVEPOINT s");
  c_->SendWithNextStatement("RELEASE SAVEPOINT s");
  c_->SendWithNextStatement("SAVEPOINT s");
  c_->RunAndCommit("INSERT INTO t VALUES ($1)", PgParams().Add(int64_t{2}));
  EXPECT_FALSE(c_->InTransaction());
  EXPECT_EQ(CommittedRows(), "1");
}

TEST_F(PgConnectionTest,
       AConnectionKilledUnderAPipelineIsUnavailableAndDropped) {
  Insert(1);  // The backend is up and the statement prepared.
  ASSERT_EQ(db_->TerminateConnections(), "");
  c_->SendWithNextStatement("BEGIN");
  try {
    c_->RunAndCommit("INSERT INTO t VALUES ($1)", PgParams().Add(int64_t{2}));
    ADD_FAILURE() << "a write on a killed connection succeeded";
  } catch (const PgError& e) {
    EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable) << e.status();
  }
  EXPECT_FALSE(c_->ok()) << "the pool would hand it out again";
}

// RunEach: each statement is a transaction of its own, so one failure (a
// duplicate key, a statement that cannot be prepared) fails only its own
// entry and undoes nothing before it; a statement repeated in the batch is
// prepared once.
TEST_F(PgConnectionTest, RunEachFailsOnlyTheFailedStatements) {
  const std::string insert = "INSERT INTO t VALUES ($1)";
  const std::string count = "SELECT COUNT(*) FROM t WHERE id >= $1";
  const auto statement = [](const std::string& sql, int64_t value) {
    PgStatement made{sql, PgParams()};
    made.params.Add(value);
    return made;
  };
  PgStatement statements[] = {
      statement(insert, 1),
      statement(insert, 1),
      statement("SELEC id FROM t WHERE id = $1", 1),
      statement(count, 0),
      statement(count, 2),
  };
  std::vector<const PgStatement*> batch;
  for (const PgStatement& each : statements) {
    batch.push_back(&each);
  }
  auto results = c_->RunEach(batch);
  ASSERT_EQ(results.size(), batch.size());
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kAlreadyExists)
      << results[1].status();
  EXPECT_NE(results[2].status().message().find("syntax"), std::string::npos)
      << results[2].status();
  ASSERT_TRUE(results[3].ok()) << results[3].status();
  EXPECT_EQ(results[3]->Int(0, 0), 1);
  ASSERT_TRUE(results[4].ok()) << results[4].status();
  EXPECT_EQ(results[4]->Int(0, 0), 0);
  EXPECT_EQ(CommittedRows(), "1");
  EXPECT_FALSE(c_->InTransaction());
  EXPECT_TRUE(c_->ok());
  // The statements prepared by the batch are cached, and one prepared after
  // it takes a name none of them holds, though a PREPARE in the batch failed.
  EXPECT_EQ(
      c_->Run("SELECT $1::int + 1", PgParams().Add(int64_t{41})).Int(0, 0), 42);
  EXPECT_EQ(c_->Run(count, PgParams().Add(int64_t{0})).Int(0, 0), 1);
  Insert(2);
  EXPECT_EQ(CommittedRows(), "2");
}

TEST_F(PgConnectionTest, RunEachOnAKilledConnectionIsUnavailable) {
  Insert(1);
  ASSERT_EQ(db_->TerminateConnections(), "");
  PgStatement statement{"SELECT COUNT(*) FROM t", PgParams()};
  const PgStatement* batch[] = {&statement, &statement};
  try {
    c_->RunEach(batch);
    ADD_FAILURE() << "a batch on a killed connection was answered";
  } catch (const PgError& e) {
    EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable) << e.status();
  }
  EXPECT_FALSE(c_->ok()) << "the pool would hand it out again";
}

// A lookup by a list of ids, as GetUser's and GetMe's batches make: PostgreSQL
// prices its generic plan for an array of unknown length above a custom plan
// for a short one, so by itself it plans the statement afresh on every run.
TEST_F(PgConnectionTest, GenericPlansOnlyWhenAsked) {
  c_->Exec("INSERT INTO t SELECT generate_series(1, 2000); ANALYZE t");
  const std::string lookup = "SELECT id FROM t WHERE id = ANY($1::int[])";
  // How the lookup's runs on this connection were planned so far.
  auto plans = [&] {
    PgResult r = c_->Exec(
        "SELECT generic_plans || ' generic, ' || custom_plans || ' custom' "
        "FROM pg_prepared_statements WHERE statement LIKE '%ANY($1::int[])%'");
    return r.rows() == 1 ? r.Text(0, 0) : "not prepared";
  };
  EXPECT_FALSE(c_->generic_plans());
  EXPECT_EQ(c_->Exec("SHOW plan_cache_mode").Text(0, 0), "auto");

  c_->UseGenericPlans(true);
  EXPECT_TRUE(c_->generic_plans());
  EXPECT_EQ(c_->Exec("SHOW plan_cache_mode").Text(0, 0), "force_generic_plan");
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(c_->Run(lookup, PgParams().Add("{7,9}")).rows(), 2);
  }
  EXPECT_EQ(plans(), "8 generic, 0 custom");

  c_->UseGenericPlans(false);
  EXPECT_FALSE(c_->generic_plans());
  EXPECT_EQ(c_->Exec("SHOW plan_cache_mode").Text(0, 0), "auto");
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(c_->Run(lookup, PgParams().Add("{7}")).rows(), 1);
  }
  EXPECT_EQ(plans(), "8 generic, 8 custom");
}

}  // namespace
}  // namespace roster::storage

#include "storage/postgres/pg_connection.h"

#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace roster::storage {
namespace {

absl::Status StatusFromSqlState(absl::string_view state,
                                absl::string_view message) {
  std::string text(message);
  if (state == "23505") {
    return absl::AlreadyExistsError(text);
  }
  if (state == "40001" || state == "40P01") {
    return absl::AbortedError(text);
  }
  if (state == "53100") {
    return absl::ResourceExhaustedError(text);
  }
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P") ||
      state == "53300" || state == "25006" || state == "55P03" ||
      state == "57014") {
    return absl::UnavailableError(text);
  }
  return absl::InternalError(text);
}

}  // namespace

PgParams& PgParams::Push(std::string value, PgParamType type) {
  values_.push_back(std::move(value));
  pointers_.push_back(values_.back().data());
  lengths_.push_back(static_cast<int>(values_.back().size()));
  formats_.push_back(type == PgParamType::kBytes ? 1 : 0);
  types_.push_back(type);
  return *this;
}

PgParams& PgParams::Add(absl::string_view text) {
  return Push(std::string(text), PgParamType::kText);
}
PgParams& PgParams::Add(int64_t value) {
  return Push(absl::StrCat(value), PgParamType::kInt8);
}
PgParams& PgParams::Add(double value) {
  // 17 significant digits round-trip every double (StrCat keeps only six).
  return Push(absl::StrFormat("%.17g", value), PgParamType::kFloat8);
}
PgParams& PgParams::AddBytes(absl::string_view bytes) {
  return Push(std::string(bytes), PgParamType::kBytes);
}

int64_t PgResult::affected() const {
  int64_t n = 0;
  (void)absl::SimpleAtoi(PQcmdTuples(result_.get()), &n);
  return n;
}

int64_t PgResult::Int(int row, int column) const {
  int64_t value = 0;
  if (!absl::SimpleAtoi(Value(row, column), &value)) {
    throw PgError(absl::InternalError("a column expected to be an integer"));
  }
  return value;
}

std::string PgResult::Bytes(int row, int column) const {
  size_t length = 0;
  unsigned char* raw = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(Value(row, column)), &length);
  if (raw == nullptr) {
    throw PgError(absl::ResourceExhaustedError("out of memory reading bytea"));
  }
  std::string bytes(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return bytes;
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Open(
    const std::string& dsn) {
  // Defaults first, then the DSN, whose own settings win: a connection
  // attempt gives up after 5 s instead of the kernel's TCP timeout, and the
  // server's pg_stat_activity names us.
  const char* const keywords[] = {"connect_timeout", "application_name",
                                  "dbname", nullptr};
  const char* const values[] = {"5", "roster-server", dsn.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  // Private constructor: make_unique cannot reach it.
  auto c = absl::WrapUnique(new PgConnection(raw));
  if (raw == nullptr || PQstatus(raw) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    std::string reason = raw == nullptr ? "out of memory" : PQerrorMessage(raw);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) {
      reason.pop_back();
    }
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL: ", reason));
  }
  // Server notices (NOTICE: relation … already exists) are not errors; libpq
  // would print them to stderr, outside the JSON log.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  // Times are integers and text is UTF-8: no session setting changes results
  // except these, pinned so that a server's defaults cannot.
  auto set = PgGuarded("configuring the connection", [&] {
    c->Exec(
        "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on; "
        "SET lock_timeout = '5s'; SET idle_in_transaction_session_timeout = "
        "'60s'");
    return absl::OkStatus();
  });
  if (!set.ok()) {
    return set;
  }
  return c;
}

PgResult PgConnection::Check(PgResult result) {
  const PGresult* raw = result.raw();
  const ExecStatusType status = result.status();
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return result;
  }
  const char* state =
      raw == nullptr ? nullptr : PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  const char* primary = raw == nullptr
                            ? nullptr
                            : PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
  if (state == nullptr) {
    // No SQLSTATE: libpq itself failed, which means the connection is gone.
    throw PgError(absl::UnavailableError(absl::StrCat(
        "the PostgreSQL connection failed: ",
        primary != nullptr ? primary : PQerrorMessage(conn_.get()))));
  }
  throw PgError(StatusFromSqlState(state, primary != nullptr ? primary : ""));
}

absl::StatusOr<PgResult> PgConnection::Checked(PGresult* result) {
  try {
    return Check(result);
  } catch (const PgError& e) {
    return e.status();
  }
}

void PgConnection::UseGenericPlans(bool generic) {
  if (generic == generic_plans_ || !plan_cache_mode_) {
    return;
  }
  try {
    Exec(generic ? "SET plan_cache_mode = force_generic_plan"
                 : "RESET plan_cache_mode");
  } catch (const PgError&) {
    if (!ok()) {
      throw;
    }
    // A server without the setting (PostgreSQL before 12, other pg-wire
    // databases) keeps planning its own way: slower, never wrong.
    plan_cache_mode_ = false;
    return;
  }
  generic_plans_ = generic;
}

PgResult PgConnection::Exec(const std::string& sql) {
  if (!pending_.empty()) {
    // Simple-query text may hold several statements: one round trip still.
    pending_.push_back(sql);
    const std::string all = absl::StrJoin(pending_, "; ");
    pending_.clear();
    return Check(PQexec(conn_.get(), all.c_str()));
  }
  return Check(PQexec(conn_.get(), sql.c_str()));
}

std::pair<std::string, bool> PgConnection::StatementName(
    const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    return {it->second, false};
  }
  if (statements_.size() >= kMaxCachedStatements) {
    Exec("DEALLOCATE ALL");
    statements_.clear();
  }
  return {absl::StrCat("s", next_name_++), true};
}

PgResult PgConnection::Run(const std::string& sql, const PgParams& params) {
  if (!pending_.empty()) {
    return Pipelined(sql, params, /*commit=*/false);
  }
  auto [name, needs_prepare] = StatementName(sql);
  if (needs_prepare) {
    // A failed PREPARE inside a transaction aborts it; nothing is cached then.
    Check(PQprepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr));
    Remember(sql, name);
  }
  return Check(PQexecPrepared(conn_.get(), name.c_str(), params.size(),
                              params.values(), params.lengths(),
                              params.formats(), /*resultFormat=*/0));
}

std::vector<absl::StatusOr<PgResult>> PgConnection::RunEach(
    absl::Span<const PgStatement* const> statements) {
  PGconn* conn = conn_.get();
  if (!pending_.empty()) {
    Exec("SELECT 1");  // Sends what is queued first, in its own round trip.
  }
  // Every name first: emptying a full cache takes a round trip of its own,
  // which pipeline mode cannot hold.
  if (statements_.size() + statements.size() > kMaxCachedStatements) {
    Exec("DEALLOCATE ALL");
    statements_.clear();
  }
  // A statement needs its PREPARE sent only by the first entry running it.
  absl::flat_hash_map<absl::string_view, std::string> preparing;
  struct Sent {
    std::string name;
    bool prepares = false;
  };
  std::vector<Sent> sent(statements.size());
  for (size_t i = 0; i < statements.size(); ++i) {
    const std::string& sql = statements[i]->sql;
    if (auto it = statements_.find(sql); it != statements_.end()) {
      sent[i].name = it->second;
    } else if (auto p = preparing.find(sql); p != preparing.end()) {
      sent[i].name = p->second;
    } else {
      sent[i].name = absl::StrCat("s", next_name_++);
      sent[i].prepares = true;
      preparing.emplace(sql, sent[i].name);
    }
  }
  const auto failed = [&]() {
    broken_ = true;
    return PgError(absl::UnavailableError(absl::StrCat(
        "the PostgreSQL connection failed: ", PQerrorMessage(conn))));
  };
  if (PQenterPipelineMode(conn) != 1) {
    throw failed();
  }
  // Each entry ends with a sync: its own implicit transaction, so a failure
  // skips nothing after it.
  bool ok = true;
  for (size_t i = 0; i < statements.size() && ok; ++i) {
    const PgStatement& s = *statements[i];
    ok = (!sent[i].prepares || PQsendPrepare(conn, sent[i].name.c_str(),
                                             s.sql.c_str(), 0, nullptr) == 1) &&
         PQsendQueryPrepared(conn, sent[i].name.c_str(), s.params.size(),
                             s.params.values(), s.params.lengths(),
                             s.params.formats(), /*resultFormat=*/0) == 1 &&
         PQpipelineSync(conn) == 1;
  }
  std::vector<absl::StatusOr<PgResult>> results;
  results.reserve(statements.size());
  // One result per statement sent, each followed by a null, then the sync.
  const auto next_result = [&]() -> PGresult* {
    PGresult* result = PQgetResult(conn);
    if (result != nullptr) {
      while (PGresult* extra = PQgetResult(conn)) {
        PQclear(extra);  // Only COPY yields more than one; none is sent.
      }
    }
    return result;
  };
  for (size_t i = 0; i < statements.size() && ok; ++i) {
    absl::Status prepared;
    if (sent[i].prepares) {
      PGresult* raw = next_result();
      ok = raw != nullptr;
      prepared = Checked(raw).status();
      if (prepared.ok()) {
        Remember(statements[i]->sql, sent[i].name);
      }
    }
    PGresult* raw = ok ? next_result() : nullptr;
    ok = ok && raw != nullptr;
    if (!prepared.ok()) {
      PQclear(raw);  // PGRES_PIPELINE_ABORTED: the PREPARE's error stands.
      results.emplace_back(prepared);
    } else {
      results.push_back(Checked(raw));
    }
    PgResult sync(ok ? PQgetResult(conn) : nullptr);
    ok = ok && sync.status() == PGRES_PIPELINE_SYNC;
  }
  if (!ok || PQexitPipelineMode(conn) != 1) {
    throw failed();
  }
  return results;
}

PgResult PgConnection::RunAndCommit(const std::string& sql,
                                    const PgParams& params) {
  return Pipelined(sql, params, /*commit=*/true);
}

PgResult PgConnection::Pipelined(const std::string& sql, const PgParams& params,
                                 bool commit) {
  PGconn* conn = conn_.get();
  const std::vector<std::string> first = std::move(pending_);
  pending_.clear();
  auto [name, needs_prepare] = StatementName(sql);
  if (PQenterPipelineMode(conn) != 1) {
    broken_ = true;  // Its queued statements are lost with this one.
    throw PgError(absl::UnavailableError(absl::StrCat(
        "the PostgreSQL connection failed: ", PQerrorMessage(conn))));
  }
  // Each sent statement yields one result, then a null that ends it.
  std::vector<PgResult> results;
  const auto send_text = [&](const std::string& text) {
    return PQsendQueryParams(conn, text.c_str(), 0, nullptr, nullptr, nullptr,
                             nullptr, 0) == 1;
  };
  bool sent = true;
  for (const std::string& text : first) {
    sent = sent && send_text(text);
  }
  sent =
      sent && (!needs_prepare ||
               PQsendPrepare(conn, name.c_str(), sql.c_str(), 0, nullptr) == 1);
  sent = sent && PQsendQueryPrepared(conn, name.c_str(), params.size(),
                                     params.values(), params.lengths(),
                                     params.formats(), /*resultFormat=*/0) == 1;
  sent = sent && (!commit || send_text("COMMIT"));
  sent = sent && PQpipelineSync(conn) == 1;
  const int expected = static_cast<int>(first.size()) +
                       (needs_prepare ? 1 : 0) + 1 + (commit ? 1 : 0);
  bool synced = false;
  if (sent) {
    for (int i = 0; i < expected; ++i) {
      PGresult* result = PQgetResult(conn);
      if (result == nullptr) {
        break;
      }
      results.emplace_back(result);
      while (PGresult* extra = PQgetResult(conn)) {
        PQclear(extra);  // Only COPY yields more than one; none is sent.
      }
    }
    PgResult sync(PQgetResult(conn));
    synced = static_cast<int>(results.size()) == expected &&
             sync.status() == PGRES_PIPELINE_SYNC;
  }
  if (!synced || PQexitPipelineMode(conn) != 1) {
    broken_ = true;
    throw PgError(absl::UnavailableError(absl::StrCat(
        "the PostgreSQL connection failed: ", PQerrorMessage(conn))));
  }
  // In the order sent: the first failure is the one to report, and the
  // statements after it were skipped.
  size_t next = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    Check(std::move(results[next++]));
  }
  if (needs_prepare) {
    Check(std::move(results[next++]));
    Remember(sql, name);
  }
  PgResult outcome = Check(std::move(results[next++]));
  if (commit) {
    Check(std::move(results[next]));
  }
  return outcome;
}

std::string NumberPlaceholders(absl::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 1;
  bool quoted = false;
  for (char ch : sql) {
    if (ch == '\'') {
      quoted = !quoted;
    }
    if (ch == '?' && !quoted) {
      absl::StrAppend(&out, "$", next++);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace roster::storage

// Storage micro-benchmark (Google Benchmark): SqliteUserStore against bare
// sqlite3 prepared statements on the same file, for reads by id (with the
// user cache, which the whole seeded set fits, and without it), reads by
// email, and one-row durable commits (WAL, synchronous=FULL). After the runs
// it prints each UserStore figure as a ratio to its bare-SQLite baseline from
// the same run.
//
//   cd build/bench && ../bin/roster-storage-bench [--users=10000] [benchmark
//   flags]
// (make bench-storage). The database file is created in the working directory.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/sqlite/sqlite_user_store.h"

namespace {

using roster::storage::EmailAddressRecord;
using roster::storage::EventRecord;
using roster::storage::IdentifierKind;
using roster::storage::SqliteUserStore;
using roster::storage::UserRecord;
using roster::storage::VerificationStatus;
using roster::storage::WriteTransaction;

int g_users = 10000;
std::string g_dir;

std::string UserId(int i) { return absl::StrCat("user_", 1000000 + i); }
std::string Email(int i) { return absl::StrCat("user", i, "@bench.example"); }

EventRecord Event(const std::string& user_id) {
  static int64_t counter = 0;
  EventRecord event;
  event.id = absl::StrCat("evt_", ++counter, "_", user_id);
  event.type = "user.created";
  event.user_id = user_id;
  event.payload = "payload";
  return event;
}

UserRecord MakeUser(int i) {
  UserRecord user;
  user.id = UserId(i);
  user.first_name = "First";
  user.created_at = user.updated_at = 1 + i;
  user.version = 1;
  EmailAddressRecord email;
  email.id = absl::StrCat("idn_", 1000000 + i);
  email.user_id = user.id;
  email.email_address = Email(i);
  email.verification.status = VerificationStatus::kVerified;
  email.verification.strategy = "admin";
  email.created_at = email.updated_at = 1 + i;
  user.email_addresses.push_back(email);
  user.primary_email_address_id = email.id;
  return user;
}

// One store and one bare connection on the same seeded file.
struct Fixture {
  std::unique_ptr<SqliteUserStore> store;
  // The same file with the user cache off: what a read costs the database.
  std::unique_ptr<SqliteUserStore> uncached;
  sqlite3* bare = nullptr;
  sqlite3_stmt* by_id = nullptr;
  sqlite3_stmt* by_email = nullptr;

  static Fixture& Get() {
    static Fixture fixture;
    return fixture;
  }

 private:
  Fixture() {
    const std::string path = g_dir + "/storage-bench.db";
    std::remove(path.c_str());
    auto opened = SqliteUserStore::Open({path});
    if (!opened.ok()) {
      std::abort();
    }
    store = *std::move(opened);
    for (int start = 0; start < g_users; start += 1000) {
      auto written = store->Write([&](WriteTransaction& txn) -> absl::Status {
        for (int i = start; i < std::min(g_users, start + 1000); ++i) {
          UserRecord user = MakeUser(i);
          absl::Status s = txn.InsertUser(user, Event(user.id));
          if (!s.ok()) {
            return s;
          }
        }
        return absl::OkStatus();
      });
      if (!written.ok()) {
        std::abort();
      }
    }
    roster::storage::SqliteOptions no_cache{path};
    no_cache.user_cache_bytes = 0;
    auto opened_uncached = SqliteUserStore::Open(no_cache);
    if (!opened_uncached.ok()) {
      std::abort();
    }
    uncached = *std::move(opened_uncached);
    // SQLite as shipped: its own unix VFS, not Roster's, which the store has
    // made the default.
    sqlite3_open_v2(path.c_str(), &bare, SQLITE_OPEN_READWRITE, "unix");
    sqlite3_exec(
        bare,
        "PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS bare_rows "
        "(id INTEGER PRIMARY KEY, value TEXT NOT NULL)",
        nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(bare, "SELECT * FROM users WHERE id = ?", -1, &by_id,
                       nullptr);
    sqlite3_prepare_v2(bare,
                       "SELECT user_id FROM email_addresses WHERE "
                       "email_address = ? AND verification_status = 2",
                       -1, &by_email, nullptr);
  }
};

int Random() {
  thread_local std::mt19937 rng(7);
  return static_cast<int>(rng() % static_cast<unsigned>(g_users));
}

void BareSqliteGetUser(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  for (auto _ : state) {
    const std::string id = UserId(Random());
    sqlite3_bind_text(f.by_id, 1, id.data(), static_cast<int>(id.size()),
                      SQLITE_TRANSIENT);
    if (sqlite3_step(f.by_id) != SQLITE_ROW) {
      state.SkipWithError("missing");
    }
    benchmark::DoNotOptimize(sqlite3_column_text(f.by_id, 1));
    sqlite3_reset(f.by_id);
  }
}

void GetUsers(benchmark::State& state, SqliteUserStore& store) {
  for (auto _ : state) {
    auto user = store.GetUser(UserId(Random()));
    if (!user.ok()) {
      state.SkipWithError("missing");
    }
    benchmark::DoNotOptimize(user);
  }
}

void UserStoreGetUser(benchmark::State& state) {
  GetUsers(state, *Fixture::Get().store);
}

void UserStoreGetUserUncached(benchmark::State& state) {
  GetUsers(state, *Fixture::Get().uncached);
}

void BareSqliteFindByEmail(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  for (auto _ : state) {
    const std::string email = Email(Random());
    sqlite3_bind_text(f.by_email, 1, email.data(),
                      static_cast<int>(email.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(f.by_email) != SQLITE_ROW) {
      state.SkipWithError("missing");
    }
    benchmark::DoNotOptimize(sqlite3_column_text(f.by_email, 0));
    sqlite3_reset(f.by_email);
  }
}

void UserStoreFindByEmail(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  for (auto _ : state) {
    auto id = f.store->FindUserIdByIdentifier(IdentifierKind::kEmailAddress,
                                              Email(Random()));
    if (!id.ok() || !id->has_value()) {
      state.SkipWithError("missing");
    }
    benchmark::DoNotOptimize(id);
  }
}

void BareSqliteCommit(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(f.bare, "INSERT INTO bare_rows (value) VALUES (?)", -1,
                     &insert, nullptr);
  for (auto _ : state) {
    sqlite3_exec(f.bare, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_bind_text(insert, 1, "one row", -1, SQLITE_STATIC);
    sqlite3_step(insert);
    sqlite3_reset(insert);
    if (sqlite3_exec(f.bare, "COMMIT", nullptr, nullptr, nullptr) !=
        SQLITE_OK) {
      state.SkipWithError("commit failed");
    }
  }
  sqlite3_finalize(insert);
}

void UserStoreCommit(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  static int next = 0;  // Across runs: Google Benchmark repeats the function.
  if (next < g_users) {
    next = g_users;
  }
  for (auto _ : state) {
    UserRecord user = MakeUser(next++);
    user.email_addresses
        .clear();  // One row (plus its event), like the bare one.
    user.primary_email_address_id.clear();
    absl::Status s = f.store->Write([&](WriteTransaction& txn) {
      return txn.InsertUser(user, Event(user.id));
    });
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
}

// Records each run's real time per iteration while printing as usual.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) {
        ++errors_;
      }
      std::string name = run.benchmark_name();
      name = name.substr(0, name.find('/'));  // "X/real_time" -> "X".
      nanos_[name] = run.GetAdjustedRealTime() *
                     (run.time_unit == benchmark::kMicrosecond ? 1000.0 : 1.0);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // Runs that ended with SkipWithError: the exit code says so, for the smoke
  // test.
  int errors() const { return errors_; }

  void PrintRatios() const {
    std::cout << "\nUserStore against bare sqlite3 (same file, same run):\n";
    for (const auto& [store, bare] :
         std::vector<std::pair<std::string, std::string>>{
             {"UserStoreGetUser", "BareSqliteGetUser"},
             {"UserStoreGetUserUncached", "BareSqliteGetUser"},
             {"UserStoreFindByEmail", "BareSqliteFindByEmail"},
             {"UserStoreCommit", "BareSqliteCommit"}}) {
      auto s = nanos_.find(store), b = nanos_.find(bare);
      if (s == nanos_.end() || b == nanos_.end()) {
        continue;
      }
      std::printf("  %-26s %10.0f ns  bare %10.0f ns  ratio %.2f\n",
                  store.c_str(), s->second, b->second, s->second / b->second);
    }
  }

 private:
  std::map<std::string, double> nanos_;
  int errors_ = 0;
};

}  // namespace

BENCHMARK(BareSqliteGetUser);
BENCHMARK(UserStoreGetUser);
BENCHMARK(UserStoreGetUserUncached);
BENCHMARK(BareSqliteFindByEmail);
BENCHMARK(UserStoreFindByEmail);
BENCHMARK(BareSqliteCommit)->UseRealTime();
BENCHMARK(UserStoreCommit)->UseRealTime();

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--users=")) {
      if (!absl::SimpleAtoi(arg.substr(8), &g_users) || g_users < 1) {
        std::fprintf(stderr, "--users must be a positive number\n");
        return 2;
      }
    } else {
      args.push_back(argv[i]);
    }
  }
  // The working directory: commits must reach a real disk (a tmpfs fsync is
  // free and would flatter every figure).
  g_dir = ".";
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return reporter.errors() == 0 ? 0 : 1;
}

// The UserStore contract suite's fixture: every test runs on both adapters, a
// SQLite file in a temp dir and a fresh database on the PostgreSQL cluster
// scripts/with-postgres.sh starts. Suites derive from it and instantiate
// themselves with AdapterNames().
#ifndef ROSTER_TESTS_UNIT_STORAGE_USER_STORE_FIXTURE_H_
#define ROSTER_TESTS_UNIT_STORAGE_USER_STORE_FIXTURE_H_

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "tests/testing/postgres.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/unit/storage/adapters.h"

namespace roster::storage {

// Ids here need not be well-formed: storage does not validate, the domain does.
inline UserRecord MakeUser(const std::string& id, Micros created_at) {
  UserRecord user;
  user.id = id;
  user.created_at = created_at;
  user.updated_at = created_at;
  user.version = 1;
  return user;
}

// A distinct event about `user_id` (event ids are unique). Atomic: on
// PostgreSQL, concurrent writes run their bodies at the same time (TSan caught
// the plain counter racing).
inline EventRecord EventFor(const std::string& user_id,
                            const std::string& type = "user.updated") {
  static std::atomic<int> counter{0};
  const int n = ++counter;
  EventRecord event;
  event.id = absl::StrCat("evt_", n);
  event.type = type;
  event.user_id = user_id;
  event.created_at = n;
  event.payload = std::string("\0payload", 8);  // Binary-safe.
  return event;
}

inline EmailAddressRecord MakeEmail(const std::string& id,
                                    const std::string& address) {
  EmailAddressRecord email;
  email.id = id;
  email.email_address = address;
  email.verification = {VerificationStatus::kVerified, "admin", 0, 0, ""};
  email.created_at = email.updated_at = 1;
  return email;
}

// Every test runs on both adapters: a SQLite file in a temp dir, and a fresh
// database on the PostgreSQL cluster scripts/with-postgres.sh starts.
class UserStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool postgres() const { return GetParam() == "postgres"; }

  void SetUp() override {
    if (postgres()) {
      ROSTER_REQUIRE_POSTGRES();
      pg_ = std::make_unique<testing::ScratchPgDatabase>();
    }
    Reopen();
  }

  absl::StatusOr<std::unique_ptr<UserStore>> OpenStore() {
    if (postgres()) {
      return OpenPgUserStore(pg_->dsn());
    }
    auto store = SqliteUserStore::Open({dir_.File("users.db")});
    if (!store.ok()) {
      return store.status();
    }
    return std::unique_ptr<UserStore>(*std::move(store));
  }

  void Reopen() {
    store_.reset();
    auto store = OpenStore();
    ASSERT_THAT(store, ::roster::testing::IsOk());
    store_ = *std::move(store);
  }

  // Rows in `table`, read around the store.
  int64_t CountRows(const std::string& table) {
    const std::string sql = absl::StrCat("SELECT COUNT(*) FROM ", table);
    if (postgres()) {
      return std::stoll(testing::PgScalar(pg_->dsn(), sql));
    }
    SQLite::Database db(dir_.File("users.db"));
    return db.execAndGet(sql).getInt64();
  }

  absl::Status Insert(const UserRecord& user) {
    return store_->Write([&](WriteTransaction& txn) {
      return txn.InsertUser(user, EventFor(user.id));
    });
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ScratchPgDatabase> pg_;
  std::unique_ptr<UserStore> store_;
};

// The parameter values of a suite that runs on every adapter built.
inline auto AdapterNames() { return ::testing::ValuesIn(BuiltAdapters()); }
inline std::string AdapterName(
    const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace roster::storage

#endif  // ROSTER_TESTS_UNIT_STORAGE_USER_STORE_FIXTURE_H_

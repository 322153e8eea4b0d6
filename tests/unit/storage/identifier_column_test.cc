// The users.identifiers column: its format on its own, migration 6's SQL
// against the C++ encoder on a real file, and, through SqliteUserStore, that
// every write keeps the column equal to the identifier tables, which a read
// falls back to when the column is missing or unreadable.
#include "storage/sqlite/identifier_column.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "absl/strings/str_cat.h"
#include "storage/identifier_union.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_migrations.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;

EmailAddressRecord Email(const std::string& id, const std::string& address,
                         int64_t created_at) {
  EmailAddressRecord e;
  e.id = id;
  e.user_id = "u1";
  e.email_address = address;
  e.verification.strategy = "email_code";
  e.created_at = e.updated_at = created_at;
  return e;
}

// A user with every kind of identifier, and field values that look like the
// format's own syntax.
UserRecord FullUser() {
  UserRecord user;
  user.id = "u1";
  user.created_at = user.updated_at = 1;
  user.version = 1;
  EmailAddressRecord verified = Email("e2", "zoë@example.com", 20);
  verified.verification.status = VerificationStatus::kVerified;
  verified.verification.strategy = "admin";
  // Newest first: the decoder puts them oldest first.
  user.email_addresses = {verified, Email("e1", "1:2@example.com", 10)};
  user.email_addresses[1].verification.code_digest = "12:digest:with:colons";
  user.email_addresses[1].verification.attempts = 2;
  user.email_addresses[1].verification.expire_at = 1700000000000000;
  PhoneNumberRecord phone;
  phone.id = "p1";
  phone.user_id = "u1";
  phone.phone_number = "+14155550100";
  phone.reserved_for_second_factor = true;
  phone.verification.status = VerificationStatus::kFailed;
  phone.created_at = phone.updated_at = 5;
  user.phone_numbers = {phone};
  ExternalAccountRecord account;
  account.id = "x1";
  account.user_id = "u1";
  account.provider = "oauth_google";
  account.provider_user_id = "g-123";
  account.email_address = "ada@gmail.com";
  account.first_name = "Ada";
  account.last_name = "";
  account.image_url = "https://img.example/a.png";
  account.approved_scopes = {"email", "profile"};
  account.public_metadata = R"({"k":"3:abc","n":1})";
  account.verification.status = VerificationStatus::kVerified;
  account.verification.strategy = "from_oauth_google";
  account.created_at = 7;
  account.updated_at = 8;
  user.external_accounts = {account};
  return user;
}

void ExpectSameIdentifiers(const UserRecord& a, const UserRecord& b) {
  EXPECT_EQ(a.email_addresses, b.email_addresses);
  EXPECT_EQ(a.phone_numbers, b.phone_numbers);
  EXPECT_EQ(a.external_accounts, b.external_accounts);
}

TEST(IdentifierColumnTest, RoundTripsEveryKindAndFieldOldestFirst) {
  const UserRecord user = FullUser();
  UserRecord decoded;
  decoded.id = "u1";
  ASSERT_TRUE(DecodeIdentifierColumn(EncodeIdentifierColumn(user), decoded));
  ASSERT_EQ(decoded.email_addresses.size(), 2u);
  EXPECT_EQ(decoded.email_addresses[0].id, "e1");
  EXPECT_EQ(decoded.email_addresses[1], user.email_addresses[0]);
  EXPECT_EQ(decoded.email_addresses[0], user.email_addresses[1]);
  EXPECT_EQ(decoded.phone_numbers, user.phone_numbers);
  EXPECT_EQ(decoded.external_accounts, user.external_accounts);

  UserRecord none;
  none.id = "u2";
  EXPECT_EQ(EncodeIdentifierColumn(none), "");
  none.email_addresses = {Email("e9", "gone@example.com", 1)};
  ASSERT_TRUE(DecodeIdentifierColumn("", none));
  EXPECT_TRUE(none.email_addresses.empty());
}

TEST(IdentifierColumnTest, RefusesAMalformedColumnAndLeavesTheRecord) {
  UserRecord one;
  one.id = "u1";
  one.email_addresses = {Email("e1", "a@example.com", 1)};
  const std::string valid = EncodeIdentifierColumn(one);
  std::vector<std::string> malformed = {
      "q1:a",                     // unknown kind
      "e",                        // a kind and no fields
      "e9:abc",                   // a field longer than what is left
      "e-1:abc",                  // a negative length
      "e1a:b",                    // a length that is not a number
      "e99999999999999999999:a",  // a length past size_t
      valid + "e",                // a second record cut short
  };
  // Every cut through the one record.
  for (size_t size = 1; size < valid.size(); ++size) {
    malformed.push_back(valid.substr(0, size));
  }
  // A number field that is not a number (the status, third field).
  const size_t status = std::string("e2:e113:a@example.com").size();
  ASSERT_EQ(valid.substr(status, 3), "1:1");
  malformed.push_back(valid.substr(0, status) + "1:x" +
                      valid.substr(status + 3));
  for (const std::string& column : malformed) {
    UserRecord user = one;
    EXPECT_FALSE(DecodeIdentifierColumn(column, user)) << column;
    EXPECT_EQ(user.email_addresses, one.email_addresses) << column;
  }
}

class StoredIdentifierColumnTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteUserStore> OpenStore() {
    SqliteOptions options{path_};
    options.user_cache_bytes = 0;  // Every GetUser reads the file.
    auto store = SqliteUserStore::Open(options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  // The column as stored, for `user_id`.
  std::string Column(const std::string& user_id) {
    SQLite::Database db(path_, SQLite::OPEN_READONLY);
    SQLite::Statement s(db, "SELECT identifiers FROM users WHERE id = ?");
    s.bind(1, user_id);
    EXPECT_TRUE(s.executeStep());
    EXPECT_FALSE(s.getColumn(0).isNull());
    return s.getColumn(0).getString();
  }

  void SetColumn(const std::string& user_id, const char* value) {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    SQLite::Statement s(db, "UPDATE users SET identifiers = ? WHERE id = ?");
    if (value == nullptr) {
      s.bind(1);
    } else {
      s.bind(1, value);
    }
    s.bind(2, user_id);
    EXPECT_EQ(s.exec(), 1);
  }

  // GetUser from the column, then with the column NULL and then unreadable
  // (both read the tables): all three agree. Puts the column back.
  void ExpectColumnMatchesTables(SqliteUserStore& store,
                                 const std::string& user_id) {
    const std::string column = Column(user_id);
    auto from_column = store.GetUser(user_id);
    ASSERT_THAT(from_column, IsOk());
    for (const char* replacement :
         {static_cast<const char*>(nullptr), "e5:oops"}) {
      SetColumn(user_id, replacement);
      auto from_tables = store.GetUser(user_id);
      ASSERT_THAT(from_tables, IsOk());
      ExpectSameIdentifiers(*from_column, *from_tables);
      EXPECT_EQ(from_column->version, from_tables->version);
    }
    SetColumn(user_id, column.c_str());
  }

  EventRecord Event(const std::string& user_id) {
    EventRecord event;
    event.id = absl::StrCat("evt_", ++events_);
    event.type = "user.updated";
    event.user_id = user_id;
    return event;
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.File("users.db");
  int events_ = 0;
};

TEST_F(StoredIdentifierColumnTest, MigrationSixFillsItFromTheTables) {
  {
    auto old = SqliteConnection::Open(path_, SqliteConnection::Mode::kWriter,
                                      absl::Seconds(5));
    ASSERT_THAT(old, IsOk());
    ASSERT_THAT(MigrateTo(**old, 5), IsOk());
    (*old)->Exec(
        "INSERT INTO users (id, created_at, updated_at, version) VALUES "
        "('u1', 1, 1, 1), ('u2', 2, 2, 1);"
        "INSERT INTO email_addresses (id, user_id, email_address, "
        "verification_status, verification_strategy, verification_attempts, "
        "verification_expire_at, created_at, updated_at, "
        "verification_code_digest) VALUES "
        "('e1', 'u1', '1:2@example.com', 1, 'email_code', 2, "
        "1700000000000000, 10, 10, '12:digest:with:colons'),"
        "('e2', 'u1', 'zoë@example.com', 2, 'admin', 0, 0, 20, 20, '');"
        "INSERT INTO phone_numbers (id, user_id, phone_number, "
        "verification_status, verification_strategy, "
        "reserved_for_second_factor, created_at, updated_at) VALUES "
        "('p1', 'u1', '+14155550100', 3, '', 1, 5, 5);"
        "INSERT INTO external_accounts (id, user_id, provider, "
        "provider_user_id, email_address, first_name, last_name, username, "
        "image_url, approved_scopes, public_metadata, verification_status, "
        "verification_strategy, verification_attempts, "
        "verification_expire_at, created_at, updated_at) VALUES "
        "('x1', 'u1', 'oauth_google', 'g-123', 'ada@gmail.com', 'Ada', '', "
        "'', 'https://img.example/a.png', 'email profile', "
        "'{\"k\":\"3:abc\",\"n\":1}', 2, 'from_oauth_google', 0, 0, 7, 8);");
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);

  UserRecord decoded;
  decoded.id = "u1";
  ASSERT_TRUE(DecodeIdentifierColumn(Column("u1"), decoded));
  UserRecord expected = FullUser();
  SortIdentifiers(expected);
  ExpectSameIdentifiers(decoded, expected);
  EXPECT_EQ(Column("u2"), "");  // Kept, and empty: no identifiers.
  ExpectColumnMatchesTables(*store, "u1");
  ExpectColumnMatchesTables(*store, "u2");
}

// Rewriting thousands of rows in one statement spills its statement journal
// to a file in chunks larger than SQLite's unix VFS writes in one call, which
// failed with SQLITE_FULL until journals went through a VFS that splits
// their writes (see sqlite_connection.cc).
TEST_F(StoredIdentifierColumnTest, MigrationSixRewritesALargeTable) {
  constexpr int kUsers = 20000;  // ~6 MB of users rows: past any bound.
  {
    auto old = SqliteConnection::Open(path_, SqliteConnection::Mode::kWriter,
                                      absl::Seconds(5));
    ASSERT_THAT(old, IsOk());
    ASSERT_THAT(MigrateTo(**old, 5), IsOk());
    (*old)->Exec(
        absl::StrCat("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                     "FROM n WHERE i < ",
                     kUsers,
                     ") INSERT INTO users (id, first_name, created_at, "
                     "updated_at, version) SELECT 'u' || i, printf('%.200c', "
                     "'a'), i, i, 1 FROM n;"
                     "INSERT INTO email_addresses (id, user_id, email_address, "
                     "verification_status, verification_strategy, created_at, "
                     "updated_at) SELECT 'e' || substr(id, 2), id, id || "
                     "'@example.com', 2, 'admin', 1, 1 FROM users;")
            .c_str());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (const std::string id : {"u1", "u10000", "u20000"}) {
    auto user = store->GetUser(id);
    ASSERT_THAT(user, IsOk());
    ASSERT_EQ(user->email_addresses.size(), 1u);
    EXPECT_EQ(user->email_addresses[0].email_address, id + "@example.com");
    EXPECT_NE(Column(id), "");
  }
}

TEST_F(StoredIdentifierColumnTest, EveryWriteKeepsItEqualToTheTables) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  UserRecord user = FullUser();
  ASSERT_THAT(store->Write([&](WriteTransaction& txn) {
    return txn.InsertUser(user, Event(user.id));
  }),
              IsOk());
  ExpectColumnMatchesTables(*store, "u1");

  // Each step changes one kind, and the last changes none.
  std::vector<std::function<void(UserRecord&)>> changes = {
      [](UserRecord& u) {
        u.email_addresses.push_back(Email("e3", "new@example.com", 30));
      },
      [](UserRecord& u) {
        u.email_addresses[0].verification.status =
            VerificationStatus::kVerified;
        u.email_addresses[0].verification.code_digest.clear();
      },
      [](UserRecord& u) { u.phone_numbers.clear(); },
      [](UserRecord& u) {
        u.external_accounts[0].approved_scopes = {"email"};
        u.external_accounts[0].updated_at = 9;
      },
      [](UserRecord& u) { u.first_name = "Ada"; },
  };
  for (size_t step = 0; step < changes.size(); ++step) {
    SCOPED_TRACE(step);
    auto stored = store->GetUser("u1");
    ASSERT_THAT(stored, IsOk());
    UserRecord changed = *stored;
    changes[step](changed);
    changed.version = stored->version + 1;
    ASSERT_THAT(store->Write([&](WriteTransaction& txn) {
      return txn.UpdateUser(changed, Event(changed.id));
    }),
                IsOk());
    auto read = store->GetUser("u1");
    ASSERT_THAT(read, IsOk());
    SortIdentifiers(changed);
    ExpectSameIdentifiers(*read, changed);
    ExpectColumnMatchesTables(*store, "u1");
  }

  // A user written while its column was NULL gets it back.
  SetColumn("u1", nullptr);
  auto stored = store->GetUser("u1");
  ASSERT_THAT(stored, IsOk());
  UserRecord changed = *stored;
  changed.phone_numbers = FullUser().phone_numbers;
  changed.version = stored->version + 1;
  ASSERT_THAT(store->Write([&](WriteTransaction& txn) {
    return txn.UpdateUser(changed, Event(changed.id));
  }),
              IsOk());
  ExpectColumnMatchesTables(*store, "u1");
}

TEST_F(StoredIdentifierColumnTest, AListPageReadsTheColumnOrElseTheTables) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<UserRecord> users(3, FullUser());
  for (size_t i = 0; i < users.size(); ++i) {
    UserRecord& user = users[i];
    user.id = absl::StrCat("u", i);
    user.created_at = static_cast<int64_t>(i);
    for (auto& e : user.email_addresses) {
      e.id += user.id;
      e.user_id = user.id;
      e.email_address = absl::StrCat(user.id, e.email_address);
    }
    user.phone_numbers[0].id += user.id;
    user.phone_numbers[0].phone_number += std::to_string(i);
    user.external_accounts[0].id += user.id;
    user.external_accounts[0].provider_user_id += user.id;
    user.phone_numbers[0].user_id = user.external_accounts[0].user_id = user.id;
    ASSERT_THAT(store->Write([&](WriteTransaction& txn) {
      return txn.InsertUser(user, Event(user.id));
    }),
                IsOk());
    SortIdentifiers(user);
  }
  SetColumn("u1", nullptr);
  SetColumn("u2", "x1:");

  UserPageQuery query;
  query.limit = 2;
  std::vector<UserRecord> listed;
  while (true) {
    auto page = store->ListUsers(query);
    ASSERT_THAT(page, IsOk());
    listed.insert(listed.end(), page->users.begin(), page->users.end());
    if (!page->next.has_value()) {
      break;
    }
    query.after = page->next;
  }
  ASSERT_EQ(listed.size(), users.size());
  std::sort(
      listed.begin(), listed.end(),
      [](const UserRecord& a, const UserRecord& b) { return a.id < b.id; });
  for (size_t i = 0; i < users.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(listed[i].id, users[i].id);
    ExpectSameIdentifiers(listed[i], users[i]);
  }
}

}  // namespace
}  // namespace roster::storage

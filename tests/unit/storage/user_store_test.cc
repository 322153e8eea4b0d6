// The UserStore contract for users and their identifiers, run against both
// adapters, then what is particular to the SQLite file. How writes commit,
// batch and fail is write_transaction_test.cc.
#include <SQLiteCpp/Database.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/sqlite/sqlite_migrations.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "tests/testing/postgres.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::IsOkAndHolds;
using ::roster::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Field;

INSTANTIATE_TEST_SUITE_P(Adapters, UserStoreTest, AdapterNames(), AdapterName);

// What only the embedded file has: pragmas, its migration history, paths.
class SqliteUserStoreTest : public UserStoreTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteUserStoreTest,
                         ::testing::Values("sqlite"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

TEST_P(SqliteUserStoreTest, OpenMigratesToLatestSchemaVersion) {
  SQLite::Database db(dir_.File("users.db"));
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(),
            LatestSchemaVersion());
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST_P(UserStoreTest, InsertedUserReadsBackWithIdentifiersOldestFirst) {
  UserRecord user = MakeUser("u1", 100);
  user.username = "ada";
  user.public_metadata = R"({"plan":"pro"})";
  // Stored newest first, and two created in the same microsecond: the read
  // orders by creation time, then id, whatever the rows' storage order.
  user.email_addresses = {MakeEmail("e3", "c@example.com"),
                          MakeEmail("e1", "a@example.com"),
                          MakeEmail("e2", "b@example.com")};
  user.email_addresses[0].created_at = 6;
  user.email_addresses[1].created_at = 5;
  user.email_addresses[2].created_at = 5;
  user.primary_email_address_id = "e2";
  PhoneNumberRecord phone;
  phone.id = "p1";
  phone.phone_number = "+14155550100";
  phone.reserved_for_second_factor = true;
  user.phone_numbers = {phone};
  ASSERT_THAT(Insert(user), IsOk());

  ASSERT_OK_AND_ASSIGN(read, store_->GetUser("u1"));
  UserPageQuery everyone;
  everyone.limit = 10;
  ASSERT_OK_AND_ASSIGN(page, store_->ListUsers(everyone));
  ASSERT_EQ(page.users.size(), 1u);
  for (const UserRecord& got : {read, page.users[0]}) {
    EXPECT_EQ(got.username, "ada");
    EXPECT_EQ(got.public_metadata, R"({"plan":"pro"})");
    EXPECT_EQ(got.primary_email_address_id, "e2");
    EXPECT_THAT(got.email_addresses,
                ElementsAre(Field(&EmailAddressRecord::id, "e1"),
                            Field(&EmailAddressRecord::id, "e2"),
                            Field(&EmailAddressRecord::id, "e3")));
    ASSERT_EQ(got.phone_numbers.size(), 1u);
    EXPECT_TRUE(got.phone_numbers[0].reserved_for_second_factor);
    EXPECT_EQ(got.phone_numbers[0].verification.status,
              VerificationStatus::kUnverified);
    EXPECT_EQ(got.phone_numbers[0].user_id, "u1");
  }
}

TEST_P(UserStoreTest, MissingUserIsNotFound) {
  EXPECT_THAT(store_->GetUser("nobody"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("nobody", EventFor("nobody"));
  }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.UpdateUser(MakeUser("nobody", 1), EventFor("nobody"));
  }),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(UserStoreTest, DataSurvivesReopen) {
  UserRecord user = MakeUser("u1", 100);
  user.email_addresses = {MakeEmail("e1", "a@example.com")};
  ASSERT_THAT(Insert(user), IsOk());
  Reopen();
  ASSERT_OK_AND_ASSIGN(read, store_->GetUser("u1"));
  ASSERT_EQ(read.email_addresses.size(), 1u);
  EXPECT_EQ(read.email_addresses[0].email_address, "a@example.com");
}

TEST_P(UserStoreTest, DuplicateEmailIsAlreadyExists) {
  UserRecord first = MakeUser("u1", 1);
  first.email_addresses = {MakeEmail("e1", "a@example.com")};
  ASSERT_THAT(Insert(first), IsOk());
  UserRecord second = MakeUser("u2", 2);
  second.email_addresses = {MakeEmail("e2", "a@example.com")};
  EXPECT_THAT(Insert(second), StatusIs(absl::StatusCode::kAlreadyExists));
  // The failed insert left nothing behind: not even the user row.
  EXPECT_THAT(store_->GetUser("u2"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(UserStoreTest,
       DuplicateUsernameAndExternalIdAreAlreadyExistsButEmptyOnesAreNot) {
  UserRecord first = MakeUser("u1", 1);
  first.username = "ada";
  first.external_id = "ext-1";
  ASSERT_THAT(Insert(first), IsOk());
  UserRecord same_username = MakeUser("u2", 2);
  same_username.username = "ada";
  EXPECT_THAT(Insert(same_username),
              StatusIs(absl::StatusCode::kAlreadyExists));
  UserRecord same_external_id = MakeUser("u3", 3);
  same_external_id.external_id = "ext-1";
  EXPECT_THAT(Insert(same_external_id),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Insert(MakeUser("u4", 4)), IsOk());
  EXPECT_THAT(Insert(MakeUser("u5", 5)), IsOk());
}

TEST_P(UserStoreTest, DeleteCascadesToIdentifiers) {
  UserRecord user = MakeUser("u1", 1);
  user.email_addresses = {MakeEmail("e1", "a@example.com")};
  ASSERT_THAT(Insert(user), IsOk());
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("u1", EventFor("u1"));
  }),
              IsOk());
  // The address is free again.
  UserRecord other = MakeUser("u2", 2);
  other.email_addresses = {MakeEmail("e2", "a@example.com")};
  EXPECT_THAT(Insert(other), IsOk());
  EXPECT_EQ(CountRows("email_addresses"), 1);
}

TEST_P(UserStoreTest, FindsUserByEachIdentifierKind) {
  UserRecord user = MakeUser("u1", 1);
  user.username = "ada";
  user.external_id = "ext";
  user.email_addresses = {MakeEmail("e1", "a@example.com")};
  ASSERT_THAT(Insert(user), IsOk());
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) -> absl::Status {
    for (auto [kind, value] :
         {std::pair{IdentifierKind::kEmailAddress, "a@example.com"},
          std::pair{IdentifierKind::kUsername, "ada"},
          std::pair{IdentifierKind::kExternalId, "ext"}}) {
      auto found = txn.FindUserIdByIdentifier(kind, value);
      EXPECT_THAT(found, IsOk());
      EXPECT_EQ(found->value_or("none"), "u1");
    }
    auto missing = txn.FindUserIdByIdentifier(IdentifierKind::kUsername, "");
    EXPECT_FALSE(missing->has_value());  // Unset usernames belong to nobody.
    return absl::OkStatus();
  }),
              IsOk());
}

// An update writes only what changed on SQLite (UpdateUserRow); whatever an
// adapter writes, every change must land and nothing else may move.
TEST_P(UserStoreTest, UpdatesWriteEveryChangeAndKeepTheRest) {
  UserRecord ada = MakeUser("u1", 1);
  ada.username = "ada";
  ada.first_name = "Ada";
  ada.unsafe_metadata = R"({"a":1})";
  ada.email_addresses = {MakeEmail("e1", "z@example.com")};
  ada.primary_email_address_id = "e1";
  PhoneNumberRecord phone;
  phone.id = "p1";
  phone.phone_number = "+14155550100";
  phone.verification = {VerificationStatus::kUnverified, "phone_code", 0, 0,
                        ""};
  ada.phone_numbers = {phone};
  ExternalAccountRecord account;
  account.id = "a1";
  account.provider = "github";
  account.provider_user_id = "42";
  account.approved_scopes = {"read:user", "user:email"};
  ada.external_accounts = {account};
  UserRecord bob = MakeUser("u2", 2);
  bob.email_addresses = {MakeEmail("e9", "m@example.com")};
  bob.primary_email_address_id = "e9";
  ASSERT_THAT(Insert(ada), IsOk());
  ASSERT_THAT(Insert(bob), IsOk());
  auto update = [&](const UserRecord& user) {
    return store_->Write([&](WriteTransaction& txn) {
      return txn.UpdateUser(user, EventFor(user.id));
    });
  };
  UserPageQuery by_email;
  by_email.order = {UserOrderKey::kEmailAddress, false};
  by_email.limit = 10;
  ASSERT_OK_AND_ASSIGN(before, store_->ListUsers(by_email));
  EXPECT_THAT(before.users, ElementsAre(Field(&UserRecord::id, "u2"),
                                        Field(&UserRecord::id, "u1")));

  UserRecord changed = ada;
  changed.unsafe_metadata = R"({"a":2})";
  changed.version = 2;
  ASSERT_THAT(update(changed), IsOk());
  ASSERT_OK_AND_ASSIGN(one_column, store_->GetUser("u1"));
  EXPECT_EQ(one_column.unsafe_metadata, R"({"a":2})");
  EXPECT_EQ(one_column.version, 2);
  EXPECT_EQ(one_column.username, "ada");
  EXPECT_EQ(one_column.first_name, "Ada");
  EXPECT_THAT(
      one_column.email_addresses,
      ElementsAre(Field(&EmailAddressRecord::email_address, "z@example.com")));
  ASSERT_EQ(one_column.phone_numbers.size(), 1u);
  EXPECT_EQ(one_column.phone_numbers[0].verification.strategy, "phone_code");
  ASSERT_EQ(one_column.external_accounts.size(), 1u);
  EXPECT_THAT(one_column.external_accounts[0].approved_scopes,
              ElementsAre("read:user", "user:email"));

  // A new primary address (which moves the derived sort column), a verified
  // phone number and no external account, in one update.
  changed.email_addresses.push_back(MakeEmail("e2", "a@example.com"));
  changed.email_addresses[1].created_at = 2;
  changed.primary_email_address_id = "e2";
  changed.phone_numbers[0].verification.status = VerificationStatus::kVerified;
  changed.external_accounts.clear();
  changed.version = 3;
  ASSERT_THAT(update(changed), IsOk());
  ASSERT_OK_AND_ASSIGN(several, store_->GetUser("u1"));
  EXPECT_EQ(several.primary_email_address_id, "e2");
  EXPECT_THAT(
      several.email_addresses,
      ElementsAre(Field(&EmailAddressRecord::email_address, "z@example.com"),
                  Field(&EmailAddressRecord::email_address, "a@example.com")));
  ASSERT_EQ(several.phone_numbers.size(), 1u);
  EXPECT_EQ(several.phone_numbers[0].verification.status,
            VerificationStatus::kVerified);
  EXPECT_TRUE(several.external_accounts.empty());
  EXPECT_EQ(several.unsafe_metadata, R"({"a":2})");
  EXPECT_EQ(CountRows("external_accounts"), 0);
  ASSERT_OK_AND_ASSIGN(after, store_->ListUsers(by_email));
  EXPECT_THAT(after.users, ElementsAre(Field(&UserRecord::id, "u1"),
                                       Field(&UserRecord::id, "u2")));
  ASSERT_THAT(store_->Write([](WriteTransaction& txn) -> absl::Status {
    auto holder = txn.FindUserIdByIdentifier(IdentifierKind::kPhoneNumber,
                                             "+14155550100");
    EXPECT_THAT(holder, IsOkAndHolds(std::optional<std::string>("u1")));
    return absl::OkStatus();
  }),
              IsOk());

  // Writing the stored record back unchanged is not an error either.
  EXPECT_THAT(update(several), IsOk());
  ASSERT_OK_AND_ASSIGN(unchanged, store_->GetUser("u1"));
  EXPECT_EQ(unchanged.email_addresses, several.email_addresses);
  EXPECT_EQ(unchanged.version, 3);
}

TEST_P(SqliteUserStoreTest, NewerSchemaIsFailedPrecondition) {
  store_.reset();
  {
    SQLite::Database db(dir_.File("users.db"), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 999");
  }
  EXPECT_THAT(SqliteUserStore::Open({dir_.File("users.db")}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(SqliteUserStoreTest, UnopenablePathIsUnavailable) {
  EXPECT_THAT(SqliteUserStore::Open({dir_.File("missing-dir/users.db")}),
              StatusIs(absl::StatusCode::kUnavailable));
}

// Migration 4: a verified value is unique, unverified claims may coexist.
TEST_P(UserStoreTest, OnlyAVerifiedEmailIsUniqueAcrossUsers) {
  UserRecord ada = MakeUser("user_ada", 1);
  UserRecord eve = MakeUser("user_eve", 2);
  ada.email_addresses.push_back(MakeEmail("idn_1", "shared@example.com"));
  eve.email_addresses.push_back(MakeEmail("idn_2", "shared@example.com"));
  eve.email_addresses.back().verification.status =
      VerificationStatus::kUnverified;
  ASSERT_THAT(Insert(ada), IsOk());
  ASSERT_THAT(Insert(eve), IsOk());
  ASSERT_THAT(store_->FindUserIdByIdentifier(IdentifierKind::kEmailAddress,
                                             "shared@example.com"),
              IsOkAndHolds(std::optional<std::string>("user_ada")));
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
    auto claimants = txn.FindUnverifiedClaimants(IdentifierKind::kEmailAddress,
                                                 "shared@example.com");
    EXPECT_THAT(claimants, IsOk());
    if (claimants.ok()) {
      EXPECT_THAT(*claimants, ElementsAre("user_eve"));
    }
    return absl::OkStatus();
  }),
              IsOk());
  // A second verified holder is refused by the index itself.
  eve.email_addresses.back().verification.status =
      VerificationStatus::kVerified;
  EXPECT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.UpdateUser(eve, EventFor(eve.id));
  }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // And one user holds a value once, verified or not.
  UserRecord twice = MakeUser("user_twice", 3);
  twice.email_addresses.push_back(MakeEmail("idn_3", "twice@example.com"));
  twice.email_addresses.push_back(MakeEmail("idn_4", "twice@example.com"));
  twice.email_addresses.back().verification.status =
      VerificationStatus::kUnverified;
  EXPECT_THAT(Insert(twice), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_P(UserStoreTest, VerificationSendsAreCountedPerWindow) {
  auto count = [&](Micros now, Micros window_start) {
    int32_t sends = 0;
    EXPECT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
      auto n = txn.CountVerificationSend("email_address:a@example.com", now,
                                         window_start);
      if (!n.ok()) return n.status();
      sends = *n;
      return absl::OkStatus();
    }),
                IsOk());
    return sends;
  };
  EXPECT_EQ(count(100, 0), 1);
  EXPECT_EQ(count(150, 50), 2);
  EXPECT_EQ(count(200, 100), 3);
  EXPECT_EQ(count(300, 101), 1);  // The window that began at 100 is over.
}

TEST_P(UserStoreTest, ImagesRoundTripAndGoWithTheirUser) {
  ASSERT_THAT(Insert(MakeUser("user_ada", 1)), IsOk());
  ImageRecord image;
  image.id = "img_1";
  image.user_id = "user_ada";
  image.content_type = "image/png";
  image.sha256 = "ab";
  image.data = std::string("\x89PNG\0\1\2", 7);
  image.created_at = 5;
  ASSERT_THAT(
      store_->Write([&](WriteTransaction& txn) { return txn.PutImage(image); }),
      IsOk());
  auto read = store_->GetImage("img_1");
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->data, image.data);
  EXPECT_EQ(read->content_type, "image/png");
  EXPECT_EQ(read->user_id, "user_ada");
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.DeleteUser("user_ada", EventFor("user_ada", "user.deleted"));
  }),
              IsOk());
  EXPECT_THAT(store_->GetImage("img_1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(SqliteUserStoreTest, MigrationFourKeepsIdentifiersWrittenBySchemaThree) {
  const std::string path = dir_.File("old.db");
  {
    auto old = SqliteConnection::Open(path, SqliteConnection::Mode::kWriter,
                                      absl::Seconds(5));
    ASSERT_THAT(old, IsOk());
    ASSERT_THAT(MigrateTo(**old, 3), IsOk());
    (*old)->Exec(
        "INSERT INTO users (id, created_at, updated_at, version, "
        "primary_email_address_id) VALUES ('user_old', 1, 1, 1, 'idn_e');"
        "INSERT INTO email_addresses (id, user_id, email_address, "
        "verification_status, verification_strategy, created_at, updated_at) "
        "VALUES ('idn_e', 'user_old', 'old@example.com', 2, 'admin', 1, 1);"
        "INSERT INTO phone_numbers (id, user_id, phone_number, "
        "verification_status, verification_strategy, "
        "reserved_for_second_factor, created_at, updated_at) VALUES "
        "('idn_p', 'user_old', '+14155550100', 1, '', 1, 2, 2);");
  }
  auto store = SqliteUserStore::Open({path});
  ASSERT_THAT(store, IsOk());
  auto user = (*store)->GetUser("user_old");
  ASSERT_THAT(user, IsOk());
  ASSERT_EQ(user->email_addresses.size(), 1u);
  EXPECT_EQ(user->email_addresses[0].email_address, "old@example.com");
  EXPECT_EQ(user->email_addresses[0].verification.status,
            VerificationStatus::kVerified);
  ASSERT_EQ(user->phone_numbers.size(), 1u);
  EXPECT_TRUE(user->phone_numbers[0].reserved_for_second_factor);
  EXPECT_EQ(user->phone_numbers[0].verification.code_digest, "");
  EXPECT_THAT((*store)->FindUserIdByIdentifier(IdentifierKind::kEmailAddress,
                                               "old@example.com"),
              IsOkAndHolds(std::optional<std::string>("user_old")));
}

TEST_P(SqliteUserStoreTest, MigrationFiveCountsTheUsersAlreadyThere) {
  const std::string path = dir_.File("old.db");
  {
    auto old = SqliteConnection::Open(path, SqliteConnection::Mode::kWriter,
                                      absl::Seconds(5));
    ASSERT_THAT(old, IsOk());
    ASSERT_THAT(MigrateTo(**old, 4), IsOk());
    (*old)->Exec(
        "INSERT INTO users (id, created_at, updated_at, version) VALUES "
        "('user_a', 1, 1, 1), ('user_b', 2, 2, 1), ('user_c', 3, 3, 1);");
  }
  auto store = SqliteUserStore::Open({path});
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->CountUsers(UserFilter()), IsOkAndHolds(3));
  ASSERT_THAT((*store)->Write([](WriteTransaction& txn) {
    return txn.DeleteUser("user_b", EventFor("user_b", "user.deleted"));
  }),
              IsOk());
  EXPECT_THAT((*store)->CountUsers(UserFilter()), IsOkAndHolds(2));
}

}  // namespace
}  // namespace roster::storage

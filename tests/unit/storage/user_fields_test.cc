// Every field of a stored user, each given a value no other field holds, read
// back through every read path of both adapters. A column read into the wrong
// member, a field an adapter forgets to write, or an identifier column bound
// out of place fails here by name.
#include <SQLiteCpp/Database.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;

// Gives each column of kUserRow a value that depends on its name and `round`:
// strings "<name>#<round>", integers 1000 * round + the column's position,
// booleans the opposite of their default in round 1 and back in round 2.
void FillEveryColumn(UserRecord& user, int round) {
  const UserRecord defaults;
  int position = 0;
  for (const UserColumn& column : kUserRow) {
    ++position;
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(user.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            user.*member = absl::StrCat(column.name, "#", round);
          } else if constexpr (std::is_same_v<T, bool>) {
            user.*member =
                round % 2 == 1 ? !(defaults.*member) : defaults.*member;
          } else {
            user.*member = static_cast<T>(1000) * round + position;
          }
        },
        column.member);
  }
  user.id = "user_fields";  // The key stays put across rounds.
}

VerificationRecord DistinctVerification(const std::string& tag, int round) {
  VerificationRecord v;
  v.status = round % 2 == 1 ? VerificationStatus::kExpired
                            : VerificationStatus::kFailed;
  v.strategy = absl::StrCat(tag, "-strategy#", round);
  v.attempts = 10 * round + 1;
  v.expire_at = 10 * round + 2;
  v.code_digest = absl::StrCat(tag, "-digest#", round);
  return v;
}

// One identifier of each kind, every field distinct.
void FillIdentifiers(UserRecord& user, int round) {
  EmailAddressRecord email;
  email.id = "idn_email";
  email.user_id = user.id;
  email.email_address = absl::StrCat("fields", round, "@example.com");
  email.verification = DistinctVerification("email", round);
  email.created_at = 100 * round + 1;
  email.updated_at = 100 * round + 2;
  user.email_addresses = {email};

  PhoneNumberRecord phone;
  phone.id = "idn_phone";
  phone.user_id = user.id;
  phone.phone_number = absl::StrCat("+1415555010", round);
  phone.verification = DistinctVerification("phone", round);
  phone.reserved_for_second_factor = round % 2 == 1;
  phone.default_second_factor = round % 2 == 0;
  phone.created_at = 100 * round + 3;
  phone.updated_at = 100 * round + 4;
  user.phone_numbers = {phone};

  ExternalAccountRecord account;
  account.id = "eac_account";
  account.user_id = user.id;
  account.provider = absl::StrCat("oauth_custom_p", round);
  account.provider_user_id = absl::StrCat("provider-user#", round);
  account.email_address = absl::StrCat("account", round, "@example.com");
  account.first_name = absl::StrCat("account-first#", round);
  account.last_name = absl::StrCat("account-last#", round);
  account.username = absl::StrCat("account-username#", round);
  account.image_url = absl::StrCat("https://example.com/", round, ".png");
  account.approved_scopes = {absl::StrCat("scope-a#", round),
                             absl::StrCat("scope-b#", round)};
  account.public_metadata = absl::StrCat(R"({"round":)", round, "}");
  account.verification = DistinctVerification("account", round);
  account.verification.code_digest = "";  // Kept for codes sent, not here.
  account.created_at = 100 * round + 5;
  account.updated_at = 100 * round + 6;
  user.external_accounts = {account};
}

// Compares column by column first, so a failure names the column.
void ExpectSameUser(const UserRecord& got, const UserRecord& want,
                    const std::string& path) {
  for (const UserColumn& column : kUserRow) {
    std::visit(
        [&](auto member) {
          EXPECT_EQ(got.*member, want.*member)
              << "column " << column.name << " read through " << path;
        },
        column.member);
  }
  EXPECT_TRUE(got.email_addresses == want.email_addresses) << path;
  EXPECT_TRUE(got.phone_numbers == want.phone_numbers) << path;
  EXPECT_TRUE(got.external_accounts == want.external_accounts) << path;
  EXPECT_TRUE(got == want) << path;
}

class UserFieldsTest : public UserStoreTest {
 protected:
  // The user as GetUser, a page of ListUsers and, after a reopen (an empty
  // cache), GetUser again return it.
  void ExpectEveryPathReads(const UserRecord& want) {
    ASSERT_OK_AND_ASSIGN(got, store_->GetUser(want.id));
    ExpectSameUser(got, want, "GetUser");
    UserPageQuery everyone;
    everyone.limit = 10;
    ASSERT_OK_AND_ASSIGN(page, store_->ListUsers(everyone));
    ASSERT_EQ(page.users.size(), 1u);
    ExpectSameUser(page.users[0], want, "ListUsers");
    Reopen();
    ASSERT_OK_AND_ASSIGN(reopened, store_->GetUser(want.id));
    ExpectSameUser(reopened, want, "GetUser after reopening");
  }
};

INSTANTIATE_TEST_SUITE_P(Adapters, UserFieldsTest, AdapterNames(), AdapterName);

TEST_P(UserFieldsTest, EveryFieldReadsBackAfterInsertAndAfterUpdate) {
  UserRecord user;
  FillEveryColumn(user, 1);
  FillIdentifiers(user, 1);
  ASSERT_THAT(Insert(user), IsOk());
  ExpectEveryPathReads(user);

  // Every field changes at once: the update writers are checked too.
  UserRecord changed;
  FillEveryColumn(changed, 2);
  FillIdentifiers(changed, 2);
  ASSERT_TRUE(changed != user);
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.UpdateUser(changed, EventFor(changed.id));
  }),
              IsOk());
  ExpectEveryPathReads(changed);
}

// SQLite keeps a copy of the identifiers on the users row and reads the
// identifier tables when that copy is missing: both must hold every field.
class SqliteUserFieldsTest : public UserFieldsTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteUserFieldsTest,
                         ::testing::Values("sqlite"), AdapterName);

TEST_P(SqliteUserFieldsTest, IdentifierTablesHoldEveryFieldToo) {
  UserRecord user;
  FillEveryColumn(user, 1);
  FillIdentifiers(user, 1);
  ASSERT_THAT(Insert(user), IsOk());
  store_.reset();
  {
    SQLite::Database db(dir_.File("users.db"), SQLite::OPEN_READWRITE);
    db.exec("UPDATE users SET identifiers = NULL");
  }
  Reopen();
  ASSERT_OK_AND_ASSIGN(got, store_->GetUser(user.id));
  ExpectSameUser(got, user, "the identifier tables");
}

}  // namespace
}  // namespace roster::storage

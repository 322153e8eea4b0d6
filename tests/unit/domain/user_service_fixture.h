// The fixture of the domain's user-service tests: every service of
// UserServices over a real SQLite file, a fake clock and seeded ids.
#ifndef ROSTER_TESTS_UNIT_DOMAIN_USER_SERVICE_FIXTURE_H_
#define ROSTER_TESTS_UNIT_DOMAIN_USER_SERVICE_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/domain/user_service.h"
#include "storage/sqlite/sqlite_user_store.h"
#include "tests/testing/fakes.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/text_event_encoder.h"

namespace roster::domain::fixtures {

inline const Caller kCaller{"secret_key:0badcafe", ""};

// Every stored event, oldest first, as "<sequence> <type> <payload>".
inline std::vector<std::string> EventLines(storage::UserStore& store) {
  std::vector<std::string> lines;
  auto batch = store.ReadEvents({});
  EXPECT_THAT(batch, ::roster::testing::IsOk());
  for (const auto& e : batch->events) {
    lines.push_back(absl::StrCat(e.sequence, " ", e.type, " ", e.payload));
  }
  return lines;
}

class UserServiceTest : public ::testing::Test {
 protected:
  UserServiceTest() : ids_(&clock_, &random_) {
    auto store = storage::SqliteUserStore::Open({dir_.File("users.db")});
    EXPECT_THAT(store, ::roster::testing::IsOk());
    store_ = *std::move(store);
    users_ = std::make_unique<UserServices>(store_.get(), &clock_, &ids_,
                                            &encoder_, UserServiceOptions{});
  }

  UserView Create(const CreateUserParams& params) {
    auto user = users_->users.CreateUser(kCaller, params);
    EXPECT_THAT(user, ::roster::testing::IsOk());
    return user.ok() ? *user : UserView{};
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  testing::SeededRandom random_{99};
  testing::TextEventEncoder encoder_;
  IdGenerator ids_;
  std::unique_ptr<storage::SqliteUserStore> store_;
  std::unique_ptr<UserServices> users_;
};

}  // namespace roster::domain::fixtures

#endif  // ROSTER_TESTS_UNIT_DOMAIN_USER_SERVICE_FIXTURE_H_

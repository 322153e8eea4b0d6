#include "server/domain/user_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/metadata.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/domain/user_service_fixture.h"

namespace roster::domain {
namespace {

using ::roster::domain::fixtures::EventLines;
using ::roster::domain::fixtures::kCaller;
using ::roster::domain::fixtures::UserServiceTest;
using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;
using ::testing::ElementsAre;

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const auto& v : FieldViolationsOf(status)) {
    fields.push_back(v.field);
  }
  return fields;
}

// A JSON object whose compact form is exactly `bytes` long: {"k":"xxx…"}.
std::string JsonOfSize(size_t bytes) {
  return R"({"k":")" + std::string(bytes - 8, 'x') + R"("})";
}

TEST_F(UserServiceTest,
       CreateNormalisesIdentifiersAndMakesTheFirstOfEachPrimary) {
  CreateUserParams params;
  params.email_addresses = {" Ada@Example.COM", "ada@work.example"};
  params.phone_numbers = {"+1 415 555 0100"};
  params.username = "Ada_L";
  params.first_name = "Ada";
  UserView user = Create(params);
  const auto& r = user.record;
  EXPECT_TRUE(IsWellFormedId(r.id, kUserIdPrefix));
  ASSERT_EQ(r.email_addresses.size(), 2u);
  EXPECT_EQ(r.email_addresses[0].email_address, "ada@example.com");
  EXPECT_EQ(r.email_addresses[1].email_address, "ada@work.example");
  EXPECT_EQ(r.primary_email_address_id, r.email_addresses[0].id);
  EXPECT_EQ(r.email_addresses[0].verification.status,
            storage::VerificationStatus::kVerified);
  EXPECT_EQ(r.email_addresses[0].verification.strategy, "admin");
  EXPECT_EQ(r.phone_numbers[0].phone_number, "+14155550100");
  EXPECT_EQ(r.primary_phone_number_id, r.phone_numbers[0].id);
  EXPECT_EQ(r.username, "ada_l");
  EXPECT_EQ(user.etag, EtagOf(1));
  EXPECT_EQ(user.verification_attempts_remaining, 10);
  EXPECT_FALSE(user.locked);
  EXPECT_TRUE(r.delete_self_enabled);
  EXPECT_EQ(r.created_at, ToMicros(clock_.Now()));
}

TEST_F(UserServiceTest, CreateReportsEveryInvalidFieldAtOnce) {
  CreateUserParams params;
  params.email_addresses = {"ok@example.com", "broken", "OK@example.com"};
  params.phone_numbers = {"555"};
  params.first_name = std::string(257, 'a');
  params.public_metadata = "[1]";
  params.created_at = clock_.Now() + absl::Seconds(1);
  params.request_id = "not valid!";
  absl::Status status = users_->users.CreateUser(kCaller, params).status();
  ASSERT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ReasonOf(status), reason::kInvalidArgumentFormat);
  EXPECT_THAT(Fields(status),
              ElementsAre("first_name", "email_addresses[1]",
                          "email_addresses[2]", "phone_numbers[0]",
                          "public_metadata", "created_at", "request_id"));
}

TEST_F(UserServiceTest, InvalidUsernameHasItsOwnReason) {
  CreateUserParams params;
  params.username = "12345";
  absl::Status status = users_->users.CreateUser(kCaller, params).status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ReasonOf(status), reason::kUsernameInvalid);
}

TEST_F(UserServiceTest,
       IdentifierOfAnotherUserIsAlreadyExistsCaseInsensitively) {
  CreateUserParams first;
  first.email_addresses = {"ada@example.com"};
  first.username = "ada_l";
  first.external_id = "crm-1";
  Create(first);
  CreateUserParams second;
  second.email_addresses = {"new@example.com", "ADA@EXAMPLE.COM"};
  second.username = "ADA_L";
  second.external_id = "crm-1";
  absl::Status status = users_->users.CreateUser(kCaller, second).status();
  ASSERT_THAT(status, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReasonOf(status), reason::kIdentifierExists);
  EXPECT_THAT(Fields(status),
              ElementsAre("email_addresses[1]", "username", "external_id"));
  // Nothing of the refused user was stored: its free address is still free.
  CreateUserParams third;
  third.email_addresses = {"new@example.com"};
  Create(third);
}

TEST_F(UserServiceTest,
       RetriedRequestIdReturnsTheFirstUserAndAReusedOneIsRefused) {
  CreateUserParams params;
  params.email_addresses = {"ada@example.com"};
  params.request_id = "req-1";
  UserView first = Create(params);
  clock_.Advance(absl::Seconds(5));
  UserView retried = Create(params);
  EXPECT_EQ(retried.record.id, first.record.id);
  EXPECT_EQ(retried.etag, first.etag);
  params.email_addresses = {"other@example.com"};
  absl::Status reused = users_->users.CreateUser(kCaller, params).status();
  EXPECT_THAT(reused, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Fields(reused), ElementsAre("request_id"));
  ASSERT_OK_AND_ASSIGN(count, users_->users.CountUsers({}));
  EXPECT_EQ(count, 1);
}

TEST_F(UserServiceTest, EveryMutationBumpsTheEtagAndAStaleOneIsAborted) {
  UserView user = Create({});
  const std::string& id = user.record.id;
  UpdateUserParams update;
  update.user_id = id;
  update.first_name = "Ada";
  update.etag = user.etag;
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(updated, users_->users.UpdateUser(kCaller, update));
  EXPECT_EQ(updated.etag, EtagOf(2));
  EXPECT_EQ(updated.record.updated_at, ToMicros(clock_.Now()));
  EXPECT_GT(updated.record.updated_at, user.record.updated_at);

  update.first_name = "Augusta";  // Still carries the first etag.
  absl::Status stale = users_->users.UpdateUser(kCaller, update).status();
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(ReasonOf(stale), reason::kEtagMismatch);
  EXPECT_THAT(users_->users.SetBanned(kCaller, id, true, user.etag),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(users_->users.DeleteUser(kCaller, id, user.etag),
              StatusIs(absl::StatusCode::kAborted));

  ASSERT_OK_AND_ASSIGN(
      banned, users_->users.SetBanned(kCaller, id, true, updated.etag));
  EXPECT_EQ(banned.etag, EtagOf(3));
  ASSERT_OK_AND_ASSIGN(locked, users_->users.LockUser(kCaller, id, ""));
  EXPECT_EQ(locked.etag, EtagOf(4));
  MetadataChange change;
  change.public_metadata = R"({"a":1})";
  ASSERT_OK_AND_ASSIGN(merged,
                       users_->users.ChangeMetadata(kCaller, id, change,
                                                    MetadataMode::kMerge, ""));
  EXPECT_EQ(merged.etag, EtagOf(5));
}

TEST_F(UserServiceTest, ChangeThatChangesNothingKeepsTheEtag) {
  UserView user = Create({});
  ASSERT_OK_AND_ASSIGN(
      once, users_->users.SetBanned(kCaller, user.record.id, true, ""));
  ASSERT_OK_AND_ASSIGN(
      twice, users_->users.SetBanned(kCaller, user.record.id, true, ""));
  EXPECT_EQ(twice.etag, once.etag);
  EXPECT_TRUE(twice.record.banned);
  ASSERT_OK_AND_ASSIGN(
      unbanned,
      users_->users.SetBanned(kCaller, user.record.id, false, once.etag));
  EXPECT_FALSE(unbanned.record.banned);
}

TEST_F(UserServiceTest, UsernameCanBeChangedClearedAndNotTakenFromAnother) {
  CreateUserParams other;
  other.username = "taken";
  Create(other);
  CreateUserParams mine;
  mine.username = "mine";
  UserView user = Create(mine);
  UpdateUserParams update;
  update.user_id = user.record.id;
  update.username = "Mine";  // Its own, differently cased: fine.
  EXPECT_THAT(users_->users.UpdateUser(kCaller, update), IsOk());
  update.username = "TAKEN";
  absl::Status clash = users_->users.UpdateUser(kCaller, update).status();
  EXPECT_THAT(clash, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReasonOf(clash), reason::kIdentifierExists);
  update.username = "";
  ASSERT_OK_AND_ASSIGN(cleared, users_->users.UpdateUser(kCaller, update));
  EXPECT_EQ(cleared.record.username, "");
}

TEST_F(UserServiceTest, PrimaryMustBeAVerifiedIdentifierOfTheSameUser) {
  CreateUserParams a;
  a.email_addresses = {"a1@example.com", "a2@example.com"};
  UserView user_a = Create(a);
  CreateUserParams b;
  b.email_addresses = {"b@example.com"};
  UserView user_b = Create(b);

  UpdateUserParams update;
  update.user_id = user_a.record.id;
  update.primary_email_address_id = user_a.record.email_addresses[1].id;
  ASSERT_OK_AND_ASSIGN(switched, users_->users.UpdateUser(kCaller, update));
  EXPECT_EQ(switched.record.primary_email_address_id,
            user_a.record.email_addresses[1].id);

  update.primary_email_address_id = user_b.record.email_addresses[0].id;
  absl::Status foreign = users_->users.UpdateUser(kCaller, update).status();
  EXPECT_THAT(foreign, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReasonOf(foreign), reason::kPrimaryMustBeVerified);
  update.primary_email_address_id = "not-an-id";
  EXPECT_THAT(users_->users.UpdateUser(kCaller, update),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(UserServiceTest, MetadataMergeReplaceAndTheEightKibLimitPerTier) {
  CreateUserParams params;
  params.public_metadata = R"({"plan":"free","flags":{"beta":true}})";
  params.private_metadata =
      JsonOfSize(kMaxMetadataBytes);  // Exactly at the limit.
  UserView user = Create(params);
  const std::string id = user.record.id;

  MetadataChange merge;
  merge.public_metadata = R"({"plan":"pro","flags":{"beta":null,"new":1}})";
  ASSERT_OK_AND_ASSIGN(merged,
                       users_->users.ChangeMetadata(kCaller, id, merge,
                                                    MetadataMode::kMerge, ""));
  EXPECT_EQ(merged.record.public_metadata,
            R"({"flags":{"new":1},"plan":"pro"})");
  EXPECT_EQ(merged.record.private_metadata, user.record.private_metadata);

  // A merge that would grow a tier past the limit is refused and changes
  // nothing.
  MetadataChange grow;
  grow.private_metadata = R"({"more":1})";
  absl::Status too_large =
      users_->users.ChangeMetadata(kCaller, id, grow, MetadataMode::kMerge, "")
          .status();
  EXPECT_THAT(too_large, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ReasonOf(too_large), reason::kMetadataTooLarge);
  EXPECT_THAT(Fields(too_large), ElementsAre("private_metadata"));
  ASSERT_OK_AND_ASSIGN(unchanged, users_->users.GetUser(id));
  EXPECT_EQ(unchanged.etag, merged.etag);

  MetadataChange replace;
  replace.unsafe_metadata = JsonOfSize(kMaxMetadataBytes + 1);
  EXPECT_EQ(ReasonOf(users_->users
                         .ChangeMetadata(kCaller, id, replace,
                                         MetadataMode::kReplace, "")
                         .status()),
            reason::kMetadataTooLarge);
  replace.unsafe_metadata = R"({"theme":"dark"})";
  replace.public_metadata = "{}";
  ASSERT_OK_AND_ASSIGN(
      replaced, users_->users.ChangeMetadata(kCaller, id, replace,
                                             MetadataMode::kReplace, ""));
  EXPECT_EQ(replaced.record.unsafe_metadata, R"({"theme":"dark"})");
  EXPECT_EQ(replaced.record.public_metadata, "{}");

  CreateUserParams over;
  over.unsafe_metadata = JsonOfSize(kMaxMetadataBytes + 1);
  EXPECT_EQ(ReasonOf(users_->users.CreateUser(kCaller, over).status()),
            reason::kMetadataTooLarge);
  EXPECT_THAT(
      users_->users.ChangeMetadata(kCaller, id, {}, MetadataMode::kMerge, ""),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(UserServiceTest, LockLastsTheLockoutDurationAndUnlockEndsIt) {
  UserView user = Create({});
  ASSERT_OK_AND_ASSIGN(locked,
                       users_->users.LockUser(kCaller, user.record.id, ""));
  EXPECT_TRUE(locked.locked);
  EXPECT_EQ(locked.lockout_expires_in_seconds, 3600);
  EXPECT_EQ(locked.verification_attempts_remaining, 0);
  clock_.Advance(absl::Minutes(30) + absl::Milliseconds(1));
  ASSERT_OK_AND_ASSIGN(half, users_->users.GetUser(user.record.id));
  EXPECT_EQ(half.lockout_expires_in_seconds, 1800);  // Rounded up.
  clock_.Advance(absl::Minutes(30));
  ASSERT_OK_AND_ASSIGN(expired, users_->users.GetUser(user.record.id));
  EXPECT_FALSE(expired.locked);
  EXPECT_FALSE(expired.lockout_expires_in_seconds.has_value());

  ASSERT_OK_AND_ASSIGN(relocked,
                       users_->users.LockUser(kCaller, user.record.id, ""));
  EXPECT_TRUE(relocked.locked);
  ASSERT_OK_AND_ASSIGN(unlocked,
                       users_->users.UnlockUser(kCaller, user.record.id, ""));
  EXPECT_FALSE(unlocked.locked);
  EXPECT_EQ(unlocked.verification_attempts_remaining, 10);
}

TEST_F(UserServiceTest, DeleteReturnsTheDeletedObjectThenTheUserIsGone) {
  CreateUserParams params;
  params.external_id = "crm-9";
  params.email_addresses = {"gone@example.com"};
  UserView user = Create(params);
  ASSERT_OK_AND_ASSIGN(
      deleted, users_->users.DeleteUser(kCaller, user.record.id, user.etag));
  EXPECT_EQ(deleted.id, user.record.id);
  EXPECT_EQ(deleted.external_id, "crm-9");
  absl::Status gone = users_->users.GetUser(user.record.id).status();
  EXPECT_THAT(gone, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(ReasonOf(gone), reason::kNotFound);
  EXPECT_THAT(users_->users.DeleteUser(kCaller, user.record.id, ""),
              StatusIs(absl::StatusCode::kNotFound));
  Create(params);  // Its identifiers are free again.
}

TEST_F(UserServiceTest, MalformedUserIdIsInvalidArgumentAndUnknownIsNotFound) {
  EXPECT_THAT(users_->users.GetUser(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(users_->users.GetUser("user_x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      users_->users.SetBanned(kCaller, "idn_" + std::string(27, 'a'), true, ""),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(users_->users.GetUser("user_" + std::string(27, 'a')),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(UserServiceTest, BackdatedCreatedAtIsKept) {
  CreateUserParams params;
  params.created_at = absl::FromUnixSeconds(1'000'000'000);
  UserView user = Create(params);
  EXPECT_EQ(user.record.created_at, int64_t{1'000'000'000} * 1'000'000);
  EXPECT_EQ(user.record.updated_at, ToMicros(clock_.Now()));
}

TEST_F(UserServiceTest, EachMutationAppendsExactlyOneEventWithTheNewState) {
  const Caller caller{"secret_key:12345678", "req-7"};
  ASSERT_OK_AND_ASSIGN(user, users_->users.CreateUser(caller, {}));
  const std::string id = user.record.id;
  UpdateUserParams update;
  update.user_id = id;
  update.first_name = "Ada";
  ASSERT_THAT(users_->users.UpdateUser(caller, update), IsOk());
  MetadataChange change;
  change.public_metadata = R"({"a":1})";
  ASSERT_THAT(users_->users.ChangeMetadata(caller, id, change,
                                           MetadataMode::kMerge, ""),
              IsOk());
  change.public_metadata = R"({"b":2})";
  ASSERT_THAT(users_->users.ChangeMetadata(caller, id, change,
                                           MetadataMode::kReplace, ""),
              IsOk());
  ASSERT_THAT(users_->users.SetBanned(caller, id, true, ""), IsOk());
  ASSERT_THAT(users_->users.SetBanned(caller, id, false, ""), IsOk());
  ASSERT_THAT(users_->users.LockUser(caller, id, ""), IsOk());
  ASSERT_THAT(users_->users.UnlockUser(caller, id, ""), IsOk());
  ASSERT_THAT(users_->users.DeleteUser(caller, id, ""), IsOk());
  const std::string u = "user " + id + " etag ";
  EXPECT_THAT(
      EventLines(*store_),
      ElementsAre(
          "1 user.created " + u + EtagOf(1), "2 user.updated " + u + EtagOf(2),
          "3 user.updated " + u + EtagOf(3), "4 user.updated " + u + EtagOf(4),
          "5 user.updated " + u + EtagOf(5), "6 user.updated " + u + EtagOf(6),
          "7 user.updated " + u + EtagOf(7), "8 user.updated " + u + EtagOf(8),
          "9 user.deleted deleted " + id));
  ASSERT_OK_AND_ASSIGN(batch, store_->ReadEvents({}));
  for (const auto& e : batch.events) {
    EXPECT_EQ(e.user_id, id);
    EXPECT_EQ(e.actor, "secret_key:12345678");
    EXPECT_EQ(e.request_id, "req-7");
    EXPECT_TRUE(IsWellFormedId(e.id, kEventIdPrefix));
    EXPECT_EQ(e.created_at, ToMicros(clock_.Now()));
  }
}

TEST_F(UserServiceTest, FailedRetriedAndNoOpMutationsAppendNoEvent) {
  CreateUserParams params;
  params.email_addresses = {"a@example.com"};
  params.request_id = "once";
  UserView user = Create(params);
  Create(params);  // Idempotent retry.
  EXPECT_THAT(users_->users.CreateUser(kCaller, params), IsOk());
  CreateUserParams clash;
  clash.email_addresses = {"A@example.com"};
  EXPECT_THAT(users_->users.CreateUser(kCaller, clash),
              StatusIs(absl::StatusCode::kAlreadyExists));
  CreateUserParams invalid;
  invalid.username = "no";
  EXPECT_THAT(users_->users.CreateUser(kCaller, invalid),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(users_->users.SetBanned(kCaller, user.record.id, true, "\"99\""),
              StatusIs(absl::StatusCode::kAborted));
  MetadataChange huge;
  huge.public_metadata = JsonOfSize(kMaxMetadataBytes + 1);
  EXPECT_THAT(users_->users.ChangeMetadata(kCaller, user.record.id, huge,
                                           MetadataMode::kReplace, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(users_->users.UnlockUser(kCaller, user.record.id, ""),
              IsOk());  // Not locked: no-op.
  EXPECT_THAT(
      users_->users.DeleteUser(kCaller, "user_" + std::string(27, 'z'), ""),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(EventLines(*store_).size(), 1u);
}

}  // namespace
}  // namespace roster::domain

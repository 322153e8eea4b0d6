// The sign_ups, sign_in_tickets, oauth_states, oauth_tokens and
// sign_in_failures tables on both adapters. Sign-ups: every
// field reads back as written, a second write replaces the row, and pruning
// takes only rows that expired before the cutoff, oldest first, a bounded batch
// at a time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/sign_up_row.h"
#include "tests/testing/status_matchers.h"
#include "tests/unit/storage/user_store_fixture.h"

namespace roster::storage {
namespace {

using ::roster::testing::IsOk;

class SignUpStoreTest : public UserStoreTest {
 protected:
  absl::StatusOr<SignUpRecord> Get(const std::string& id) {
    absl::StatusOr<SignUpRecord> got = absl::UnknownError("not run");
    absl::Status written = store_->Write([&](WriteTransaction& txn) {
      got = txn.GetSignUp(id);
      return absl::OkStatus();
    });
    if (!written.ok()) {
      return written;
    }
    return got;
  }
  absl::Status Put(const SignUpRecord& sign_up) {
    return store_->Write(
        [&](WriteTransaction& txn) { return txn.PutSignUp(sign_up); });
  }
  int64_t Prune(Micros cutoff, int64_t max_rows) {
    int64_t pruned = -1;
    EXPECT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
      auto n = txn.PruneSignUps(cutoff, max_rows);
      if (!n.ok()) return n.status();
      pruned = *n;
      return absl::OkStatus();
    }),
                IsOk());
    return pruned;
  }
};

INSTANTIATE_TEST_SUITE_P(Adapters, SignUpStoreTest, AdapterNames(),
                         AdapterName);

// Every column a distinct value, so a swapped pair of columns shows.
SignUpRecord Filled(const std::string& id, int round) {
  SignUpRecord r;
  r.id = id;
  r.status = round % 2 == 0 ? SignUpStatus::kComplete
                            : SignUpStatus::kMissingRequirements;
  r.email_address = absl::StrCat("e", round, "@example.com");
  r.email_verification = {VerificationStatus::kVerified, "email_code", round,
                          1000 + round, absl::StrCat("digest-e", round)};
  r.phone_number = absl::StrCat("+1555000", 1000 + round);
  r.phone_verification = {VerificationStatus::kFailed, "phone_code", round + 1,
                          2000 + round, absl::StrCat("digest-p", round)};
  r.username = absl::StrCat("user", round);
  r.first_name = absl::StrCat("First", round);
  r.last_name = absl::StrCat("Last", round);
  r.password_hash = absl::StrCat("$argon2id$hash", round);
  r.unsafe_metadata = absl::StrCat("{\"n\":", round, "}");
  r.public_metadata = absl::StrCat("{\"p\":", round, "}");
  r.invitation_id = absl::StrCat("inv_", round);
  r.external_account = absl::StrCat("{\"account\":", round, "}");
  r.legal_accepted_at = 3000 + round;
  r.created_user_id = absl::StrCat("user_", round);
  r.created_session_id = absl::StrCat("sess_", round);
  r.expire_at = 4000 + round;
  r.created_at = 5000 + round;
  r.updated_at = 6000 + round;
  return r;
}

void ExpectSame(const SignUpRecord& got, const SignUpRecord& want) {
  EXPECT_EQ(SignUpValues(got), SignUpValues(want));
}

TEST_P(SignUpStoreTest, EveryFieldReadsBackAndASecondWriteReplacesTheRow) {
  EXPECT_TRUE(absl::IsNotFound(Get("su_missing").status()));
  const SignUpRecord first = Filled("su_1", 1);
  ASSERT_THAT(Put(first), IsOk());
  ASSERT_OK_AND_ASSIGN(got, Get("su_1"));
  ExpectSame(got, first);
  SignUpRecord second = Filled("su_1", 2);
  ASSERT_THAT(Put(second), IsOk());
  ASSERT_OK_AND_ASSIGN(replaced, Get("su_1"));
  ExpectSame(replaced, second);
  Reopen();
  ASSERT_OK_AND_ASSIGN(reopened, Get("su_1"));
  ExpectSame(reopened, second);
}

TEST_P(SignUpStoreTest, PruningTakesOnlyExpiredRowsABatchAtATime) {
  for (int i = 0; i < 5; ++i) {
    SignUpRecord r = Filled(absl::StrCat("su_", i), i);
    r.expire_at = 100 + i;
    ASSERT_THAT(Put(r), IsOk());
  }
  EXPECT_EQ(Prune(/*cutoff=*/103, /*max_rows=*/2), 2);  // 100 and 101.
  EXPECT_TRUE(absl::IsNotFound(Get("su_0").status()));
  EXPECT_TRUE(absl::IsNotFound(Get("su_1").status()));
  EXPECT_EQ(Prune(103, 10), 1);  // 102; 103 is not before the cutoff.
  EXPECT_TRUE(Get("su_3").ok());
  EXPECT_TRUE(Get("su_4").ok());
  EXPECT_EQ(Prune(103, 10), 0);
}

// Sign-in tickets: taken once, whole, and pruned by expiry.
class SignInTicketStoreTest : public UserStoreTest {
 protected:
  absl::StatusOr<std::optional<SignInTicketRecord>> Take(
      const std::string& digest) {
    absl::StatusOr<std::optional<SignInTicketRecord>> taken =
        absl::UnknownError("not run");
    absl::Status written = store_->Write([&](WriteTransaction& txn) {
      taken = txn.TakeSignInTicket(digest);
      return taken.status();
    });
    if (!written.ok()) {
      return written;
    }
    return taken;
  }
};

INSTANTIATE_TEST_SUITE_P(Adapters, SignInTicketStoreTest, AdapterNames(),
                         AdapterName);

TEST_P(SignInTicketStoreTest, ATicketIsTakenOnceAndPrunedByExpiry) {
  for (int i = 0; i < 3; ++i) {
    SignInTicketRecord ticket{absl::StrCat("digest", i),
                              absl::StrCat("user_", i), 1000 + i, 10 + i};
    ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
      return txn.PutSignInTicket(ticket);
    }),
                IsOk());
  }
  auto taken = Take("digest1");
  ASSERT_THAT(taken.status(), IsOk());
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->user_id, "user_1");
  EXPECT_EQ((*taken)->expire_at, 1001);
  EXPECT_EQ((*taken)->created_at, 11);
  taken = Take("digest1");
  ASSERT_THAT(taken.status(), IsOk());
  EXPECT_FALSE(taken->has_value());
  int64_t pruned = -1;
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
    auto n = txn.PruneSignInTickets(/*cutoff=*/1001, /*max_rows=*/10);
    if (!n.ok()) return n.status();
    pruned = *n;
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_EQ(pruned, 1);  // digest0; digest2 expires later.
  EXPECT_FALSE(Take("digest0")->has_value());
  EXPECT_TRUE(Take("digest2")->has_value());
}

// Social sign-in states: every field back, taken once, pruned by expiry.
class OAuthStateStoreTest : public UserStoreTest {
 protected:
  absl::StatusOr<std::optional<OAuthStateRecord>> Take(
      const std::string& digest) {
    absl::StatusOr<std::optional<OAuthStateRecord>> taken =
        absl::UnknownError("not run");
    absl::Status written = store_->Write([&](WriteTransaction& txn) {
      taken = txn.TakeOAuthState(digest);
      return taken.status();
    });
    if (!written.ok()) {
      return written;
    }
    return taken;
  }
};

INSTANTIATE_TEST_SUITE_P(Adapters, OAuthStateStoreTest, AdapterNames(),
                         AdapterName);

TEST_P(OAuthStateStoreTest, AStateIsTakenOnceWholeAndPrunedByExpiry) {
  for (int i = 0; i < 3; ++i) {
    const OAuthStateRecord state{absl::StrCat("digest", i),
                                 "oauth_custom_corp",
                                 i == 1 ? "connect" : "sign_in",
                                 i == 1 ? "user_1" : "",
                                 absl::StrCat("https://app.test/cb?n=", i),
                                 absl::StrCat("verifier", i),
                                 absl::StrCat("nonce", i),
                                 2000 + i,
                                 20 + i,
                                 /*legal_accepted=*/i == 2};
    ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
      return txn.PutOAuthState(state);
    }),
                IsOk());
  }
  auto taken = Take("digest1");
  ASSERT_THAT(taken.status(), IsOk());
  ASSERT_TRUE(taken->has_value());
  const OAuthStateRecord& state = **taken;
  EXPECT_EQ(state.digest, "digest1");
  EXPECT_EQ(state.provider, "oauth_custom_corp");
  EXPECT_EQ(state.action, "connect");
  EXPECT_EQ(state.user_id, "user_1");
  EXPECT_EQ(state.redirect_url, "https://app.test/cb?n=1");
  EXPECT_EQ(state.code_verifier, "verifier1");
  EXPECT_EQ(state.nonce, "nonce1");
  EXPECT_EQ(state.expire_at, 2001);
  EXPECT_EQ(state.created_at, 21);
  EXPECT_FALSE(state.legal_accepted);
  taken = Take("digest1");
  ASSERT_THAT(taken.status(), IsOk());
  EXPECT_FALSE(taken->has_value());
  int64_t pruned = -1;
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
    auto n = txn.PruneOAuthStates(/*cutoff=*/2001, /*max_rows=*/10);
    if (!n.ok()) return n.status();
    pruned = *n;
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_EQ(pruned, 1);  // digest0; digest2 expires later.
  EXPECT_FALSE(Take("digest0")->has_value());
  taken = Take("digest2");
  ASSERT_THAT(taken.status(), IsOk());
  ASSERT_TRUE(taken->has_value());
  EXPECT_TRUE((*taken)->legal_accepted);
}

TEST_P(OAuthStateStoreTest, AnExternalAccountLeadsToItsUser) {
  UserRecord ada = MakeUser("u1", 1);
  ExternalAccountRecord account;
  account.id = "eac1";
  account.user_id = "u1";
  account.provider = "oauth_custom_corp";
  account.provider_user_id = "248289761001";
  ada.external_accounts = {account};
  ASSERT_THAT(Insert(ada), IsOk());
  auto find = [&](const std::string& provider, const std::string& subject) {
    absl::StatusOr<std::optional<std::string>> found =
        absl::UnknownError("not run");
    EXPECT_THAT(store_->Write([&](WriteTransaction& txn) {
      found = txn.FindUserIdByExternalAccount(provider, subject);
      return found.status();
    }),
                IsOk());
    return found.ok() ? *found : std::nullopt;
  };
  EXPECT_EQ(find("oauth_custom_corp", "248289761001"), "u1");
  // The pair is the key: the same subject at another provider is another
  // account, and ids compare exactly.
  EXPECT_EQ(find("oauth_google", "248289761001"), std::nullopt);
  EXPECT_EQ(find("oauth_custom_corp", "24828976100"), std::nullopt);
}

TEST_P(OAuthStateStoreTest, TokensAreReplacedReadDeletedAndGoWithTheirUser) {
  ASSERT_THAT(Insert(MakeUser("u1", 1)), IsOk());
  ASSERT_THAT(Insert(MakeUser("u2", 2)), IsOk());
  auto put = [&](const OAuthTokenRecord& token) {
    return store_->Write(
        [&](WriteTransaction& txn) { return txn.PutOAuthToken(token); });
  };
  auto get = [&](const std::string& id) {
    absl::StatusOr<std::optional<OAuthTokenRecord>> token =
        absl::UnknownError("not run");
    EXPECT_THAT(store_->Write([&](WriteTransaction& txn) {
      token = txn.GetOAuthToken(id);
      return token.status();
    }),
                IsOk());
    return token.ok() ? *token : std::nullopt;
  };
  ASSERT_THAT(put({"eac1", "u1", "k1.sealed-one", "k1", 100, "openid", 10}),
              IsOk());
  ASSERT_THAT(
      put({"eac1", "u1", "k2.sealed-two", "k2", 200, "openid email", 20, 25}),
      IsOk());  // A refresh replaces the row (here, leased till 25).
  ASSERT_THAT(put({"eac2", "u2", "k1.other", "k1", 0, "", 30}), IsOk());
  const std::optional<OAuthTokenRecord> token = get("eac1");
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->user_id, "u1");
  EXPECT_EQ(token->sealed, "k2.sealed-two");
  EXPECT_EQ(token->key_id, "k2");
  EXPECT_EQ(token->expire_at, 200);
  EXPECT_EQ(token->scopes, "openid email");
  EXPECT_EQ(token->updated_at, 20);
  EXPECT_EQ(token->refresh_lease_until, 25);
  EXPECT_EQ(get("eac2")->refresh_lease_until, 0);
  // Every key that sealed something is one a restart must still have.
  ASSERT_OK_AND_ASSIGN(key_ids, store_->ListDataKeyIds());
  std::sort(key_ids.begin(), key_ids.end());
  EXPECT_EQ(key_ids, (std::vector<std::string>{"k1", "k2"}));

  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.DeleteOAuthToken("eac1");
  }),
              IsOk());
  EXPECT_FALSE(get("eac1").has_value());
  ASSERT_THAT(store_->Write([&](WriteTransaction& txn) {
    return txn.DeleteUser("u2", EventFor("u2"));
  }),
              IsOk());
  EXPECT_FALSE(get("eac2").has_value());  // Gone with its user.
}

// The failures counted at identifiers that name no user: a key never counted
// reads as zeros, a put replaces its row, and each put forgets the other keys
// whose last failure came before the cutoff.
TEST_P(UserStoreTest, SignInFailuresReadBackAndAreForgottenWhenQuiet) {
  auto get = [&](const std::string& key) {
    SignInFailuresRecord got;
    EXPECT_THAT(store_->Write([&](WriteTransaction& txn) -> absl::Status {
      auto read = txn.GetSignInFailures(key);
      if (read.ok()) {
        got = *std::move(read);
      }
      return read.status();
    }),
                IsOk());
    return got;
  };
  auto put = [&](const SignInFailuresRecord& record, Micros forget_before) {
    return store_->Write([&](WriteTransaction& txn) {
      return txn.PutSignInFailures(record, forget_before);
    });
  };
  const SignInFailuresRecord none = get("k-none");
  EXPECT_EQ(none.key, "k-none");
  EXPECT_EQ(none.failures, 0);
  EXPECT_EQ(none.locked_until, 0);
  EXPECT_EQ(none.last_failed_at, 0);
  EXPECT_EQ(CountRows("sign_in_failures"), 0);  // Reading writes nothing.

  ASSERT_THAT(put({"k-old", 2, 0, 100}, 0), IsOk());
  ASSERT_THAT(put({"k-new", 1, 0, 300}, 0), IsOk());
  ASSERT_THAT(put({"k-new", 3, 900, 400}, 0), IsOk());  // Replaces.
  const SignInFailuresRecord replaced = get("k-new");
  EXPECT_EQ(replaced.failures, 3);
  EXPECT_EQ(replaced.locked_until, 900);
  EXPECT_EQ(replaced.last_failed_at, 400);
  EXPECT_EQ(get("k-old").failures, 2);

  // A cutoff at 200 forgets k-old (100) but not k-new (400), nor the key
  // being put, however old its own last failure.
  ASSERT_THAT(put({"k-put", 1, 0, 50}, 200), IsOk());
  EXPECT_EQ(get("k-old").failures, 0);
  EXPECT_EQ(get("k-new").failures, 3);
  EXPECT_EQ(get("k-put").failures, 1);
  EXPECT_EQ(CountRows("sign_in_failures"), 2);
}

}  // namespace
}  // namespace roster::storage

// What a social sign-up keeps of the provider's account until it completes.
#include "server/domain/social_sign_up.h"

#include <gtest/gtest.h>

#include "storage/records.h"

namespace roster::domain {
namespace {

PendingProviderAccount SomeAccount() {
  PendingProviderAccount pending;
  storage::ExternalAccountRecord& a = pending.account;
  a.id = "eac_1";
  a.provider = "oauth_google";
  a.provider_user_id = "1234";
  a.email_address = "ada@example.com";
  a.first_name = "Ada \"the first\"";
  a.last_name = "Lovelace";
  a.username = "ada";
  a.image_url = "https://images.example/ada.png";
  a.approved_scopes = {"openid", "email"};
  a.verification.status = storage::VerificationStatus::kVerified;
  a.verification.strategy = "from_oauth_google";
  a.created_at = a.updated_at = 1700000000000000;
  storage::OAuthTokenRecord tokens;
  tokens.external_account_id = a.id;
  tokens.sealed = "0123abcd.c2VhbGVk";
  tokens.key_id = "0123abcd";
  tokens.expire_at = 1700000060000000;
  tokens.scopes = "openid email";
  tokens.updated_at = 1700000000000001;
  pending.tokens = tokens;
  return pending;
}

TEST(SocialSignUpTest, TheAccountAndItsSealedTokensReadBackAsWritten) {
  const PendingProviderAccount written = SomeAccount();
  auto read = DecodePendingAccount(EncodePendingAccount(written));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->account == written.account);
  ASSERT_TRUE(read->tokens.has_value());
  EXPECT_EQ(read->tokens->external_account_id, "eac_1");
  EXPECT_EQ(read->tokens->sealed, written.tokens->sealed);
  EXPECT_EQ(read->tokens->key_id, written.tokens->key_id);
  EXPECT_EQ(read->tokens->expire_at, written.tokens->expire_at);
  EXPECT_EQ(read->tokens->scopes, written.tokens->scopes);
  EXPECT_EQ(read->tokens->updated_at, written.tokens->updated_at);
  EXPECT_TRUE(read->tokens->user_id.empty());  // Set when the user exists.
}

TEST(SocialSignUpTest, WithoutTokensThereAreNone) {
  PendingProviderAccount written = SomeAccount();
  written.tokens.reset();
  auto read = DecodePendingAccount(EncodePendingAccount(written));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(read->tokens.has_value());
}

TEST(SocialSignUpTest, AnythingElseIsInternalNotACrash) {
  for (const char* text : {"", "{}", "[]", "not json", R"({"id": 5})",
                           R"({"id":"eac_1","provider":"p"})"}) {
    auto read = DecodePendingAccount(text);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInternal) << text;
  }
}

}  // namespace
}  // namespace roster::domain

#include "server/domain/token_cache.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/testing/fakes.h"

namespace roster::domain {
namespace {

const absl::Time kIssued = absl::FromUnixSeconds(1'800'000'000);

TokenClaims ClaimsFor(const std::string& user_id) {
  return {"roster", user_id, "sess_def",
          kIssued,  kIssued, kIssued + absl::Minutes(5),
          ""};
}

TEST(TokenCacheTest, AKnownTokenIsFoundOnlyWithinItsLifetime) {
  testing::SeededRandom random(5);
  const SigningKey key = SigningKey::Generate(random);
  const std::string token = key.Sign(ClaimsFor("user_abc"));
  TokenCache cache;
  EXPECT_FALSE(cache.Find(token, kIssued).has_value());
  cache.Add(token, ClaimsFor("user_abc"), kIssued);
  const std::optional<TokenClaims> found = cache.Find(token, kIssued);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->user_id, "user_abc");
  // The same leeway as TokenVerifier::Verify, and not a second more.
  EXPECT_TRUE(cache
                  .Find(token, kIssued + absl::Minutes(5) + kTokenLeeway -
                                   absl::Seconds(1))
                  .has_value());
  EXPECT_FALSE(
      cache.Find(token, kIssued + absl::Minutes(5) + kTokenLeeway).has_value());
  EXPECT_FALSE(
      cache.Find(token, kIssued - kTokenLeeway - absl::Seconds(1)).has_value());
}

TEST(TokenCacheTest, OnlyTheExactTokenIsFound) {
  testing::SeededRandom random(6);
  const SigningKey key = SigningKey::Generate(random);
  const std::string token = key.Sign(ClaimsFor("user_abc"));
  TokenCache cache;
  cache.Add(token, ClaimsFor("user_abc"), kIssued);
  std::string tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(cache.Find(tampered, kIssued).has_value());
  EXPECT_FALSE(
      cache.Find(token.substr(0, token.size() - 1), kIssued).has_value());
  EXPECT_FALSE(cache.Find(token + "A", kIssued).has_value());
  EXPECT_FALSE(cache.Find("", kIssued).has_value());
}

TEST(TokenCacheTest, HoldsAtMostMaxEntriesAndDropsTheExpiredFirst) {
  TokenCache cache(/*max_entries=*/100);
  for (int i = 0; i < 100; ++i) {
    cache.Add(absl::StrCat("early-", i), ClaimsFor("early"), kIssued);
  }
  EXPECT_EQ(cache.size(), 100u);
  // Past the early tokens' lifetime, a new one makes room by dropping them.
  const absl::Time later = kIssued + absl::Hours(1);
  TokenClaims fresh = ClaimsFor("late");
  fresh.expires_at = later + absl::Minutes(5);
  cache.Add("late", fresh, later);
  EXPECT_EQ(cache.size(), 1u);
  for (int i = 0; i < 1000; ++i) {
    cache.Add(absl::StrCat("many-", i), fresh, later);
  }
  EXPECT_LE(cache.size(), 100u);
  EXPECT_TRUE(cache.Find("many-999", later).has_value());
}

}  // namespace
}  // namespace roster::domain

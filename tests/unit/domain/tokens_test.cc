#include "server/domain/tokens.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing/fakes.h"
#include "tests/testing/status_matchers.h"

namespace roster::domain {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;

// RFC 8037 Appendix A.1-A.3: an Ed25519 key, its public `x` and its RFC 7638
// thumbprint.
constexpr char kRfc8037Seed[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr char kRfc8037X[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr char kRfc8037Kid[] = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

TokenClaims Claims() {
  return {"roster", "user_abc", "sess_def", kNow, kNow, kNow + absl::Minutes(5),
          ""};
}

std::string Segment(const std::string& json) {
  return absl::WebSafeBase64Escape(json);
}

TEST(TokensTest, KeysMatchTheRfc8037Vectors) {
  ASSERT_OK_AND_ASSIGN(key, SigningKey::Parse(kRfc8037Seed));
  EXPECT_EQ(key.verification_key().x(), kRfc8037X);
  EXPECT_EQ(key.verification_key().kid, kRfc8037Kid);
  ASSERT_OK_AND_ASSIGN(from_pem, SigningKey::Parse(key.ToPem()));
  EXPECT_EQ(from_pem.verification_key().kid, kRfc8037Kid);
  EXPECT_THAT(SigningKey::Parse("not a key"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      SigningKey::Parse(
          "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TokensTest, SignedTokensVerifyWithTheirClaims) {
  testing::SeededRandom random(3);
  SigningKey key = SigningKey::Generate(random);
  TokenVerifier verifier("roster", {key.verification_key()});
  const std::string token = key.Sign(Claims());
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string header;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
  EXPECT_EQ(header,
            absl::StrCat(R"({"alg":"EdDSA","kid":")",
                         key.verification_key().kid, R"(","typ":"JWT"})"));
  ASSERT_OK_AND_ASSIGN(claims, verifier.Verify(token, kNow + absl::Minutes(4)));
  EXPECT_EQ(claims.user_id, "user_abc");
  EXPECT_EQ(claims.session_id, "sess_def");
  EXPECT_EQ(claims.expires_at, kNow + absl::Minutes(5));
}

// `token` with its signature spelled non-canonically: 64 bytes take 86
// base64url characters whose last carries 2 data bits and 4 unused ones, so
// the canonical last character's index is a multiple of 16 and the next
// character decodes to the same bytes.
std::string NonCanonical(std::string token) {
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  token.back() = alphabet[alphabet.find(token.back()) + 1];
  return token;
}

TEST(TokensTest, RejectsEverythingButAValidEdDsaTokenInItsTimeWindow) {
  testing::SeededRandom random(4);
  SigningKey key = SigningKey::Generate(random);
  SigningKey other = SigningKey::Generate(random);
  TokenVerifier verifier("roster", {key.verification_key()});
  const std::string good = key.Sign(Claims());
  const std::vector<std::string> parts = absl::StrSplit(good, '.');
  const std::string kid = key.verification_key().kid;
  TokenClaims wrong_issuer = Claims();
  wrong_issuer.issuer = "someone-else";
  const std::string rejected[] = {
      "",
      "a.b",
      "a.b.c.d",
      other.Sign(Claims()),  // Unknown kid.
      key.Sign(wrong_issuer),
      // alg none, unsigned.
      Segment(absl::StrCat(R"({"alg":"none","kid":")", kid, R"("})")) + "." +
          parts[1] + ".",
      // alg HS256 with the original signature.
      Segment(absl::StrCat(R"({"alg":"HS256","kid":")", kid, R"("})")) + "." +
          parts[1] + "." + parts[2],
      // A payload swapped for another user under the original signature.
      parts[0] + "." +
          Segment(
              R"({"iss":"roster","sub":"user_evil","sid":"sess_def","iat":1800000000,)"
              R"("nbf":1800000000,"exp":1800000300})") +
          "." + parts[2],
      good + "=",  // Padding is not base64url-without-padding.
      // The same signature bytes spelled with the unused low bits of the
      // last character set: one token must have one spelling.
      NonCanonical(good),
      std::string(kMaxTokenBytes + 1, 'a'),
  };
  for (const auto& token : rejected) {
    EXPECT_THAT(verifier.Verify(token, kNow),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << token;
  }
  // Expired and not yet valid, beyond the leeway.
  EXPECT_THAT(verifier.Verify(good, kNow + absl::Minutes(5) + kTokenLeeway),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(verifier.Verify(good, kNow - kTokenLeeway - absl::Seconds(1)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(verifier.Verify(good, kNow), IsOk());
}

// A replica whose clock runs up to 30 s apart from the signer's still accepts
// a fresh token, and one that just expired (DESIGN §14).
TEST(TokensTest, ClocksThirtySecondsApartAgree) {
  testing::SeededRandom random(5);
  SigningKey key = SigningKey::Generate(random);
  TokenVerifier verifier("roster", {key.verification_key()});
  const std::string token = key.Sign(Claims());
  EXPECT_EQ(kTokenLeeway, absl::Seconds(30));
  EXPECT_THAT(verifier.Verify(token, kNow - absl::Seconds(30)), IsOk());
  EXPECT_THAT(verifier.Verify(token, kNow - absl::Seconds(31)),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(
      verifier.Verify(token, kNow + absl::Minutes(5) + absl::Seconds(29)),
      IsOk());
  EXPECT_THAT(
      verifier.Verify(token, kNow + absl::Minutes(5) + absl::Seconds(30)),
      StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(TokensTest, AnAudienceMustMatchWhenOneIsSet) {
  testing::SeededRandom random(6);
  SigningKey key = SigningKey::Generate(random);
  TokenVerifier plain("roster", {key.verification_key()});
  TokenVerifier for_shop("roster", {key.verification_key()}, "shop");
  TokenClaims shop = Claims();
  shop.audience = "shop";
  TokenClaims blog = Claims();
  blog.audience = "blog";
  ASSERT_OK_AND_ASSIGN(claims, for_shop.Verify(key.Sign(shop), kNow));
  EXPECT_EQ(claims.audience, "shop");
  EXPECT_THAT(for_shop.Verify(key.Sign(blog), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(for_shop.Verify(key.Sign(Claims()), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(plain.Verify(key.Sign(shop), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(plain.Verify(key.Sign(Claims()), kNow), IsOk());
}

TEST(TokensTest, SeveralKeysVerifySoKeysCanRotate) {
  testing::SeededRandom random(5);
  SigningKey old_key = SigningKey::Generate(random);
  SigningKey new_key = SigningKey::Generate(random);
  TokenVerifier verifier(
      "roster", {new_key.verification_key(), old_key.verification_key()});
  EXPECT_THAT(verifier.Verify(old_key.Sign(Claims()), kNow), IsOk());
  EXPECT_THAT(verifier.Verify(new_key.Sign(Claims()), kNow), IsOk());
}

}  // namespace
}  // namespace roster::domain

// ID tokens and JWK Sets as providers send them: keys made and tokens signed
// here with OpenSSL (RS256, ES256, EdDSA), RFC 8037's own Ed25519 example, and
// each way a token must be refused.
#include "server/oauth/id_token.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/oauth/jwks.h"
#include "tests/testing/provider_key.h"

namespace roster::oauth {
namespace {

using Json = nlohmann::json;
using ::roster::testing::B64Url;
using ::roster::testing::ProviderKey;

Jwks SetOf(const std::vector<Json>& keys) {
  absl::StatusOr<Jwks> jwks = Jwks::Parse(Json{{"keys", keys}}.dump());
  EXPECT_TRUE(jwks.ok()) << jwks.status();
  return jwks.ok() ? *std::move(jwks) : Jwks();
}

constexpr int64_t kNow = 1'800'000'000;

IdTokenExpectations Expected() {
  return {"https://id.example.com", "roster-client", "nonce-123",
          absl::FromUnixSeconds(kNow)};
}

Json Claims() {
  return {{"iss", "https://id.example.com"},
          {"aud", "roster-client"},
          {"sub", "248289761001"},
          {"nonce", "nonce-123"},
          {"iat", kNow - 5},
          {"exp", kNow + 600},
          {"email", "ada@example.com"},
          {"email_verified", true},
          {"given_name", "Ada"},
          {"family_name", "Lovelace"},
          {"picture", "https://id.example.com/ada.png"}};
}

class IdTokenTest : public ::testing::TestWithParam<const char*> {
 protected:
  IdTokenTest() : key_(GetParam()), keys_(SetOf({key_.Jwk("k1")})) {}

  absl::StatusOr<IdTokenClaims> Verify(const Json& claims) const {
    return VerifyIdToken(key_.Sign(Header(), claims), keys_, Expected());
  }
  Json Header() const { return {{"alg", key_.alg()}, {"kid", "k1"}}; }

  ProviderKey key_;
  Jwks keys_;
};

INSTANTIATE_TEST_SUITE_P(Algorithms, IdTokenTest,
                         ::testing::Values("RS256", "ES256", "EdDSA"));

TEST_P(IdTokenTest, AValidTokenGivesItsClaims) {
  absl::StatusOr<IdTokenClaims> claims = Verify(Claims());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "248289761001");
  EXPECT_EQ(claims->email, "ada@example.com");
  EXPECT_TRUE(claims->email_verified);
  EXPECT_EQ(claims->given_name, "Ada");
  EXPECT_EQ(claims->family_name, "Lovelace");
  EXPECT_EQ(claims->picture, "https://id.example.com/ada.png");
  EXPECT_EQ(claims->expires_at, absl::FromUnixSeconds(kNow + 600));
}

TEST_P(IdTokenTest, ATokenSignedByAnotherKeyIsRefused) {
  const ProviderKey other(GetParam());
  const std::string forged = other.Sign(Header(), Claims());
  EXPECT_EQ(VerifyIdToken(forged, keys_, Expected()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_P(IdTokenTest, AnAlteredPayloadIsRefused) {
  const std::string token = key_.Sign(Header(), Claims());
  Json altered = Claims();
  altered["sub"] = "someone-else";
  const std::string tampered =
      absl::StrCat(token.substr(0, token.find('.')), ".",
                   B64Url(altered.dump()), token.substr(token.rfind('.')));
  EXPECT_EQ(VerifyIdToken(tampered, keys_, Expected()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_P(IdTokenTest, AnUnknownKidIsNotFoundSoTheSetCanBeRefetched) {
  const std::string token =
      key_.Sign({{"alg", key_.alg()}, {"kid", "rotated"}}, Claims());
  EXPECT_EQ(VerifyIdToken(token, keys_, Expected()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(IdTokenTest, EachClaimCheckRefuses) {
  const std::vector<std::pair<std::string, Json>> cases = {
      {"iss", "https://evil.example.com"},
      {"aud", "another-client"},
      {"aud", Json::array({"another-client"})},
      {"nonce", "nonce-of-another-sign-in"},
      {"exp", kNow - 61},  // Past the 60 s leeway.
      {"nbf", kNow + 61},
      {"iat", kNow + 61},
      {"sub", ""},
      {"sub", std::string(256, 's')},
      {"exp", "tomorrow"},
  };
  for (const auto& [name, value] : cases) {
    Json claims = Claims();
    claims[name] = value;
    EXPECT_EQ(Verify(claims).status().code(),
              absl::StatusCode::kUnauthenticated)
        << name << "=" << value.dump();
  }
  for (const char* required : {"exp", "nonce", "sub", "iss", "aud"}) {
    Json claims = Claims();
    claims.erase(required);
    EXPECT_EQ(Verify(claims).status().code(),
              absl::StatusCode::kUnauthenticated)
        << "without " << required;
  }
}

TEST_P(IdTokenTest, TheLeewayAbsorbsSmallClockDrift) {
  Json claims = Claims();
  claims["exp"] = kNow - 59;
  claims["iat"] = kNow + 59;
  claims["nbf"] = kNow + 59;
  EXPECT_TRUE(Verify(claims).ok());
}

TEST_P(IdTokenTest, SeveralAudiencesNeedThisClientAsAzp) {
  Json claims = Claims();
  claims["aud"] = Json::array({"roster-client", "another-client"});
  EXPECT_EQ(Verify(claims).status().code(), absl::StatusCode::kUnauthenticated);
  claims["azp"] = "another-client";
  EXPECT_EQ(Verify(claims).status().code(), absl::StatusCode::kUnauthenticated);
  claims["azp"] = "roster-client";
  EXPECT_TRUE(Verify(claims).ok());
}

TEST_P(IdTokenTest, AMultiTenantIssuerIsFilledByTheTokensTenant) {
  IdTokenExpectations expected = Expected();
  expected.issuer = "https://login.example.com/{tenantid}/v2.0";
  Json claims = Claims();
  claims["iss"] = "https://login.example.com/9188040d/v2.0";
  EXPECT_EQ(VerifyIdToken(key_.Sign(Header(), claims), keys_, expected)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);  // No tid.
  claims["tid"] = "9188040d";
  EXPECT_TRUE(VerifyIdToken(key_.Sign(Header(), claims), keys_, expected).ok());
  claims["tid"] = "another-tenant";
  EXPECT_EQ(VerifyIdToken(key_.Sign(Header(), claims), keys_, expected)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_P(IdTokenTest, AnUnverifiedEmailIsReportedAsSuch) {
  Json claims = Claims();
  claims["email_verified"] = false;
  EXPECT_FALSE(Verify(claims)->email_verified);
  claims.erase("email_verified");
  EXPECT_FALSE(Verify(claims)->email_verified);
  claims["email_verified"] = "true";  // As some providers send it.
  EXPECT_TRUE(Verify(claims)->email_verified);
}

TEST(JwsTest, UnsignedAndSymmetricTokensAreRefusedWhateverTheyClaim) {
  const ProviderKey rsa("RS256");
  const Jwks keys = SetOf({rsa.Jwk("k1")});
  const std::string payload = B64Url(Claims().dump());
  for (const char* alg : {"none", "HS256", "RS384", "PS256", ""}) {
    const std::string token =
        absl::StrCat(B64Url(Json{{"alg", alg}, {"kid", "k1"}}.dump()), ".",
                     payload, ".", B64Url("signature"));
    EXPECT_EQ(VerifyJws(token, keys).status().code(),
              absl::StatusCode::kInvalidArgument)
        << alg;
  }
}

TEST(JwsTest, AKeyOfAnotherTypeCannotVerifyUnderItsKid) {
  // The kid names the RSA key; a token claiming ES256 must not be checked
  // with it (nor find any key).
  const ProviderKey rsa("RS256");
  const ProviderKey ec("ES256");
  const Jwks keys = SetOf({rsa.Jwk("k1")});
  const std::string token =
      ec.Sign({{"alg", "ES256"}, {"kid", "k1"}}, Claims());
  EXPECT_EQ(VerifyJws(token, keys).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(JwsTest, CriticalExtensionsAreRefused) {
  const ProviderKey key("EdDSA");
  const Jwks keys = SetOf({key.Jwk("k1")});
  const std::string token =
      key.Sign({{"alg", "EdDSA"}, {"kid", "k1"}, {"crit", {"exp"}}}, Claims());
  EXPECT_EQ(VerifyJws(token, keys).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JwsTest, MalformedTokensAreInvalidArguments) {
  const ProviderKey key("EdDSA");
  const Jwks keys = SetOf({key.Jwk("k1")});
  const std::string good = key.Sign({{"alg", "EdDSA"}, {"kid", "k1"}}, {});
  for (const std::string& token :
       {std::string("a.b"), std::string("a.b.c.d"), std::string(""),
        absl::StrReplaceAll(good, {{".", ".+"}}), good + "=",
        absl::StrCat(B64Url("not json"), ".", B64Url("{}"), ".", B64Url("x")),
        std::string(kMaxJwsBytes + 1, 'a')}) {
    EXPECT_EQ(VerifyJws(token, keys).status().code(),
              absl::StatusCode::kInvalidArgument)
        << token.substr(0, 40);
  }
}

TEST(JwsTest, WithoutAKidTheOnlyKeyOfTheAlgVerifies) {
  const ProviderKey key("ES256");
  const ProviderKey other("ES256");
  const std::string token = key.Sign({{"alg", "ES256"}}, Claims());
  EXPECT_TRUE(VerifyJws(token, SetOf({key.Jwk("k1")})).ok());
  // Two candidates and no kid to choose between them: refused, not guessed.
  EXPECT_EQ(
      VerifyJws(token, SetOf({key.Jwk("k1"), other.Jwk("k2")})).status().code(),
      absl::StatusCode::kNotFound);
}

// RFC 8037 Appendix A.4: the RFC's own key and signature, made elsewhere.
TEST(JwsTest, VerifiesRfc8037sEd25519Example) {
  const Jwks keys =
      SetOf({Json{{"kty", "OKP"},
                  {"crv", "Ed25519"},
                  {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}});
  absl::StatusOr<VerifiedJws> jws = VerifyJws(
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g"
      "7sVvpAr_MuM0KAg",
      keys);
  ASSERT_TRUE(jws.ok()) << jws.status();
  EXPECT_EQ(jws->payload, "Example of Ed25519 signing");
}

TEST(JwksTest, SkipsKeysItDoesNotUseAndRefusesBrokenOnes) {
  const ProviderKey rsa("RS256");
  Json encryption = rsa.Jwk("enc1");
  encryption["use"] = "enc";
  Json pss = rsa.Jwk("pss1");
  pss["alg"] = "PS256";
  const Json symmetric = {{"kty", "oct"}, {"k", B64Url("secret")}};
  const Json p384 = {{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}};
  absl::StatusOr<Jwks> jwks = Jwks::Parse(
      Json{{"keys", {encryption, pss, symmetric, p384, rsa.Jwk("sig1")}}}
          .dump());
  ASSERT_TRUE(jwks.ok()) << jwks.status();
  EXPECT_EQ(jwks->size(), 1U);

  Json off_curve = ProviderKey("ES256").Jwk("bad");
  off_curve["y"] = B64Url(std::string(32, '\x01'));
  const ProviderKey small_rsa("RS256");
  Json short_modulus = small_rsa.Jwk("short");
  short_modulus["n"] = B64Url(std::string(128, '\xff'));  // 1024 bits
  for (const Json& bad : {off_curve, short_modulus}) {
    EXPECT_EQ(Jwks::Parse(Json{{"keys", {bad}}}.dump()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad.dump();
  }
  for (const std::string& text :
       {std::string("not json"), std::string("{}"),
        std::string(R"({"keys":{}})"),
        Json{{"keys", std::vector<Json>(kMaxJwksKeys + 1, symmetric)}}.dump(),
        std::string(kMaxJwksBytes + 1, ' ')}) {
    EXPECT_EQ(Jwks::Parse(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text.substr(0, 40);
  }
}

}  // namespace
}  // namespace roster::oauth

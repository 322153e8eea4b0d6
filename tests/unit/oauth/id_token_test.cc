// ID tokens and JWK Sets as providers send them: keys made and tokens signed
// here with OpenSSL (RS256, ES256, EdDSA), RFC 8037's own Ed25519 example, and
// each way a token must be refused.
#include "server/oauth/id_token.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/oauth/jwks.h"

namespace roster::oauth {
namespace {

using Json = nlohmann::json;

std::string B64Url(const std::string& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(
                      bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // The terminating NUL.
  return out;
}

std::string BignumBytes(const BIGNUM* bn, int width = 0) {
  std::string out(static_cast<size_t>(width > 0 ? width : BN_num_bytes(bn)),
                  '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()),
               static_cast<int>(out.size()));
  return out;
}

// A provider's key pair for one JWS alg, publishing its public half as a JWK.
class ProviderKey {
 public:
  explicit ProviderKey(std::string alg) : alg_(std::move(alg)) {
    if (alg_ == "RS256") {
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    } else if (alg_ == "ES256") {
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    } else {
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    }
  }

  Json Jwk(const std::string& kid) const {
    Json jwk = {{"kid", kid}, {"use", "sig"}};
    if (alg_ == "RS256") {
      BIGNUM* n = nullptr;
      BIGNUM* e = nullptr;
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
      jwk.update({{"kty", "RSA"},
                  {"n", B64Url(BignumBytes(n))},
                  {"e", B64Url(BignumBytes(e))}});
      BN_free(n);
      BN_free(e);
    } else if (alg_ == "ES256") {
      std::string point(65, '\0');
      size_t length = 0;
      EVP_PKEY_get_octet_string_param(
          key_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
          reinterpret_cast<unsigned char*>(point.data()), point.size(),
          &length);
      jwk.update({{"kty", "EC"},
                  {"crv", "P-256"},
                  {"x", B64Url(point.substr(1, 32))},
                  {"y", B64Url(point.substr(33, 32))}});
    } else {
      std::string raw(32, '\0');
      size_t length = raw.size();
      EVP_PKEY_get_raw_public_key(
          key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &length);
      jwk.update({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", B64Url(raw)}});
    }
    return jwk;
  }

  // header.payload.signature, with `header` as given (alg and kid included).
  std::string Sign(const Json& header, const Json& payload) const {
    const std::string input =
        absl::StrCat(B64Url(header.dump()), ".", B64Url(payload.dump()));
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                           EVP_MD_CTX_free);
    EVP_DigestSignInit(ctx.get(), nullptr,
                       alg_ == "EdDSA" ? nullptr : EVP_sha256(), nullptr,
                       key_.get());
    size_t length = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size());
    std::string signature(length, '\0');
    EVP_DigestSign(ctx.get(),
                   reinterpret_cast<unsigned char*>(signature.data()), &length,
                   data, input.size());
    signature.resize(length);
    if (alg_ == "ES256") {  // DER to JWS's r||s.
      const auto* der =
          reinterpret_cast<const unsigned char*>(signature.data());
      ECDSA_SIG* sig =
          d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(length));  // NOLINT
      signature = BignumBytes(ECDSA_SIG_get0_r(sig), 32) +
                  BignumBytes(ECDSA_SIG_get0_s(sig), 32);
      ECDSA_SIG_free(sig);
    }
    return absl::StrCat(input, ".", B64Url(signature));
  }

  const std::string& alg() const { return alg_; }

 private:
  std::string alg_;
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_{nullptr, EVP_PKEY_free};
};

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

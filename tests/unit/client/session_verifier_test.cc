// roster::SessionVerifier against tokens signed by the server's own signing
// code (server/domain/tokens.h): two implementations that must agree.
#include "client/session_verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/domain/tokens.h"

namespace roster {
namespace {

using domain::SigningKey;
using domain::TokenClaims;

SigningKey KeyFromSeed(char fill) {
  return *SigningKey::Parse(std::string(64, fill));
}

v1::Jwks JwksOf(const std::vector<const SigningKey*>& keys) {
  v1::Jwks jwks;
  for (const SigningKey* key : keys) {
    v1::Jwk* jwk = jwks.add_keys();
    jwk->set_kty("OKP");
    jwk->set_crv("Ed25519");
    jwk->set_x(key->verification_key().x());
    jwk->set_kid(key->verification_key().kid);
    jwk->set_alg("EdDSA");
    jwk->set_use("sig");
  }
  return jwks;
}

std::string Base64Url(absl::string_view data) {
  return absl::WebSafeBase64Escape(data);
}

// A verifier on a clock the test moves, whose fetcher serves `served` and
// counts its calls.
class SessionVerifierTest : public ::testing::Test {
 protected:
  SessionVerifierTest()
      : key_(KeyFromSeed('1')),
        other_key_(KeyFromSeed('2')),
        now_(absl::FromUnixSeconds(1'800'000'000)) {
    served_ = JwksOf({&key_});
    verifier_ = std::make_unique<SessionVerifier>(
        [this]() -> absl::StatusOr<v1::Jwks> {
          ++calls_;
          if (!fetch_status_.ok()) {
            return fetch_status_;
          }
          return served_;
        },
        SessionVerifierOptions{}, [this] { return now_; });
  }

  TokenClaims Claims() const {
    return {"roster", "user_1", "sess_1", now_, now_, now_ + absl::Minutes(5),
            ""};
  }

  SigningKey key_;
  SigningKey other_key_;
  absl::Time now_;
  v1::Jwks served_;
  absl::Status fetch_status_;
  std::atomic<int> calls_{0};
  std::unique_ptr<SessionVerifier> verifier_;
};

TEST_F(SessionVerifierTest, AcceptsTheServersTokenAfterOneFetch) {
  absl::StatusOr<SessionClaims> claims = verifier_->Verify(key_.Sign(Claims()));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user_id, "user_1");
  EXPECT_EQ(claims->session_id, "sess_1");
  EXPECT_EQ(claims->expires_at, now_ + absl::Minutes(5));
  EXPECT_TRUE(verifier_->Verify(key_.Sign(Claims())).ok());
  EXPECT_EQ(calls_, 1);
}

TEST_F(SessionVerifierTest, RefusesForgedAndInvalidTokens) {
  const std::string good = key_.Sign(Claims());
  const std::vector<absl::string_view> parts = absl::StrSplit(good, '.');
  TokenClaims changed = Claims();
  changed.user_id = "user_2";
  const std::vector<std::string> forged_parts =
      absl::StrSplit(key_.Sign(changed), '.');
  const std::vector<std::string> other_parts =
      absl::StrSplit(other_key_.Sign(Claims()), '.');
  const std::string kid = key_.verification_key().kid;
  TokenClaims expired = Claims();
  expired.issued_at = expired.not_before = now_ - absl::Minutes(10);
  expired.expires_at = now_ - absl::Seconds(6);
  TokenClaims early = Claims();
  early.not_before = now_ + absl::Seconds(6);
  TokenClaims other_issuer = Claims();
  other_issuer.issuer = "someone-else";
  TokenClaims with_audience = Claims();
  with_audience.audience = "another-app";
  const std::string none_header =
      Base64Url(absl::StrCat(R"({"alg":"none","kid":")", kid, R"("})"));
  const std::string hs256_header =
      Base64Url(absl::StrCat(R"({"alg":"HS256","kid":")", kid, R"("})"));
  const std::string garbage_payload = Base64Url("[1,2]");

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tampered claims",
       absl::StrCat(parts[0], ".", forged_parts[1], ".", parts[2])},
      {"another key under our kid",
       absl::StrCat(parts[0], ".", parts[1], ".", other_parts[2])},
      {"expired beyond the leeway", key_.Sign(expired)},
      {"not valid yet beyond the leeway", key_.Sign(early)},
      {"another issuer", key_.Sign(other_issuer)},
      {"an audience we do not expect", key_.Sign(with_audience)},
      {"alg none", absl::StrCat(none_header, ".", parts[1], ".")},
      {"alg HS256", absl::StrCat(hs256_header, ".", parts[1], ".", parts[2])},
      {"padding in a segment", absl::StrCat(good, "=")},
      {"two segments", absl::StrCat(parts[0], ".", parts[1])},
      {"a payload that is not an object",
       absl::StrCat(parts[0], ".", garbage_payload, ".", parts[2])},
      {"empty", ""},
      {"oversized", std::string(5000, 'a')},
  };
  for (const auto& [what, token] : cases) {
    absl::StatusOr<SessionClaims> claims = verifier_->Verify(token);
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated)
        << what << ": " << claims.status();
  }
  EXPECT_LE(calls_, 1) << "known kids never refetch";
}

TEST_F(SessionVerifierTest, ToleratesClockSkewWithinTheLeeway) {
  TokenClaims just_expired = Claims();
  just_expired.expires_at = now_ - absl::Seconds(4);
  TokenClaims nearly_valid = Claims();
  nearly_valid.not_before = now_ + absl::Seconds(4);
  EXPECT_TRUE(verifier_->Verify(key_.Sign(just_expired)).ok());
  EXPECT_TRUE(verifier_->Verify(key_.Sign(nearly_valid)).ok());
}

TEST_F(SessionVerifierTest, AnUnknownKidRefetchesAtMostOncePerInterval) {
  ASSERT_TRUE(verifier_->Verify(key_.Sign(Claims())).ok());
  // The server rotates: it now signs with other_key_ and still publishes key_.
  served_ = JwksOf({&other_key_, &key_});
  now_ += absl::Seconds(31);
  ASSERT_TRUE(verifier_->Verify(other_key_.Sign(Claims())).ok());
  EXPECT_EQ(calls_, 2);
  // A flood of made-up kids within the interval fetches nothing.
  for (char fill = '3'; fill <= '9'; ++fill) {
    const SigningKey stranger = KeyFromSeed(fill);
    EXPECT_EQ(verifier_->Verify(stranger.Sign(Claims())).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(calls_, 2);
  now_ += absl::Seconds(30);
  const SigningKey stranger = KeyFromSeed('a');
  EXPECT_FALSE(verifier_->Verify(stranger.Sign(Claims())).ok());
  EXPECT_EQ(calls_, 3);
  EXPECT_EQ(verifier_->key_fetches(), 3);
}

TEST_F(SessionVerifierTest, AFailedFetchIsUnavailableAndRetriedNextTime) {
  fetch_status_ = absl::UnavailableError("roster is down");
  EXPECT_EQ(verifier_->Verify(key_.Sign(Claims())).status().code(),
            absl::StatusCode::kUnavailable);
  fetch_status_ = absl::OkStatus();
  EXPECT_TRUE(verifier_->Verify(key_.Sign(Claims())).ok());
  EXPECT_EQ(calls_, 2);
  // Once keys are cached, a failed refetch keeps them.
  fetch_status_ = absl::UnavailableError("roster is down");
  now_ += absl::Minutes(1);
  EXPECT_FALSE(verifier_->Verify(other_key_.Sign(Claims())).ok());
  EXPECT_TRUE(verifier_->Verify(key_.Sign(Claims())).ok());
}

TEST_F(SessionVerifierTest, ConcurrentFirstCallsShareOneFetch) {
  const std::string token = key_.Sign(Claims());
  std::atomic<int> valid{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (verifier_->Verify(token).ok()) {
        ++valid;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(valid, 8);
  EXPECT_EQ(calls_, 1);
}

}  // namespace
}  // namespace roster

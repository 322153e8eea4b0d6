// TOTP against RFC 6238's own vectors, base32 against RFC 4648's, the QR
// code's shape, backup codes, and DataKeys' sealing, rotation and refusals.
#include "server/domain/totp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "server/domain/data_keys.h"

namespace roster::domain {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// RFC 6238 Appendix B (SHA1 column), the last 6 of each 8-digit code.
TEST(TotpTest, MatchesTheRfc6238Vectors) {
  const std::string secret = "12345678901234567890";
  const std::pair<int64_t, const char*> vectors[] = {
      {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
      {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
  };
  for (const auto& [seconds, code] : vectors) {
    EXPECT_EQ(TotpCode(secret, TotpStepAt(absl::FromUnixSeconds(seconds))),
              code)
        << seconds;
  }
}

TEST(TotpTest, AcceptsOneStepEitherSideAndEachStepOnce) {
  const std::string secret = NewTotpSecret();
  ASSERT_EQ(secret.size(), kTotpSecretBytes);
  const absl::Time now = absl::FromUnixSeconds(1'750'000'015);
  const int64_t step = TotpStepAt(now);
  for (int64_t delta : {-1, 0, 1}) {
    EXPECT_EQ(MatchTotp(secret, TotpCode(secret, step + delta), now, 0),
              step + delta);
  }
  for (int64_t delta : {-3, -2, 2, 3}) {
    const std::string code = TotpCode(secret, step + delta);
    bool also_near = false;  // A 1-in-10^6 collision with a near step.
    for (int64_t near : {-1, 0, 1}) {
      also_near |= TotpCode(secret, step + near) == code;
    }
    if (!also_near) {
      EXPECT_FALSE(MatchTotp(secret, code, now, 0).has_value()) << delta;
    }
  }
  // A used step, and every step before it, is refused.
  EXPECT_FALSE(
      MatchTotp(secret, TotpCode(secret, step), now, step).has_value());
  EXPECT_FALSE(
      MatchTotp(secret, TotpCode(secret, step - 1), now, step).has_value());
  EXPECT_EQ(MatchTotp(secret, TotpCode(secret, step + 1), now, step), step + 1);
}

TEST(TotpTest, RefusesMalformedCodes) {
  const std::string secret = NewTotpSecret();
  const absl::Time now = absl::Now();
  for (const char* code :
       {"", "12345", "1234567", "12345a", " 12345", "١٢٣٤٥٦"}) {
    EXPECT_FALSE(IsWellFormedTotpCode(code)) << code;
    EXPECT_FALSE(MatchTotp(secret, code, now, 0).has_value()) << code;
  }
}

TEST(Base32Test, MatchesRfc4648AndReadsWhatAppsShow) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(Base32Encode(bytes), text);
    EXPECT_EQ(Base32Decode(text), bytes);
  }
  EXPECT_EQ(Base32Decode("mzxw 6ytb oi======"), "foobar");
  EXPECT_EQ(Base32Decode("MZXW6YTBO1"), std::nullopt);  // 1 is not base32.
  EXPECT_EQ(Base32Decode("MY==MY"), std::nullopt);      // Data after padding.
  const std::string secret = NewTotpSecret();
  EXPECT_EQ(Base32Decode(Base32Encode(secret)), secret);
  EXPECT_EQ(Base32Encode(secret).size(), 32u);  // 160 bits, no padding.
}

TEST(TotpTest, UriAndQrCodeNameTheAccount) {
  const std::string uri =
      TotpUri("12345678901234567890", "Acme Inc", "kim@example.com");
  EXPECT_EQ(uri,
            "otpauth://totp/Acme%20Inc:kim%40example.com?secret="
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Inc"
            "&algorithm=SHA1&digits=6&period=30");
  auto svg = QrCodeSvg(uri);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(
      absl::StartsWith(*svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(absl::EndsWith(*svg, "</svg>"));
  // A QR code of this length is version 6 or more: at least 41 modules wide.
  EXPECT_THAT(*svg, HasSubstr("viewBox=\"0 0 "));
  EXPECT_THAT(*svg, Not(HasSubstr("<script")));
}

TEST(BackupCodesTest, AreDistinctWellFormedAndRandom) {
  const auto codes = NewBackupCodes();
  ASSERT_EQ(codes.size(), static_cast<size_t>(kBackupCodeCount));
  EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(),
            codes.size());
  for (const auto& code : codes) {
    EXPECT_TRUE(IsWellFormedBackupCode(code)) << code;
  }
  EXPECT_NE(NewBackupCodes(), codes);
  for (const char* bad :
       {"", "abcdefghi", "abcdefghijk", "ABCDEFGHIJ", "abcde-ghij", "123456"}) {
    EXPECT_FALSE(IsWellFormedBackupCode(bad)) << bad;
  }
}

TEST(DataKeysTest, SealsUnderTheFirstKeyAndOpensUnderAny) {
  const std::string old_file = DataKeys::NewFile();
  auto old_keys = DataKeys::Parse(old_file);
  ASSERT_TRUE(old_keys.ok()) << old_keys.status();
  auto sealed = old_keys->Seal("the secret", "totp:user_1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_THAT(*sealed, Not(HasSubstr("the secret")));
  EXPECT_EQ(DataKeys::KeyIdOf(*sealed), old_keys->sealing_key_id());
  EXPECT_EQ(old_keys->Open(*sealed, "totp:user_1").value(), "the secret");
  // Two seals of one value differ (a fresh nonce each).
  EXPECT_NE(old_keys->Seal("the secret", "totp:user_1").value(), *sealed);

  // Rotation: a new key first, the old one kept.
  auto rotated = DataKeys::Parse(DataKeys::NewFile() + "# old\n" + old_file);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->sealing_key_id(), old_keys->sealing_key_id());
  EXPECT_TRUE(rotated->Has(old_keys->sealing_key_id()));
  EXPECT_EQ(rotated->Open(*sealed, "totp:user_1").value(), "the secret");
  EXPECT_EQ(DataKeys::KeyIdOf(rotated->Seal("x", "c").value()),
            rotated->sealing_key_id());
}

TEST(DataKeysTest, RefusesWhatItCannotOpenAndNeverReturnsGarbage) {
  auto keys = DataKeys::Parse(DataKeys::NewFile());
  ASSERT_TRUE(keys.ok());
  const std::string sealed = keys->Seal("the secret", "totp:user_1").value();
  // Another user's context: the ciphertext was moved between rows.
  EXPECT_EQ(keys->Open(sealed, "totp:user_2").status().code(),
            absl::StatusCode::kDataLoss);
  // One changed character. Not the last: its low bits may be padding that
  // decoding drops, which made this check flaky.
  std::string altered = sealed;
  char& inner = altered[altered.size() - 5];
  inner = inner == 'A' ? 'B' : 'A';
  EXPECT_EQ(keys->Open(altered, "totp:user_1").status().code(),
            absl::StatusCode::kDataLoss);
  // The key is gone.
  auto other = DataKeys::Parse(DataKeys::NewFile());
  ASSERT_TRUE(other.ok());
  const auto lost = other->Open(sealed, "totp:user_1").status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(lost.message(), HasSubstr(keys->sealing_key_id()));
  EXPECT_EQ(DataKeys().Seal("x", "c").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DataKeysTest, ParseNamesTheBadLineWithoutEchoingIt) {
  const std::string short_key = "c2hvcnQga2V5IG9mIDMxIGJ5dGVzIGZvciB0ZXN0cw==";
  auto parsed = DataKeys::Parse("# keys\n\n" + short_key + "\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("line 3"));
  EXPECT_THAT(parsed.status().message(), Not(HasSubstr(short_key)));
  EXPECT_FALSE(DataKeys::Parse("").ok());
  EXPECT_FALSE(DataKeys::Parse("# only a comment\n").ok());
  EXPECT_FALSE(DataKeys::Parse("not base64 at all!\n").ok());
  EXPECT_TRUE(DataKeys::Parse("  " + DataKeys::NewFile() + "  \n").ok());
}

}  // namespace
}  // namespace roster::domain

#include "server/domain/password_digests.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/passwords.h"
#include "tests/testing/status_matchers.h"

namespace roster::domain {
namespace {

using ::roster::testing::IsOk;

struct Vector {
  std::string hasher, password, digest;
  bool matches = false;
};

// tests/data/password_digests/vectors.tsv, made by generate.sh beside it from
// independent implementations (htpasswd, the argon2 CLI, Python's hashlib,
// coreutils).
std::vector<Vector> LoadVectors() {
  std::ifstream in(std::string(ROSTER_TEST_DATA_DIR) +
                   "/password_digests/vectors.tsv");
  std::vector<Vector> vectors;
  std::string line;
  std::getline(in, line);  // Header.
  while (std::getline(in, line)) {
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    if (cols.size() == 4) {
      vectors.push_back({cols[0], cols[1], cols[2], cols[3] == "true"});
    }
  }
  return vectors;
}

TEST(PasswordDigestsTest,
     EveryIndependentVectorImportsAndVerifiesAsItsToolSays) {
  const auto vectors = LoadVectors();
  ASSERT_EQ(vectors.size(), 23u);
  for (const auto& v : vectors) {
    auto stored = ImportDigest(v.hasher, v.digest);
    ASSERT_THAT(stored, IsOk()) << v.hasher << " " << v.digest;
    EXPECT_EQ(VerifyStoredPassword(*stored, v.password), v.matches)
        << v.hasher << " " << v.password << " " << *stored;
    EXPECT_TRUE(NeedsRehash(*stored))
        << v.hasher;  // Nothing imported is at our argon2id.
  }
}

TEST(PasswordDigestsTest, MalformedDigestsAndExcessiveCostsAreRefused) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"bcrypt", "$2b$10$tooshort"},
      {"bcrypt",
       "$2x$10$ARFxcCTllh4onCd/0GLB3u2Z0cWWiOo.oloGsU.A9SIWZwCgf.vSm"},
      {"bcrypt",
       "$2b$15$ARFxcCTllh4onCd/"
       "0GLB3u2Z0cWWiOo.oloGsU.A9SIWZwCgf.vSm"},  // Cost 15.
      {"argon2id",
       "$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$TDQW+c4JUDBN/"
       "fKhqU6lBBLDIqidztMGHYPUZo2kn44"},
      {"argon2id",
       "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHRzYWx0$z4wQtF58P+"
       "NblWL6iTCrBuBAAKtXtYd1FmWEeScFW8Y"},
      {"argon2id",
       "$argon2id$v=19$m=4096,t=99,p=1$c2FsdHNhbHRzYWx0$z4wQtF58P+"
       "NblWL6iTCrBuBAAKtXtYd1FmWEeScFW8Y"},
      {"argon2id",
       "$argon2id$v=16$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$z4wQtF58P+"
       "NblWL6iTCrBuBAAKtXtYd1FmWEeScFW8Y"},
      {"pbkdf2_sha256",
       "pbkdf2_sha256$3000000$salt$"
       "oXilRKA5xoZSlPKN6BFR5utLIQdWfpIjPzfPWeLonIM="},
      {"pbkdf2_sha256",
       "pbkdf2_sha512$1000$salt$oXilRKA5xoZSlPKN6BFR5utLIQdWfpIjPzfPWeLonIM="},
      {"pbkdf2_sha256", "pbkdf2_sha256$1000$salt$not-base64"},
      {"pbkdf2_sha512",  // Hex one character short.
       "pbkdf2_sha512$1000$salt$"
       "24833411641eafd283cfa919e269f6beac4c04ea48f242415ef2dbfc4e2b5548a5981d"
       "93e88a2eb7e659279fef7568ab4364c92ccff7b94dc0cd5f9b1461e52"},
      {"pbkdf2_sha512_hex",  // Odd-length salt.
       "pbkdf2_sha512_hex$1000$00f$"
       "24833411641eafd283cfa919e269f6beac4c04ea48f242415ef2dbfc4e2b5548a5981d"
       "93e88a2eb7e659279fef7568ab4364c92ccff7b94dc0cd5f9b1461e52c"},
      {"pbkdf2_sha512_hex",  // Salt not hex.
       "pbkdf2_sha512_hex$1000$NaClNaCl$"
       "24833411641eafd283cfa919e269f6beac4c04ea48f242415ef2dbfc4e2b5548a5981d"
       "93e88a2eb7e659279fef7568ab4364c92ccff7b94dc0cd5f9b1461e52c"},
      {"pbkdf2_sha512_hex",  // Hash in base64.
       "pbkdf2_sha512_hex$1000$00ff$JIM0EWQer9KDz6kZ4mn2vqxMBOpI8kJBXvLb/"
       "E4rVUilmB2T6Iout+ZZJ5/vdWirQ2TJLM/3uU3AzV+bFGHlLA=="},
      {"pbkdf2_sha256",
       "pbkdf2_sha256$0$salt$oXilRKA5xoZSlPKN6BFR5utLIQdWfpIjPzfPWeLonIM="},
      {"md5", "7c6a180b36896a0a8c02787eeafb0e4"},
      {"md5", "zz6a180b36896a0a8c02787eeafb0e4c"},
      {"sha256", "7c6a180b36896a0a8c02787eeafb0e4c"},
      {"sha256_salted",
       "0b14d501a594442a01c6859541bcb3e8164d183d32937b851835442f69d5c94e"},
      {"sha256_salted",
       "0b14d501a594442a01c6859541bcb3e8164d183d32937b851835442f69d5c94e$"},
      {"scrypt", "anything"},
      {"scrypt_firebase", "aGFzaA==$c2FsdA==$a2V5$Bw==$8"},  // Five fields.
      {"scrypt_firebase",
       "aGFzaA==$c2FsdA==$a2V5a2V5$Bw==$8$14"},  // Sizes differ.
      {"scrypt_firebase", "a2V5a2V5$c2FsdA==$a2V5a2V5$Bw==$8$20"},  // N = 2^20.
      {"scrypt_firebase", "a2V5a2V5$c2FsdA==$a2V5a2V5$Bw==$64$14"},  // r = 64.
      {"bcrypt", ""},
  };
  for (const auto& [hasher, digest] : refused) {
    absl::Status status = ImportDigest(hasher, digest).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << hasher << " " << digest;
    EXPECT_EQ(ReasonOf(status), reason::kPasswordDigestInvalid)
        << hasher << " " << digest;
  }
  EXPECT_EQ(FieldViolationsOf(ImportDigest("scrypt", "x").status())[0].field,
            "password_hasher");
}

TEST(PasswordDigestsTest,
     OurOwnArgon2idNeedsNoRehashAndUnknownKindsVerifyNothing) {
  auto ours = HashPassword("correct horse");
  ASSERT_THAT(ours, IsOk());
  EXPECT_FALSE(NeedsRehash(*ours));
  EXPECT_TRUE(VerifyStoredPassword(*ours, "correct horse"));
  EXPECT_FALSE(VerifyStoredPassword("plain:correct horse", "correct horse"));
  EXPECT_FALSE(VerifyStoredPassword("", ""));
}

}  // namespace
}  // namespace roster::domain

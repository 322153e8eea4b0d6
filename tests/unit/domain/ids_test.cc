#include "server/domain/ids.h"

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "tests/testing/fakes.h"

namespace roster::domain {
namespace {

using ::roster::testing::FakeClock;
using ::roster::testing::SeededRandom;

TEST(IdGeneratorTest, IdIsPrefixAnd27Base62Characters) {
  FakeClock clock;
  SeededRandom random(1);
  IdGenerator ids(&clock, &random);
  const std::string id = ids.New(kUserIdPrefix);
  EXPECT_EQ(id.size(), 5u + 27u);
  EXPECT_TRUE(IsWellFormedId(id, kUserIdPrefix)) << id;
}

TEST(IdGeneratorTest, LaterSecondsSortAfterEarlierOnesWhateverTheRandomPart) {
  FakeClock clock;
  SeededRandom random(7);
  IdGenerator ids(&clock, &random);
  std::string previous = ids.New(kUserIdPrefix);
  for (int i = 0; i < 100; ++i) {
    clock.Advance(absl::Seconds(1));
    const std::string next = ids.New(kUserIdPrefix);
    EXPECT_LT(previous, next);
    previous = next;
  }
}

TEST(IdGeneratorTest, SameSeedGivesSameIdsAndSystemRandomGivesDistinctOnes) {
  FakeClock clock;
  SeededRandom a(42), b(42);
  EXPECT_EQ(IdGenerator(&clock, &a).New("x_"),
            IdGenerator(&clock, &b).New("x_"));
  SystemRandom system;
  IdGenerator ids(&clock, &system);
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    EXPECT_TRUE(seen.insert(ids.New(kUserIdPrefix)).second);
  }
}

TEST(IdGeneratorTest, WellFormedIdRejectsWrongPrefixLengthAndCharacters) {
  const std::string body(27, 'a');
  EXPECT_TRUE(IsWellFormedId("user_" + body, "user_"));
  EXPECT_FALSE(IsWellFormedId("idn_" + body, "user_"));
  EXPECT_FALSE(IsWellFormedId("user_" + body + "a", "user_"));
  EXPECT_FALSE(IsWellFormedId("user_" + body.substr(1), "user_"));
  EXPECT_FALSE(IsWellFormedId("user_" + body.substr(1) + "-", "user_"));
  EXPECT_FALSE(IsWellFormedId("", "user_"));
}

TEST(NewSecretTest, HasPrefixLengthAndOnlyBase62) {
  SystemRandom random;
  const std::string secret = NewSecret(random, "sk_", 40);
  ASSERT_EQ(secret.size(), 43u);
  EXPECT_EQ(secret.substr(0, 3), "sk_");
  EXPECT_TRUE(
      IsWellFormedId(secret.substr(0, 3) + secret.substr(3, 27), "sk_"));
  EXPECT_NE(secret, NewSecret(random, "sk_", 40));
}

TEST(FingerprintTest, IsStableAndDistinguishesInputs) {
  EXPECT_EQ(Fingerprint("abc"), Fingerprint("abc"));
  EXPECT_NE(Fingerprint("abc"), Fingerprint("abd"));
  EXPECT_EQ(Fingerprint("abc").size(), 32u);
}

}  // namespace
}  // namespace roster::domain

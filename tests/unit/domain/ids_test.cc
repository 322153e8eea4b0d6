#include "server/domain/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

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

// Hands out fixed bytes, so an id's encoding can be checked exactly.
class FixedRandom final : public RandomSource {
 public:
  explicit FixedRandom(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void Fill(absl::Span<uint8_t> out) override {
    ASSERT_EQ(out.size(), bytes_.size());
    std::copy(bytes_.begin(), bytes_.end(), out.begin());
  }

 private:
  std::vector<uint8_t> bytes_;
};

absl::Time KsuidSeconds(int64_t seconds) {
  return absl::FromUnixSeconds(1'400'000'000 + seconds);
}

// The vectors are KSUID's own (github.com/segmentio/ksuid): its documented
// example, and the smallest and largest values.
TEST(IdGeneratorTest, EncodesLikeKsuid) {
  FakeClock example_time(KsuidSeconds(107'608'047));
  FixedRandom example_payload({0xB5, 0xA1, 0xCD, 0x34, 0xB5, 0xF9, 0x9D, 0x11,
                               0x54, 0xFB, 0x68, 0x53, 0x34, 0x5C, 0x97, 0x35});
  EXPECT_EQ(IdGenerator(&example_time, &example_payload).New(kUserIdPrefix),
            "user_0ujtsYcgvSTl8PAuAdqWYSMnLOv");

  FakeClock epoch(KsuidSeconds(0));
  FixedRandom zeros(std::vector<uint8_t>(16, 0x00));
  EXPECT_EQ(IdGenerator(&epoch, &zeros).New("x_"),
            "x_000000000000000000000000000");

  FakeClock last_second(KsuidSeconds(0xFFFFFFFF));
  FixedRandom ones(std::vector<uint8_t>(16, 0xFF));
  EXPECT_EQ(IdGenerator(&last_second, &ones).New("x_"),
            "x_aWgEPTl1tmebfsQzFP4bxwgy80V");
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

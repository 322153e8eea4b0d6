#include "server/domain/hash_memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "tests/testing/wait.h"

namespace roster::domain {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(HashMemoryTest, ReadsAnArgon2DigestsMemoryCost) {
  EXPECT_EQ(
      HashMemoryCost("$argon2id$v=19$m=262144,t=3,p=1$c2FsdHNhbHQ$aGFzaA"),
      256 * kMiB);
  EXPECT_EQ(HashMemoryCost("$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            19456 * size_t{1024});
  EXPECT_EQ(HashMemoryCost("$2b$10$abcdefghijklmnopqrstuv"), 0u);
  EXPECT_EQ(HashMemoryCost("$argon2id$v=19$m=oops"), 0u);
}

// 40 + 40 MiB held under a 100 MiB budget: a third 40 MiB hash waits until one
// ends, and one larger than the whole budget waits until nothing else runs.
TEST(HashMemoryTest, AHashWaitsWhileItsMemoryDoesNotFit) {
  HashMemoryBudget budget(100 * kMiB);
  std::optional<HashMemoryBudget::Reservation> first;
  std::optional<HashMemoryBudget::Reservation> second;
  first.emplace(budget.Reserve(40 * kMiB));
  second.emplace(budget.Reserve(40 * kMiB));
  std::atomic<bool> third_in{false};
  std::thread third([&] {
    auto reserved = budget.Reserve(40 * kMiB);
    third_in = true;
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return budget.waiting() == 1; }));
  EXPECT_FALSE(third_in.load());
  first.reset();
  third.join();
  EXPECT_TRUE(third_in.load());
  EXPECT_EQ(budget.peak(), 80 * kMiB);

  std::atomic<bool> big_in{false};
  std::thread big([&] {
    auto reserved = budget.Reserve(300 * kMiB);
    big_in = true;
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return budget.waiting() == 1; }));
  EXPECT_FALSE(big_in.load());
  second.reset();
  big.join();
  EXPECT_TRUE(big_in.load());
  EXPECT_EQ(budget.peak(), 300 * kMiB);  // Alone.
}

}  // namespace
}  // namespace roster::domain

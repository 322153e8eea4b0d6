#include "server/domain/hash_memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

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

// Eight hashes of 40 MiB at once under a 100 MiB budget: never more than two
// run together, and one larger than the budget runs alone.
TEST(HashMemoryTest, ConcurrentHashesStayWithinTheBudget) {
  HashMemoryBudget budget(100 * kMiB);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 9; ++i) {
    const size_t cost = i == 8 ? 300 * kMiB : 40 * kMiB;
    threads.emplace_back([&, cost] {
      auto reserved = budget.Reserve(cost);
      const int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --running;
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_LE(most.load(), 2);
  EXPECT_EQ(budget.peak(), 300 * kMiB);  // The oversized one, alone.
}

}  // namespace
}  // namespace roster::domain

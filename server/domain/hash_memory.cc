#include "server/domain/hash_memory.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace roster::domain {

HashMemoryBudget::Reservation::~Reservation() {
  if (budget_ != nullptr) {
    budget_->Release(bytes_);
  }
}

HashMemoryBudget& HashMemoryBudget::Global() {
  // Never destroyed: hashes may still run at exit.
  static HashMemoryBudget* const kBudget =
      new HashMemoryBudget(size_t{256} << 20);
  return *kBudget;
}

void HashMemoryBudget::SetLimit(size_t bytes) {
  absl::MutexLock lock(&mu_);
  limit_ = bytes;
}

size_t HashMemoryBudget::limit() const {
  absl::MutexLock lock(&mu_);
  return limit_;
}

HashMemoryBudget::Reservation HashMemoryBudget::Reserve(size_t bytes) {
  absl::MutexLock lock(&mu_);
  ++waiting_;
  while (in_use_ != 0 && in_use_ + bytes > limit_) {
    released_.Wait(&mu_);
  }
  --waiting_;
  in_use_ += bytes;
  peak_ = std::max(peak_, in_use_);
  return Reservation(this, bytes);
}

void HashMemoryBudget::Release(size_t bytes) {
  absl::MutexLock lock(&mu_);
  in_use_ -= bytes;
  released_.SignalAll();
}

size_t HashMemoryBudget::peak() const {
  absl::MutexLock lock(&mu_);
  return peak_;
}

int HashMemoryBudget::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

size_t HashMemoryCost(absl::string_view stored) {
  if (!absl::StartsWith(stored, "$argon2")) {
    return 0;
  }
  const size_t m = stored.find("$m=");
  if (m == absl::string_view::npos) {
    return 0;
  }
  const absl::string_view rest = stored.substr(m + 3);
  uint64_t kib = 0;
  if (!absl::SimpleAtoi(rest.substr(0, rest.find(',')), &kib)) {
    return 0;
  }
  return static_cast<size_t>(kib) * 1024;
}

}  // namespace roster::domain

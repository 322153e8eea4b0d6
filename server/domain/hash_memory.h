// HashMemoryBudget: the memory all password hashes may hold at once. argon2id
// allocates its whole cost (19 MiB for Roster's own hashes, up to 128 MiB for
// an imported digest) for as long as it runs, so a pool sized only by CPUs can
// hold CPUs x 128 MiB. A hash first reserves its cost here and waits while it
// does not fit; one that costs more than the whole budget waits to run alone
// (DESIGN §14). Process-wide, as the memory is. Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_HASH_MEMORY_H_
#define ROSTER_SERVER_DOMAIN_HASH_MEMORY_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace roster::domain {

class HashMemoryBudget {
 public:
  // Held while a hash runs; releases its bytes when destroyed.
  class Reservation {
   public:
    Reservation(HashMemoryBudget* budget, size_t bytes)
        : budget_(budget), bytes_(bytes) {}
    Reservation(Reservation&& other) noexcept
        : budget_(other.budget_), bytes_(other.bytes_) {
      other.budget_ = nullptr;
    }
    Reservation& operator=(Reservation&&) = delete;
    ~Reservation();

   private:
    HashMemoryBudget* budget_;
    size_t bytes_;
  };

  // The one budget of this process (256 MiB until set).
  static HashMemoryBudget& Global();

  explicit HashMemoryBudget(size_t limit_bytes) : limit_(limit_bytes) {}
  void SetLimit(size_t bytes);
  size_t limit() const;

  // Waits until `bytes` fit (or, above the limit, until nothing else runs).
  Reservation Reserve(size_t bytes);
  // The most ever reserved at once.
  size_t peak() const;
  // Reserve calls waiting now.
  int waiting() const;

 private:
  void Release(size_t bytes);

  mutable absl::Mutex mu_;
  absl::CondVar released_;
  size_t limit_ ABSL_GUARDED_BY(mu_);
  size_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
  size_t peak_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

// The memory verifying `stored` takes: an argon2 PHC string's m (KiB), else 0
// (bcrypt, PBKDF2 and digests use next to none).
size_t HashMemoryCost(absl::string_view stored);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_HASH_MEMORY_H_

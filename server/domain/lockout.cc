#include "server/domain/lockout.h"

#include <sodium.h>

#include <array>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace roster::domain {

int32_t FailuresAt(const FailureCount& count, storage::Micros now,
                   const UserServiceOptions& options) {
  if (count.locked_until > now) {
    return count.failures;
  }
  const storage::Micros quiet_since =
      now - absl::ToInt64Microseconds(options.lockout_duration);
  // A lockout that has run out starts a fresh count, as does a quiet spell.
  if (count.locked_until != 0 || count.last_failed_at < quiet_since) {
    return 0;
  }
  return count.failures;
}

Reservation ReserveCheck(FailureCount& count, storage::Micros now,
                         const UserServiceOptions& options) {
  if (count.locked_until > now) {
    return Reservation::kRefused;
  }
  const int32_t failed = FailuresAt(count, now, options);
  const storage::Micros lockout =
      now + absl::ToInt64Microseconds(options.lockout_duration);
  if (failed >= options.lockout_attempts) {
    count.locked_until = lockout;
    return Reservation::kLockedNow;
  }
  // The reservation counts as a failure until the check says otherwise, and
  // the one that takes the last attempt is the lockout itself: a process that
  // dies mid-check leaves a lockout that runs out, never an attempt held
  // forever.
  count.failures = failed + 1;
  count.last_failed_at = now;
  count.locked_until = 0;
  if (count.failures >= options.lockout_attempts) {
    count.locked_until = lockout;
    return Reservation::kLastOne;
  }
  return Reservation::kCounted;
}

std::string UnknownIdentifierKey(storage::IdentifierKind kind,
                                 absl::string_view value) {
  const std::string named = absl::StrCat("roster.sign_in_failures.",
                                         static_cast<int>(kind), ":", value);
  std::array<unsigned char, 32> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(named.data()),
                     named.size(), nullptr, 0);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace roster::domain

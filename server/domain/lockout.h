// The lockout rules (DESIGN §3), said once for a user's failed password
// checks and for an identifier that names no user, so that the two answer
// alike and a lockout never tells a stranger that an account exists.
//
// A failure counts until a success, until a lockout runs out, or until
// `lockout_duration` passes without another failure; the one that reaches
// `lockout_attempts` locks for `lockout_duration`.
#ifndef ROSTER_SERVER_DOMAIN_LOCKOUT_H_
#define ROSTER_SERVER_DOMAIN_LOCKOUT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "server/domain/user_operations.h"
#include "storage/user_store.h"

namespace roster::domain {

// One count of failures: a user's columns, or a sign_in_failures row.
struct FailureCount {
  int32_t failures = 0;
  storage::Micros locked_until = 0;  // Locked while now < locked_until.
  storage::Micros last_failed_at = 0;
};

enum class Reservation {
  kRefused,    // Locked: no check, nothing changed.
  kLockedNow,  // Attempts used up without a lockout (left by a lowered
               // --lockout_attempts, or a server from before reservations
               // locked): locked now, and no check.
  kCounted,    // One failure counted before the check.
  kLastOne,    // The failure that locks: counted, and locked before the check.
};

// The failures that still count at `now`: none once a lockout has run out or
// a quiet `lockout_duration` has passed.
int32_t FailuresAt(const FailureCount& count, storage::Micros now,
                   const UserServiceOptions& options);

// Reserves one check at `now`, updating `count` as the Reservation says.
Reservation ReserveCheck(FailureCount& count, storage::Micros now,
                         const UserServiceOptions& options);

// The sign_in_failures key of an identifier that names no user: a digest of
// its kind and value, so the table holds no address in the clear (a guessed
// address can still be hashed and looked up; the users table holds more).
std::string UnknownIdentifierKey(storage::IdentifierKind kind,
                                 absl::string_view value);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_LOCKOUT_H_

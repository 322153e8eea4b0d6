// UserOperations: what every user operation shares — the store and clock it
// runs on, the one path that changes an existing user (MutateUser), the view a
// caller gets back, and the events a change appends. The services in
// user_service.h derive from it. Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_USER_OPERATIONS_H_
#define ROSTER_SERVER_DOMAIN_USER_OPERATIONS_H_

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"
#include "server/domain/events.h"
#include "server/domain/ids.h"
#include "server/domain/user_view.h"
#include "storage/user_store.h"

namespace roster::domain {

struct UserServiceOptions {
  // Wrong passwords before a lockout; also the attempts a fresh user has.
  int32_t lockout_attempts = 10;
  // How long a lockout (or LockUser) lasts.
  absl::Duration lockout_duration = absl::Hours(1);
  // One-time verification codes: how long one is valid, how many guesses it
  // allows, and how many codes one address may be sent per hour.
  absl::Duration verification_code_lifetime = absl::Minutes(10);
  int32_t verification_max_attempts = 3;
  int32_t verification_codes_per_hour = 5;
  // Codes sent per hour to all of one user's addresses, and by the whole
  // service (DESIGN §14).
  int32_t verification_codes_per_user_per_hour = 10;
  int32_t verification_codes_per_hour_total = 1000;
  // Prefix of image_url: the public base URL of the HTTP listener (e.g.
  // "https://roster.example.com"); stored URLs are relative to it.
  std::string public_http_url;
};

class UserOperations {
 public:
  // None is owned; all must outlive the operations.
  UserOperations(storage::UserStore* store, const Clock* clock,
                 const IdGenerator* ids, const EventEncoder* events,
                 UserServiceOptions options);

 protected:
  // The one path that changes an existing user: in one transaction, load it
  // (NOT_FOUND), check `etag` (ABORTED), apply `change`, and, unless nothing
  // changed, release other users' claims on what it newly verified, bump the
  // version and updated_at and store it with its user.updated event.
  absl::StatusOr<UserView> MutateUser(
      const Caller& caller, absl::string_view user_id, absl::string_view etag,
      absl::FunctionRef<absl::Status(storage::WriteTransaction&,
                                     storage::UserRecord&)>
          change);
  // MutateUser's work inside a transaction the caller already holds, for
  // operations that change a user as one step of a larger write. `result` is
  // the user as stored.
  absl::Status MutateUserIn(
      storage::WriteTransaction& txn, const Caller& caller,
      absl::string_view user_id, absl::string_view etag,
      absl::FunctionRef<absl::Status(storage::WriteTransaction&,
                                     storage::UserRecord&)>
          change,
      storage::UserRecord& result);
  // The user by id, as View returns it: INVALID_ARGUMENT for a malformed id,
  // NOT_FOUND.
  absl::StatusOr<UserView> ReadUser(absl::string_view user_id) const;
  // ReadUser for a caller that must not block: `done` runs once with its
  // result, inline or on the store's thread (UserStore::GetUserAsync).
  using ReadUserDone = absl::AnyInvocable<void(absl::StatusOr<UserView>) &&>;
  void ReadUserAsync(absl::string_view user_id, ReadUserDone done) const;
  // The user as callers see it: lockout state, attempts left, etag, the
  // absolute image URL.
  UserView View(storage::UserRecord record) const;
  // Removes other users' unverified claims on every email address and phone
  // number that `after` holds verified and `before` did not: the first to
  // verify a value wins (DESIGN §3). Each affected user gets its own
  // user.updated event in the same transaction.
  absl::Status ReleaseClaims(storage::WriteTransaction& txn,
                             const Caller& caller,
                             const storage::UserRecord& before,
                             const storage::UserRecord& after);
  // Counts one code sent to `address_key` ("email_address:<value>" or
  // "phone_number:<value>") in the durable hourly windows every code shares:
  // per address, per user (when `user_id` is set: many addresses of one
  // account) and for the whole service (the mail and SMS budget).
  // RESOURCE_EXHAUSTED (TOO_MANY_ATTEMPTS) naming the first one exceeded.
  absl::Status CountCodeSend(storage::WriteTransaction& txn,
                             const std::string& address_key,
                             const std::string& user_id,
                             storage::Micros now) const;
  // Deletes one bounded batch with `prune` in its own transaction; how many.
  absl::StatusOr<int64_t> PruneBatch(
      absl::FunctionRef<absl::StatusOr<int64_t>(storage::WriteTransaction&)>
          prune);
  // A new event of `type` about `user_id`, caused by `caller`.
  storage::EventRecord NewEvent(const Caller& caller, const char* type,
                                const std::string& user_id,
                                std::string payload) const;

  storage::UserStore* store_;   // Not owned.
  const Clock* clock_;          // Not owned.
  const IdGenerator* ids_;      // Not owned.
  const EventEncoder* events_;  // Not owned.
  const UserServiceOptions options_;
};

// The image URL clients see: a stored relative URL (/v1/images/…) prefixed
// with the public base URL of the HTTP listener.
std::string AbsoluteImageUrl(absl::string_view public_http_url,
                             absl::string_view stored_url);

// The etag of a user at `version`.
std::string EtagOf(int64_t version);

// How a user is named to them: the primary email address, else the
// username, else the primary phone number; "" when none.
std::string PrimaryIdentifierOf(const storage::UserRecord& user);

// Microseconds since the epoch, as storage keeps time.
storage::Micros ToMicros(absl::Time t);
absl::Time FromMicros(storage::Micros micros);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_USER_OPERATIONS_H_

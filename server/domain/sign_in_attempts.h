// SignInAttemptService: sign-in in steps (DESIGN §10), Clerk's SignIn object
// without account enumeration. An attempt names an identifier; its factors
// (password, a code by email or SMS, a password reset by code) are the same
// for every identifier of a kind, and for an identifier no user holds nothing
// is sent and every factor fails as a wrong one would, after the same work.
//
// Every check reserves one of the attempt's 5 failures before it runs (and
// gives it back on success), so parallel guesses stop exactly at the limit;
// each also counts toward the user's lockout like a password (§3).
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_SIGN_IN_ATTEMPTS_H_
#define ROSTER_SERVER_DOMAIN_SIGN_IN_ATTEMPTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/second_factors.h"
#include "server/domain/session_service.h"
#include "server/domain/user_service.h"

namespace roster::domain {

inline constexpr char kSignInAttemptIdPrefix[] = "sia_";
inline constexpr int32_t kMaxSignInFailures = 5;
inline constexpr absl::Duration kSignInAttemptLifetime = absl::Minutes(10);
inline constexpr char kSignInTicketPrefix[] = "sit_";
inline constexpr absl::Duration kSignInTicketLifetime = absl::Seconds(60);

// Whether `ticket` is kSignInTicketPrefix and 43 base62 characters (256
// bits), as IssueTicket makes them: anything else is refused before a lookup.
bool IsWellFormedSignInTicket(absl::string_view ticket);

namespace internal {
// RESOURCE_EXHAUSTED (TOO_MANY_ATTEMPTS): the attempt's failures are used up.
absl::Status TooManySignInFailures();
}  // namespace internal

// An attempt as the API presents it.
struct SignInAttemptView {
  storage::SignInAttemptRecord record;
  std::vector<std::string> supported_first_factors;
  std::vector<std::string> supported_second_factors;
};

// What a factor check returns: the attempt and, once complete, the session
// and user.
struct SignInStep {
  SignInAttemptView attempt;
  std::optional<NewSession> session;
  std::optional<UserView> user;
};

class SignInAttemptService final : public UserOperations {
 public:
  // None is owned; all must outlive the service.
  SignInAttemptService(storage::UserStore* store, const Clock* clock,
                       const IdGenerator* ids, const EventEncoder* events,
                       UserServiceOptions options, UserServices* users,
                       SessionService* sessions,
                       SecondFactorService* second_factors);

  // A new attempt for `identifier`. INVALID_ARGUMENT when it is no valid
  // email address, phone number or username.
  absl::StatusOr<SignInAttemptView> Start(absl::string_view identifier);
  // Sends the code of `strategy` (nothing for an unknown identifier); in
  // NEEDS_SECOND_FACTOR, a phone_code to the second-factor phone.
  absl::StatusOr<SignInAttemptView> Prepare(const Caller& caller,
                                            absl::string_view attempt_id,
                                            absl::string_view strategy);
  // Checks `secret` (a password or a code) for `strategy`. Slow for
  // passwords (argon2id): callers run it on the hash pool.
  absl::StatusOr<SignInStep> Attempt(const Caller& caller,
                                     absl::string_view attempt_id,
                                     absl::string_view strategy,
                                     absl::string_view secret);
  // Ends a sign-in whose first factor (SignIn's password) `user_id` passed
  // for `identifier`: a session, or, for a user with a second factor, a new
  // attempt in NEEDS_SECOND_FACTOR and no session.
  absl::StatusOr<SignInStep> CompleteSignIn(const Caller& caller,
                                            absl::string_view identifier,
                                            absl::string_view user_id);
  // Sets the new password (already hashed by HashNewPassword) after a reset
  // code, and completes the sign-in.
  absl::StatusOr<SignInStep> ResetPassword(const Caller& caller,
                                           absl::string_view attempt_id,
                                           const std::string& password_hash,
                                           bool sign_out_of_other_sessions);
  // The argon2id hash of a reset's new password, checked against the
  // attempt's user's identifiers. ATTEMPT_STATE unless a reset code was
  // right.
  absl::StatusOr<std::string> HashNewPassword(absl::string_view attempt_id,
                                              absl::string_view password);

  // A new sign-in ticket for `user_id`, stored (as a digest) in `txn`: single
  // use, valid kSignInTicketLifetime. For flows that proved who the user is
  // (social sign-in, the portal); the app exchanges it with SignInWithTicket.
  absl::StatusOr<std::string> IssueTicket(storage::WriteTransaction& txn,
                                          absl::string_view user_id,
                                          absl::Time now) const;
  // The same in a transaction of its own.
  absl::StatusOr<std::string> IssueTicket(absl::string_view user_id);
  // Uses up `ticket` and completes the sign-in it stands for: a session, or
  // NEEDS_SECOND_FACTOR for a user with one. UNAUTHENTICATED (TICKET_INVALID)
  // for a ticket that is malformed, unknown, used or expired.
  absl::StatusOr<SignInStep> SignInWithTicket(const Caller& caller,
                                              absl::string_view ticket);

  // Deletes up to `max_rows` attempts, and as many tickets, that expired more
  // than an hour ago.
  absl::StatusOr<int64_t> Prune(int64_t max_rows);

 private:
  SignInAttemptView ViewOf(storage::SignInAttemptRecord record,
                           std::vector<std::string> second_factors = {}) const;
  // Attempt for `totp`, `backup_code` and a second-factor `phone_code`: the
  // check and the use of the code are one transaction, so a code sent twice
  // in parallel signs in once.
  absl::StatusOr<SignInStep> AttemptSecondFactor(const Caller& caller,
                                                 absl::string_view attempt_id,
                                                 absl::string_view strategy,
                                                 absl::string_view code);
  // The attempt at `status`, else ATTEMPT_STATE; NOT_FOUND; expired attempts
  // are ATTEMPT_STATE.
  absl::StatusOr<storage::SignInAttemptRecord> LoadOpen(
      storage::WriteTransaction& txn, absl::string_view attempt_id,
      storage::SignInAttemptStatus status, absl::Time now,
      std::optional<storage::SignInAttemptStatus> or_status =
          std::nullopt) const;
  // Prepare in NEEDS_SECOND_FACTOR: a phone_code to the user's second-factor
  // phone (purpose second_factor), in `txn`.
  absl::Status PrepareSecondFactor(storage::WriteTransaction& txn,
                                   const Caller& caller,
                                   storage::SignInAttemptRecord& attempt,
                                   absl::string_view strategy,
                                   const std::string& code, storage::Micros now,
                                   SignInAttemptView& view);
  // Whether the attempt is open in NEEDS_SECOND_FACTOR (phone_code names a
  // factor of either step).
  bool NeedsSecondFactor(absl::string_view attempt_id);
  // Ends the attempt with a session for its user, in `txn`; or, after a first
  // factor of a user with a second one, moves it to NEEDS_SECOND_FACTOR.
  // `stored`: whether the attempt is a row already; one that completes at
  // once (SignIn, a ticket) is written only when a second factor is next.
  absl::Status Complete(storage::WriteTransaction& txn, const Caller& caller,
                        absl::Time now, storage::SignInAttemptRecord& attempt,
                        SignInStep& step, bool stored = true);

  UserServices* users_;                  // Not owned.
  SessionService* sessions_;             // Not owned.
  SecondFactorService* second_factors_;  // Not owned.
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_SIGN_IN_ATTEMPTS_H_

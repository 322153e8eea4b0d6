// Signing in with an identifier and a password, and re-checking a signed-in
// user's password. Both count toward the lockout like
// BackendUsers.VerifyPassword, and both are slow on purpose (argon2id): callers
// run them on the hash pool.
#ifndef ROSTER_SERVER_DOMAIN_SIGN_IN_H_
#define ROSTER_SERVER_DOMAIN_SIGN_IN_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/session_service.h"
#include "server/domain/user_service.h"

namespace roster::domain {

// A new session for the user whose email address, phone number or username is
// `identifier` and whose password is `password`. An unknown identifier, a user
// without a password and a wrong password are all UNAUTHENTICATED
// (PASSWORD_INCORRECT) after one argon2id check each; PERMISSION_DENIED
// (USER_BANNED, USER_LOCKED) as BeginPasswordAttempt.
absl::StatusOr<NewSession> SignIn(UserServices& users, SessionService& sessions,
                                  const Caller& caller,
                                  absl::string_view identifier,
                                  absl::string_view password);

// One counted password check: reserves an attempt, verifies `password` against
// the stored hash of any supported kind, upgrades a non-argon2id hash on
// success, records the verdict. Whether it matched; errors as
// BeginPasswordAttempt.
absl::StatusOr<bool> CheckPasswordAttempt(UserServices& users,
                                          const Caller& caller,
                                          absl::string_view user_id,
                                          absl::string_view password,
                                          bool sign_in);

// OK when `password` is the user's current one (counted as an attempt);
// UNAUTHENTICATED (PASSWORD_INCORRECT) otherwise. A user without a password
// passes with an empty `password`.
absl::Status CheckCurrentPassword(UserServices& users, const Caller& caller,
                                  absl::string_view user_id,
                                  absl::string_view password);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_SIGN_IN_H_

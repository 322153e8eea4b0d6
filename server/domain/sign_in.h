// Signing in with an identifier and a password, and re-checking a signed-in
// user's password. Both count toward the lockout like
// BackendUsers.VerifyPassword, and both are slow on purpose (argon2id): callers
// run them on the hash pool.
#ifndef ROSTER_SERVER_DOMAIN_SIGN_IN_H_
#define ROSTER_SERVER_DOMAIN_SIGN_IN_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/user_service.h"

namespace roster::domain {

// An identifier as sign-in reads it: a kind (an email address contains `@`;
// a phone number starts with `+` or a digit; else a username) and the value
// normalised for that kind.
struct SignInIdentifier {
  storage::IdentifierKind kind = storage::IdentifierKind::kUsername;
  std::string value;
};
// INVALID_ARGUMENT when `identifier` is no valid value of its kind.
absl::StatusOr<SignInIdentifier> ParseSignInIdentifier(
    absl::string_view identifier);
// The id of the user who may sign in with `identifier` (a verified email
// address or phone number, or a username), or "" when none.
absl::StatusOr<std::string> FindSignInUser(UserServices& users,
                                           const SignInIdentifier& identifier);

// The id of the user whose email address, phone number or username is
// `identifier` and whose password is `password`; the caller completes the
// sign-in (SignInAttemptService::CompleteSignIn: a session, or a second
// factor first). An unknown identifier, a user without a password and a wrong
// password are all UNAUTHENTICATED (PASSWORD_INCORRECT) after one argon2id
// check each, a banned user's wrong password too; PERMISSION_DENIED
// (USER_LOCKED) while locked, and (USER_BANNED) for a banned user's right
// password.
absl::StatusOr<std::string> CheckSignInPassword(UserServices& users,
                                                const Caller& caller,
                                                absl::string_view identifier,
                                                absl::string_view password);

// One counted password check: reserves an attempt, verifies `password` against
// the stored hash of any supported kind, upgrades a non-argon2id hash on
// success, records the verdict. Whether it matched; errors as
// BeginPasswordAttempt, except that with `sign_in` a banned user is checked
// like anyone and only a match is PERMISSION_DENIED (USER_BANNED).
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

// OAuthSignInService: what social sign-in does to users (DESIGN §11) once a
// provider has said who the user is. Each outcome is one transaction: the
// user found, linked or created (user.created / user.updated), and with it
// the sign-in ticket the app exchanges.
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_OAUTH_SIGN_IN_H_
#define ROSTER_SERVER_DOMAIN_OAUTH_SIGN_IN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/sign_in_attempts.h"
#include "server/domain/sign_up.h"
#include "server/domain/user_operations.h"

namespace roster::domain {

// The provider's account, as its ID token or userinfo described it.
struct ProviderAccount {
  std::string provider;  // oauth_google, oauth_custom_acme, …
  std::string provider_user_id;
  std::string email;  // Verified by the provider; empty when it did not.
  std::string first_name;
  std::string last_name;
  std::string username;
  std::string image_url;
  std::vector<std::string> scopes;
};

// The user a social sign-in reached.
struct OAuthOutcome {
  std::string user_id;
  bool created = false;  // A new user (a sign-up).
  bool linked = false;   // The account was newly linked to the user.
  std::string ticket;    // SIGN_IN only: for SignInWithTicket.
};

class OAuthSignInService final : public UserOperations {
 public:
  // None is owned; all must outlive the service.
  OAuthSignInService(storage::UserStore* store, const Clock* clock,
                     const IdGenerator* ids, const EventEncoder* events,
                     UserServiceOptions options,
                     const SignInAttemptService* tickets, SignUpMode mode);

  // SIGN_IN: the user the account is linked to; else the one user who has
  // verified the provider's verified email (the account is linked to them);
  // else, when sign-up is public, a new user with the account and that email
  // (strategy from_<provider>). A ticket for that user. PERMISSION_DENIED
  // (USER_BANNED) for a banned user, (SIGN_UP_RESTRICTED) when a new user
  // would be needed and sign-up is not public.
  absl::StatusOr<OAuthOutcome> SignIn(const Caller& caller,
                                      const ProviderAccount& account);

  // CONNECT: links the account to `user_id` (who is signed in). Linking it
  // again to the same user changes nothing. ALREADY_EXISTS
  // (IDENTIFIER_EXISTS) when another user holds it.
  absl::StatusOr<OAuthOutcome> Connect(const Caller& caller,
                                       absl::string_view user_id,
                                       const ProviderAccount& account);

 private:
  // `account` as a record of `user_id`, verified by the provider.
  storage::ExternalAccountRecord NewAccount(const ProviderAccount& account,
                                            absl::string_view user_id,
                                            storage::Micros now) const;
  // Adds the account to `user`, and its email, verified, unless another
  // user has verified that address.
  absl::Status Link(storage::WriteTransaction& txn,
                    const ProviderAccount& account, storage::Micros now,
                    storage::UserRecord& user) const;
  absl::Status CreateUser(storage::WriteTransaction& txn, const Caller& caller,
                          const ProviderAccount& account, storage::Micros now,
                          std::string& user_id);

  const SignInAttemptService* tickets_;
  const SignUpMode mode_;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_OAUTH_SIGN_IN_H_

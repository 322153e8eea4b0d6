// OAuthSignInService: what social sign-in does to users (DESIGN §11) once a
// provider has said who the user is. Each outcome is one transaction: the
// user found, linked or created (user.created / user.updated), and with it
// the sign-in ticket the app exchanges.
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_OAUTH_SIGN_IN_H_
#define ROSTER_SERVER_DOMAIN_OAUTH_SIGN_IN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/data_keys.h"
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
  // The provider's tokens: kept sealed (DataKeys) when data keys are loaded.
  std::string access_token;
  std::string refresh_token;
  std::optional<absl::Time> token_expire_at;
};

// A provider's tokens for one external account, opened.
struct ProviderTokensView {
  std::string external_account_id;
  std::string access_token;
  std::string refresh_token;
  std::optional<absl::Time> expire_at;
  std::vector<std::string> scopes;
};

// What ClaimRefresh found: the tokens as kept, and whether the caller now
// holds the right to refresh them.
struct RefreshClaim {
  ProviderTokensView tokens;
  bool claimed = false;
};

// The user a social sign-in reached.
struct OAuthOutcome {
  std::string user_id;
  bool created = false;  // A new user (a sign-up).
  bool linked = false;   // The account was newly linked to the user.
  std::string ticket;    // SIGN_IN only: for SignInWithTicket.
  // A social sign-up that needs fields the provider did not give: no user
  // yet, and the ticket stands for this sign-up.
  std::string sign_up_id;
};

class OAuthSignInService final : public UserOperations {
 public:
  // None is owned; all must outlive the service.
  OAuthSignInService(storage::UserStore* store, const Clock* clock,
                     const IdGenerator* ids, const EventEncoder* events,
                     UserServiceOptions options,
                     const SignInAttemptService* tickets,
                     const SignUpOptions& sign_up, const DataKeys* keys);

  // SIGN_IN: the user the account is linked to (their record of it brought
  // up to what the provider says now: email, names, username, picture and
  // scopes, with a user.updated event when any changed); else the one user who
  // has verified the provider's verified email (the account is linked to them);
  // else, when sign-up is public, a new user with the account and that email
  // (strategy from_<provider>), who accepted the terms now when
  // `legal_accepted`. A ticket for that user; or, when --sign_up_required
  // asks for more than the provider gave (a username, a phone number, a
  // name), no user but a sign-up holding the account and what it gave, and a
  // ticket standing for it (SignInWithTicket answers SIGN_UP_INCOMPLETE with
  // its id, to complete with UpdateSignUp). PERMISSION_DENIED (USER_BANNED)
  // for a banned user, (SIGN_UP_RESTRICTED) when a new user would be needed
  // and sign-up is not public; FAILED_PRECONDITION (SIGN_UP_INCOMPLETE) when
  // one would be needed without `legal_accepted` and sign-up requires it.
  absl::StatusOr<OAuthOutcome> SignIn(const Caller& caller,
                                      const ProviderAccount& account,
                                      bool legal_accepted);

  // CONNECT: links the account to `user_id` (who is signed in). Linking it
  // again to the same user refreshes it as SIGN_IN does. ALREADY_EXISTS
  // (IDENTIFIER_EXISTS) when another user holds it.
  absl::StatusOr<OAuthOutcome> Connect(const Caller& caller,
                                       absl::string_view user_id,
                                       const ProviderAccount& account);

  // The tokens kept for `user_id`'s account at `provider` (the first linked,
  // when several) and, when `needs_refresh` says they need it, the right to
  // refresh them until `now + lease`, unless another caller (another replica)
  // holds it still: replicas take turns on the user's row, so of two that
  // find the same tokens expired exactly one claims them. The holder calls
  // WriteTokens (which ends the lease) or ReleaseRefresh. NOT_FOUND for no
  // such user, account or kept tokens; FAILED_PRECONDITION
  // (DATA_KEYS_MISSING) without data keys.
  absl::StatusOr<RefreshClaim> ClaimRefresh(
      absl::string_view user_id, absl::string_view provider, absl::Time now,
      absl::Duration lease,
      absl::FunctionRef<bool(const ProviderTokensView&)> needs_refresh);
  // Ends a lease whose refresh failed, so that another caller may try.
  absl::Status ReleaseRefresh(absl::string_view user_id,
                              absl::string_view external_account_id);
  // Replaces them (after a refresh). NOT_FOUND when the account is gone.
  absl::Status WriteTokens(absl::string_view user_id,
                           const ProviderTokensView& tokens);

 private:
  // A kept token row and what it holds, opened.
  struct KeptTokens {
    storage::OAuthTokenRecord record;
    ProviderTokensView tokens;
  };
  // FAILED_PRECONDITION without data keys; INVALID_ARGUMENT for a bad id.
  absl::Status CheckTokensKept(absl::string_view user_id) const;
  absl::StatusOr<KeptTokens> ReadTokensIn(storage::WriteTransaction& txn,
                                          absl::string_view user_id,
                                          absl::string_view provider) const;
  // `account` as a record of `user_id`, verified by the provider.
  storage::ExternalAccountRecord NewAccount(const ProviderAccount& account,
                                            absl::string_view user_id,
                                            storage::Micros now) const;
  // Adds the account to `user`, and its email, verified, unless another
  // user has verified that address.
  absl::Status Link(storage::WriteTransaction& txn,
                    const ProviderAccount& account, storage::Micros now,
                    storage::UserRecord& user) const;
  // Inserts a new user holding the account; `user` is it, as stored.
  absl::Status CreateUser(storage::WriteTransaction& txn, const Caller& caller,
                          const ProviderAccount& account, bool legal_accepted,
                          storage::Micros now, storage::UserRecord& user);

  // A sign-up holding the account and what the provider gave, when it
  // still needs fields; nullopt when it needs none (a user is created).
  absl::StatusOr<std::optional<storage::SignUpRecord>> PendingSignUp(
      const ProviderAccount& account, bool legal_accepted,
      absl::Time now) const;

  // `tokens` sealed for `external_account_id` as a row of `user_id`;
  // nullopt without data keys or an access token (never kept in clear).
  absl::StatusOr<std::optional<storage::OAuthTokenRecord>> SealTokens(
      absl::string_view user_id, const ProviderTokensView& tokens) const;
  // Seals and stores them.
  absl::Status PutTokens(storage::WriteTransaction& txn,
                         absl::string_view user_id,
                         const ProviderTokensView& tokens) const;
  // The account id of (provider, provider_user_id) in `user`.
  static std::string AccountIdOf(const storage::UserRecord& user,
                                 const ProviderAccount& account);

  const SignInAttemptService* tickets_;
  const SignUpMode mode_;
  const std::vector<std::string> required_fields_;
  const absl::Duration sign_up_lifetime_;
  // --sign_up_required lists legal_accepted: the one requirement a provider
  // cannot meet but the person starting the sign-in can.
  const bool legal_acceptance_required_;
  const DataKeys* keys_;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_OAUTH_SIGN_IN_H_

// A social sign-in from start to callback (DESIGN §11). Start checks the app's
// redirect URL against --allowed_redirect_urls, keeps a state (random, single
// use, 10 minutes) with a PKCE S256 verifier, the OIDC nonce, the redirect URL
// and the action, and returns the provider's authorization URL. Callback
// takes the state once, exchanges the code, verifies who the user is, lets
// OAuthSignInService sign in, link or sign up, and sends the browser back to
// the app with `roster_ticket` or `roster_error`.
//
// Thread-safe.
#ifndef ROSTER_SERVER_OAUTH_OAUTH_FLOW_H_
#define ROSTER_SERVER_OAUTH_OAUTH_FLOW_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"
#include "server/domain/oauth_sign_in.h"
#include "server/net/transport.h"
#include "server/oauth/provider_client.h"
#include "server/oauth/providers.h"
#include "storage/user_store.h"

namespace roster::oauth {

inline constexpr absl::Duration kStateLifetime = absl::Minutes(10);
inline constexpr size_t kMaxRedirectUrlBytes = 2048;

enum class OAuthAction { kSignIn, kConnect };

struct OAuthFlowOptions {
  // <public_http_url>/v1/oauth/callback: the redirect URI registered with
  // every provider.
  std::string callback_url;
  // Origins plus path prefixes an app may be sent back to.
  std::vector<std::string> allowed_redirect_urls;
  net::Transport transport;
};

// Where the callback sends the browser: a 303 to `location`, or, when there
// is no app to return to (an unknown state), a 400 with `message`.
struct CallbackAnswer {
  int status = 303;
  std::string location;
  std::string message;
};

// NOT_FOUND (PROVIDER_NOT_CONFIGURED) naming the request's `provider` field:
// the one answer for a provider that is not configured, or for none at all.
absl::Status ProviderNotConfigured();

// INVALID_ARGUMENT naming the entry for an --allowed_redirect_urls entry that
// is not an http(s) origin with an optional path (no query or fragment).
absl::Status CheckAllowedRedirectUrls(const std::vector<std::string>& urls);

// Whether `url` has the origin of an `allowed` entry and a path under its
// path, matching whole segments (/app allows /app/x, not /application).
bool RedirectUrlAllowed(const std::vector<std::string>& allowed,
                        absl::string_view url);

class OAuthFlow {
 public:
  // `store`, `clock` and `accounts` are not owned and must outlive the flow.
  OAuthFlow(storage::UserStore* store, const domain::Clock* clock,
            domain::OAuthSignInService* accounts,
            const std::vector<OAuthProvider>& providers,
            OAuthFlowOptions options);

  // The provider's authorization URL for a new state. `user_id` is the
  // signed-in caller for kConnect; `legal_accepted` (kSignIn) is kept for
  // the user the sign-in may create. INVALID_ARGUMENT
  // (REDIRECT_URL_NOT_ALLOWED), NOT_FOUND (PROVIDER_NOT_CONFIGURED),
  // UNAVAILABLE (OAUTH_PROVIDER_ERROR) when discovery fails, and
  // DEADLINE_EXCEEDED when `deadline` (the caller's) passes while it waits
  // for another call's discovery: the caller has left, and its thread is let
  // go.
  absl::StatusOr<std::string> Start(
      absl::string_view provider, absl::string_view redirect_url,
      OAuthAction action, absl::string_view user_id, bool legal_accepted,
      absl::Time deadline = absl::InfiniteFuture());

  // The provider's return: its `code` and `state`, or its `error`.
  CallbackAnswer Callback(const domain::Caller& caller, absl::string_view code,
                          absl::string_view state, absl::string_view error);

  // The access token kept for `user_id`'s account at `provider`, refreshed
  // first (and kept again) when it expires within 30 s and a refresh token
  // was given. Calls for one account take turns, on this replica and across
  // replicas (a lease in the token's row), so concurrent callers share one
  // refresh: providers that rotate refresh tokens refuse a used one.
  // Errors as OAuthSignInService::ClaimRefresh's, NOT_FOUND
  // (PROVIDER_NOT_CONFIGURED), UNAVAILABLE (OAUTH_PROVIDER_ERROR) when the
  // refresh fails, UNAVAILABLE when another replica's lease outlasts twice
  // its length, and DEADLINE_EXCEEDED when `deadline` (the caller's) passes
  // while it waits for another call's refresh. A refresh this call started
  // runs to its end, past `deadline`: the provider may have spent the
  // refresh token, and only its answer holds the new one.
  absl::StatusOr<domain::ProviderTokensView> AccessToken(
      absl::string_view user_id, absl::string_view provider,
      absl::Time deadline = absl::InfiniteFuture());

  // Deletes up to `max_rows` states that expired over an hour ago.
  absl::StatusOr<int64_t> Prune(int64_t max_rows);

 private:
  // The app's URL with `name`=`value` added to its query.
  static std::string WithParameter(const std::string& url,
                                   absl::string_view name,
                                   absl::string_view value);
  // The sign-in's outcome once the state is known: a ticket, or a reason.
  absl::StatusOr<std::string> Finish(const domain::Caller& caller,
                                     const storage::OAuthStateRecord& state,
                                     absl::string_view code);

  // Waits until no call refreshes `account`, then claims it; false if
  // `deadline` passes first. Release gives a claim up.
  bool Claim(const std::string& account, absl::Time deadline);
  void Release(const std::string& account);

  storage::UserStore* const store_;
  const domain::Clock* const clock_;
  domain::OAuthSignInService* const accounts_;
  const OAuthFlowOptions options_;
  std::map<std::string, std::unique_ptr<ProviderClient>, std::less<>>
      providers_;
  absl::Mutex claims_mu_;
  // "<user id>/<provider>" of each AccessToken call in progress.
  absl::flat_hash_set<std::string> claimed_ ABSL_GUARDED_BY(claims_mu_);
  absl::CondVar released_;
};

}  // namespace roster::oauth

#endif  // ROSTER_SERVER_OAUTH_OAUTH_FLOW_H_

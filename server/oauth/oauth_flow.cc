#include "server/oauth/oauth_flow.h"

#include <sodium.h>

#include <optional>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "server/domain/errors.h"
#include "server/domain/ids.h"
#include "server/domain/urls.h"
#include "server/net/http_client.h"

namespace roster::oauth {
namespace {

namespace reason = domain::reason;

constexpr int kStateLength = 43;     // 256 bits of base62.
constexpr int kVerifierLength = 64;  // RFC 7636 §4.1: 43 to 128.
constexpr int kNonceLength = 32;
// An access token this close to its expiry is refreshed before it is handed
// out, so the caller gets one that still works when it uses it.
constexpr absl::Duration kRefreshMargin = absl::Seconds(30);
// How long one replica may hold the right to refresh an account's tokens:
// longer than a refresh can take (the transport's 20 s), so a lease runs out
// only when its holder died. The others look again every kRefreshPoll.
constexpr absl::Duration kRefreshLease = absl::Seconds(25);
constexpr absl::Duration kRefreshPoll = absl::Milliseconds(50);

// scheme://host[:port] and the path, of a URL with no userinfo, query or
// fragment beyond what `query_allowed` permits.
struct UrlParts {
  std::string origin;
  std::string path;
};

std::optional<UrlParts> Split(absl::string_view url, bool query_allowed) {
  if (url.empty() || url.size() > kMaxRedirectUrlBytes ||
      !(absl::StartsWith(url, "https://") ||
        absl::StartsWith(url, "http://"))) {
    return std::nullopt;
  }
  for (const char c : url) {
    // No spaces, controls, backslashes (which browsers read as slashes) or
    // fragments; no query in an allowlist entry.
    if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' ||
        (c == '?' && !query_allowed)) {
      return std::nullopt;
    }
  }
  const size_t scheme_end = url.find("://") + 3;
  const size_t path_start = url.find_first_of("/?", scheme_end);
  const absl::string_view authority =
      url.substr(scheme_end, path_start == absl::string_view::npos
                                 ? absl::string_view::npos
                                 : path_start - scheme_end);
  if (authority.empty() || absl::StrContains(authority, '@')) {
    return std::nullopt;  // userinfo could hide the real host.
  }
  UrlParts parts;
  parts.origin = absl::AsciiStrToLower(url.substr(0, scheme_end));
  absl::StrAppend(&parts.origin, absl::AsciiStrToLower(authority));
  absl::string_view rest = path_start == absl::string_view::npos
                               ? absl::string_view("/")
                               : url.substr(path_start);
  rest = rest.substr(0, rest.find('?'));
  parts.path = rest.empty() ? "/" : std::string(rest);
  // A dot segment could climb out of an allowed prefix.
  if (absl::StrContains(parts.path, "/./") ||
      absl::StrContains(parts.path, "/../") ||
      absl::EndsWith(parts.path, "/..") || absl::EndsWith(parts.path, "/.")) {
    return std::nullopt;
  }
  return parts;
}

// base64url (no padding) of SHA-256(`verifier`): RFC 7636's S256 challenge.
std::string S256Challenge(const std::string& verifier) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest,
                     reinterpret_cast<const unsigned char*>(verifier.data()),
                     verifier.size());
  char encoded[sodium_base64_ENCODED_LEN(
      sizeof(digest), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(encoded, sizeof(encoded), digest, sizeof(digest),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return encoded;
}

bool IsWellFormedState(absl::string_view state) {
  return state.size() == static_cast<size_t>(kStateLength) &&
         absl::c_all_of(state,
                        [](unsigned char c) { return absl::ascii_isalnum(c); });
}

// The caller's deadline passed while another call refreshed: its thread is
// wanted elsewhere, and the caller is no longer listening.
absl::Status CallerGaveUp() {
  return absl::DeadlineExceededError(
      "the call's deadline passed while another call refreshed the "
      "provider's tokens");
}

absl::Status ProviderError(const absl::Status& cause) {
  return domain::Error(absl::StatusCode::kUnavailable,
                       reason::kOAuthProviderError, cause.message());
}

}  // namespace

absl::Status ProviderNotConfigured() {
  return domain::Error(absl::StatusCode::kNotFound,
                       reason::kProviderNotConfigured,
                       "no such provider is configured",
                       {{"provider", "is not a configured provider"}});
}

absl::Status CheckAllowedRedirectUrls(const std::vector<std::string>& urls) {
  for (size_t i = 0; i < urls.size(); ++i) {
    if (!Split(urls[i], /*query_allowed=*/false).has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allowed_redirect_urls entry ", i + 1, " (", urls[i],
                       ") is not an http(s) origin with an optional path"));
    }
  }
  return absl::OkStatus();
}

OAuthFlow::OAuthFlow(storage::UserStore* store, const domain::Clock* clock,
                     domain::OAuthSignInService* accounts,
                     const std::vector<OAuthProvider>& providers,
                     OAuthFlowOptions options)
    : store_(store),
      clock_(clock),
      accounts_(accounts),
      options_(std::move(options)) {
  for (const OAuthProvider& provider : providers) {
    providers_.emplace(provider.id, std::make_unique<ProviderClient>(
                                        provider, options_.transport, clock));
  }
}

bool RedirectUrlAllowed(const std::vector<std::string>& allowed_urls,
                        absl::string_view url) {
  const std::optional<UrlParts> target = Split(url, /*query_allowed=*/true);
  if (!target.has_value()) {
    return false;
  }
  for (const std::string& allowed : allowed_urls) {
    const std::optional<UrlParts> entry = Split(allowed, false);
    if (!entry.has_value() || entry->origin != target->origin) {
      continue;
    }
    // A prefix matches whole segments: /app allows /app and /app/x, not
    // /application.
    const std::string& prefix = entry->path;
    if (target->path == prefix ||
        (absl::StartsWith(target->path, prefix) &&
         (absl::EndsWith(prefix, "/") || target->path[prefix.size()] == '/'))) {
      return true;
    }
  }
  return false;
}

std::string OAuthFlow::WithParameter(const std::string& url,
                                     absl::string_view name,
                                     absl::string_view value) {
  return absl::StrCat(url, absl::StrContains(url, '?') ? "&" : "?", name, "=",
                      net::UrlEncode(std::string(value)));
}

absl::StatusOr<std::string> OAuthFlow::Start(absl::string_view provider,
                                             absl::string_view redirect_url,
                                             OAuthAction action,
                                             absl::string_view user_id,
                                             bool legal_accepted,
                                             absl::Time deadline) {
  const auto client = providers_.find(provider);
  if (client == providers_.end()) {
    return ProviderNotConfigured();
  }
  if (!RedirectUrlAllowed(options_.allowed_redirect_urls, redirect_url)) {
    return domain::Error(
        absl::StatusCode::kInvalidArgument, reason::kRedirectUrlNotAllowed,
        "redirect_url is not allowed",
        {{"redirect_url", "must match one of --allowed_redirect_urls"}});
  }
  absl::StatusOr<std::string> endpoint =
      client->second->AuthorizationEndpoint(deadline);
  if (absl::IsDeadlineExceeded(endpoint.status())) {
    return endpoint.status();  // The caller left; the provider did not fail.
  }
  if (!endpoint.ok()) {
    return ProviderError(endpoint.status());
  }
  domain::SystemRandom random;
  const std::string state = domain::NewSecret(random, "", kStateLength);
  storage::OAuthStateRecord record;
  record.digest = domain::Fingerprint(state);
  record.provider = std::string(provider);
  record.action = action == OAuthAction::kConnect ? "connect" : "sign_in";
  record.user_id = std::string(user_id);
  record.legal_accepted = action == OAuthAction::kSignIn && legal_accepted;
  record.redirect_url = std::string(redirect_url);
  record.code_verifier = domain::NewSecret(random, "", kVerifierLength);
  record.nonce = domain::NewSecret(random, "", kNonceLength);
  const absl::Time now = clock_->Now();
  record.created_at = domain::ToMicros(now);
  record.expire_at = domain::ToMicros(now + kStateLifetime);
  absl::Status stored = store_->Write([&](storage::WriteTransaction& txn) {
    return txn.PutOAuthState(record);
  });
  if (!stored.ok()) {
    return stored;
  }
  const OAuthProvider& config = client->second->provider();
  std::vector<std::pair<std::string, std::string>> query = {
      {"response_type", "code"},
      {"client_id", config.client_id},
      {"redirect_uri", options_.callback_url},
      {"scope", absl::StrJoin(config.scopes, " ")},
      {"state", state},
      {"code_challenge", S256Challenge(record.code_verifier)},
      {"code_challenge_method", "S256"}};
  if (config.openid_connect) {
    query.emplace_back("nonce", record.nonce);
  }
  return absl::StrCat(*endpoint, absl::StrContains(*endpoint, '?') ? "&" : "?",
                      net::FormEncode(query));
}

absl::StatusOr<std::string> OAuthFlow::Finish(
    const domain::Caller& caller, const storage::OAuthStateRecord& state,
    absl::string_view code) {
  const auto client = providers_.find(state.provider);
  if (client == providers_.end()) {  // Configured away since the start.
    return domain::Error(absl::StatusCode::kNotFound,
                         reason::kProviderNotConfigured,
                         "the provider is no longer configured");
  }
  if (code.empty() || code.size() > 4096) {
    return ProviderError(absl::InvalidArgumentError("no code came back"));
  }
  absl::StatusOr<ProviderTokens> tokens =
      client->second->ExchangeCode(std::string(code), options_.callback_url,
                                   state.code_verifier, clock_->Now());
  if (!tokens.ok()) {
    return ProviderError(tokens.status());
  }
  absl::StatusOr<ProviderIdentity> identity =
      client->second->Identify(*tokens, state.nonce, clock_->Now());
  if (!identity.ok()) {
    return ProviderError(identity.status());
  }
  domain::ProviderAccount account;
  account.provider = state.provider;
  account.provider_user_id = identity->provider_user_id;
  account.email = identity->email;
  account.first_name = identity->first_name;
  account.last_name = identity->last_name;
  account.username = identity->username;
  account.image_url = identity->image_url;
  account.scopes = tokens->scopes;
  account.access_token = tokens->access_token;
  account.refresh_token = tokens->refresh_token;
  account.token_expire_at = tokens->expire_at;
  absl::StatusOr<domain::OAuthOutcome> outcome =
      state.action == "connect"
          ? accounts_->Connect(caller, state.user_id, account)
          : accounts_->SignIn(caller, account, state.legal_accepted);
  if (!outcome.ok()) {
    return outcome.status();
  }
  return outcome->ticket;
}

CallbackAnswer OAuthFlow::Callback(const domain::Caller& caller,
                                   absl::string_view code,
                                   absl::string_view state,
                                   absl::string_view error) {
  CallbackAnswer answer;
  auto unknown_state = [&answer] {
    answer.status = 400;
    answer.message = reason::kOAuthStateInvalid;
    return answer;
  };
  if (!IsWellFormedState(state)) {
    return unknown_state();
  }
  absl::StatusOr<std::optional<storage::OAuthStateRecord>> taken = std::nullopt;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        taken = txn.TakeOAuthState(domain::Fingerprint(state));
        return taken.status();
      });
  if (!written.ok()) {
    answer.status = 503;
    answer.message = "UNAVAILABLE";
    return answer;
  }
  if (!taken->has_value()) {
    return unknown_state();  // Forged, or used already.
  }
  const storage::OAuthStateRecord& record = **taken;
  auto fail = [&](absl::string_view why) {
    answer.location = WithParameter(record.redirect_url, "roster_error", why);
    return answer;
  };
  if (domain::ToMicros(clock_->Now()) >= record.expire_at) {
    return fail(reason::kOAuthStateInvalid);
  }
  if (!error.empty()) {
    answer.message =
        absl::StrCat("the provider refused: ", error.substr(0, 64));
    return fail(reason::kOAuthProviderError);
  }
  absl::StatusOr<std::string> ticket = Finish(caller, record, code);
  if (!ticket.ok()) {
    answer.message = std::string(ticket.status().message());
    const std::string why = domain::ReasonOf(ticket.status());
    return fail(why.empty() ? "INTERNAL" : why);
  }
  answer.location = ticket->empty() ? record.redirect_url
                                    : WithParameter(record.redirect_url,
                                                    "roster_ticket", *ticket);
  return answer;
}

absl::StatusOr<domain::ProviderTokensView> OAuthFlow::AccessToken(
    absl::string_view user_id, absl::string_view provider,
    absl::Time deadline) {
  const auto client = providers_.find(provider);
  if (client == providers_.end()) {
    return ProviderNotConfigured();
  }
  // Callers on this replica share one refresh; replicas take turns through
  // the lease that ClaimRefresh keeps in the database.
  const std::string account = absl::StrCat(user_id, "/", provider);
  if (!Claim(account, deadline)) {
    return CallerGaveUp();
  }
  const absl::Cleanup release = [&] { Release(account); };
  // Fresh for another half minute, or no way to refresh: as it is.
  const auto needs_refresh = [this](const domain::ProviderTokensView& kept) {
    return kept.expire_at.has_value() && !kept.refresh_token.empty() &&
           clock_->Now() + kRefreshMargin >= *kept.expire_at;
  };
  absl::StatusOr<domain::RefreshClaim> claim;
  // Bounded by the lease: by then its holder has written or died.
  const int polls = 2 * static_cast<int>(kRefreshLease / kRefreshPoll);
  for (int poll = 0;; ++poll) {
    claim = accounts_->ClaimRefresh(user_id, provider, clock_->Now(),
                                    kRefreshLease, needs_refresh);
    if (!claim.ok() || claim->claimed || !needs_refresh(claim->tokens)) {
      break;
    }
    if (poll == polls) {
      return absl::UnavailableError(
          "another replica is refreshing the provider's tokens; try again");
    }
    if (absl::Now() + kRefreshPoll >= deadline) {
      return CallerGaveUp();
    }
    absl::SleepFor(kRefreshPoll);
  }
  if (!claim.ok()) {
    return claim.status();
  }
  if (!claim->claimed) {
    return claim->tokens;
  }
  const domain::ProviderTokensView& kept = claim->tokens;
  absl::StatusOr<ProviderTokens> refreshed =
      client->second->Refresh(kept.refresh_token, kept.scopes, clock_->Now());
  if (!refreshed.ok()) {
    // Another caller may try; this one reports why it could not.
    accounts_->ReleaseRefresh(user_id, kept.external_account_id).IgnoreError();
    return ProviderError(refreshed.status());
  }
  domain::ProviderTokensView tokens{
      kept.external_account_id, refreshed->access_token,
      refreshed->refresh_token, refreshed->expire_at, refreshed->scopes};
  absl::Status written = accounts_->WriteTokens(user_id, tokens);
  if (!written.ok()) {
    return written;
  }
  return tokens;
}

bool OAuthFlow::Claim(const std::string& account, absl::Time deadline) {
  absl::MutexLock lock(&claims_mu_);
  while (claimed_.contains(account)) {
    if (released_.WaitWithDeadline(&claims_mu_, deadline) &&
        claimed_.contains(account)) {
      return false;
    }
  }
  claimed_.insert(account);
  return true;
}

void OAuthFlow::Release(const std::string& account) {
  absl::MutexLock lock(&claims_mu_);
  claimed_.erase(account);
  released_.SignalAll();
}

absl::StatusOr<int64_t> OAuthFlow::Prune(int64_t max_rows) {
  const storage::Micros cutoff =
      domain::ToMicros(clock_->Now() - absl::Hours(1));
  int64_t pruned = 0;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto n = txn.PruneOAuthStates(cutoff, max_rows);
        if (!n.ok()) {
          return n.status();
        }
        pruned = *n;
        return absl::OkStatus();
      });
  if (!written.ok()) {
    return written;
  }
  return pruned;
}

}  // namespace roster::oauth

// Portal: the hosted account pages (DESIGN §12) on the HTTP listener.
// GET /sign-in, /sign-up and /account are static HTML with the operator's
// branding, whose script (compiled into the binary, under /portal/) calls
// FrontendUsers over Connect. Every page is sent with a strict
// Content-Security-Policy (no inline script or style), no framing and no
// referrer.
//
// The browser's session lives in an HttpOnly, SameSite=Lax cookie that holds
// the session id and secret, so no script ever keeps them. The page trades it
// for a short-lived session token at POST /portal/token. Every POST under
// /portal/ needs the X-Roster-CSRF header: a cross-site page cannot send it
// without a CORS preflight, which these paths never grant. Browsers that send
// Sec-Fetch-Site must also say same-origin.
#ifndef ROSTER_SERVER_WEB_PORTAL_H_
#define ROSTER_SERVER_WEB_PORTAL_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/web/rpc_gateway.h"

namespace roster::web {

inline constexpr char kSessionCookie[] = "roster_session";
inline constexpr char kCsrfHeader[] = "x-roster-csrf";
// The reason (PERMISSION_DENIED) for a portal POST without the header, or
// from another site. Not in DESIGN §7's table: it names the portal's guard.
inline constexpr char kCsrfCheckFailed[] = "CSRF_CHECK_FAILED";

struct PortalOptions {
  std::string app_name = "Roster";
  // An http(s) URL, or "" for none.
  std::string logo_url;
  // "#rgb" or "#rrggbb".
  std::string accent_color = "#4f46e5";
  // Secure on the cookie; off only for http://localhost in --dev.
  bool secure_cookie = true;
  // Social sign-in buttons: provider id ("oauth_google") to its label.
  std::vector<std::pair<std::string, std::string>> providers;
  // --sign_up_required lists legal_accepted: /sign-up offers the terms
  // beside its form and provider buttons, so neither has to ask again.
  bool terms_required = false;
  // Whether an app's `redirect_url` may receive a ticket.
  std::function<bool(absl::string_view url)> redirect_allowed;
  // A one-use sign-in ticket for `user_id` (SignInAttemptService).
  std::function<absl::StatusOr<std::string>(absl::string_view user_id)>
      issue_ticket;
};

// scheme://host[:port] of an http(s) URL, or "" for anything else.
std::string UrlOrigin(absl::string_view url);

// INVALID_ARGUMENT naming the flag for a logo URL that is not http(s) or an
// accent colour that is not #rgb or #rrggbb.
absl::Status CheckPortalOptions(const PortalOptions& options);

// Thread-safe; pages are rendered once, at construction.
class Portal {
 public:
  // `gateway` (not owned) must outlive the portal.
  Portal(const RpcGateway* gateway, PortalOptions options);

  // The page or asset at `path`; nullopt when the path is not the portal's.
  std::optional<HttpAnswer> Get(absl::string_view path) const;

  // POST /portal/session, /portal/token, /portal/sign-out or /portal/ticket,
  // with `call.headers` (names lowered, including the Cookie header).
  HttpAnswer Post(const HttpCall& call) const;

 private:
  HttpAnswer CreateSession(const HttpCall& call) const;
  HttpAnswer RefreshToken(const HttpCall& call) const;
  HttpAnswer SignOut(const HttpCall& call) const;
  HttpAnswer IssueTicket(const HttpCall& call) const;
  // RefreshSessionToken for `session_id` and `secret` through the gateway.
  HttpAnswer Refresh(const HttpCall& call, const std::string& session_id,
                     const std::string& secret) const;
  std::string SessionCookie(const std::string& value, bool clear) const;

  const RpcGateway* gateway_;
  PortalOptions options_;
  // Path to the rendered answer's content type and body.
  std::map<std::string, std::pair<std::string, std::string>, std::less<>>
      files_;
  std::string content_security_policy_;
};

}  // namespace roster::web

#endif  // ROSTER_SERVER_WEB_PORTAL_H_

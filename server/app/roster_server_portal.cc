// RosterServer's account portal (DESIGN §12): its options from the flags and
// the other parts it needs (the redirect allowlist, tickets, providers).
#include <memory>
#include <string>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "server/app/roster_server.h"
#include "server/domain/urls.h"

namespace roster::app {
namespace {

// "oauth_google" -> "Google", "oauth_custom_acme" -> "Acme".
std::string ProviderLabel(absl::string_view id) {
  if (id == "oauth_github") {
    return "GitHub";
  }
  absl::string_view name = absl::StripPrefix(id, "oauth_");
  name = absl::StripPrefix(name, "custom_");
  std::string label(name);
  if (!label.empty()) {
    label[0] = absl::ascii_toupper(static_cast<unsigned char>(label[0]));
  }
  return label;
}

}  // namespace

void RosterServer::StartPortal(const ServerConfig& config,
                               const std::string& public_http_url) {
  web::PortalOptions options;
  options.app_name = config.web.portal_app_name;
  options.logo_url = config.web.portal_logo_url;
  options.accent_color = config.web.portal_accent_color;
  // A browser keeps a Secure cookie only from https; --dev on loopback is
  // the one place the portal is reached over plain http.
  options.secure_cookie =
      !(config.dev && absl::StartsWith(public_http_url, "http://") &&
        domain::IsLoopbackHost(domain::HostOf(public_http_url)));
  for (const oauth::OAuthProvider& provider : config.oauth.providers) {
    options.providers.emplace_back(provider.id, ProviderLabel(provider.id));
  }
  options.terms_required =
      absl::c_linear_search(config.sign_up_required, "legal_accepted");
  options.redirect_allowed =
      [allowed = config.oauth.allowed_redirect_urls](absl::string_view url) {
        return oauth::RedirectUrlAllowed(allowed, url);
      };
  options.issue_ticket = [attempts =
                              attempts_.get()](absl::string_view user_id) {
    return attempts->IssueTicket(user_id);
  };
  portal_ = std::make_unique<web::Portal>(gateway_.get(), std::move(options));
  http_->ServePortal(portal_.get());
}

}  // namespace roster::app

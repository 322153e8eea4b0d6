#include "server/app/web_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "server/web/cors.h"
#include "server/web/portal.h"

ABSL_FLAG(
    std::string, allowed_origins, "",
    "Comma-separated web origins (https://app.example.com, or *) whose "
    "pages may call the Connect and gRPC-Web endpoints on --http_listen.");
ABSL_FLAG(bool, http_backend, false,
          "Also serve BackendUsers over Connect and gRPC-Web on --http_listen "
          "(it needs the secret key like on the gRPC port).");

ABSL_FLAG(std::string, portal_app_name, "Roster",
          "The app's name on the account portal's pages.");
ABSL_FLAG(std::string, portal_logo_url, "",
          "An http(s) URL of the logo on the account portal's pages.");
ABSL_FLAG(std::string, portal_accent_color, "#4f46e5",
          "The account portal's accent colour, #rgb or #rrggbb.");

namespace roster::app {

const char* const kWebFlagNames[] = {"allowed_origins", "http_backend",
                                     "portal_app_name", "portal_logo_url",
                                     "portal_accent_color"};
const size_t kWebFlagCount = std::size(kWebFlagNames);

absl::StatusOr<WebConfig> LoadWebFlags() {
  WebConfig config;
  config.http_backend = absl::GetFlag(FLAGS_http_backend);
  config.allowed_origins = absl::StrSplit(absl::GetFlag(FLAGS_allowed_origins),
                                          ',', absl::SkipWhitespace());
  for (std::string& origin : config.allowed_origins) {
    origin = std::string(absl::StripAsciiWhitespace(origin));
  }
  if (absl::Status checked = web::Cors::Check(config.allowed_origins);
      !checked.ok()) {
    return checked;
  }
  config.portal_app_name = absl::GetFlag(FLAGS_portal_app_name);
  config.portal_logo_url = absl::GetFlag(FLAGS_portal_logo_url);
  config.portal_accent_color = absl::GetFlag(FLAGS_portal_accent_color);
  web::PortalOptions branding;
  branding.logo_url = config.portal_logo_url;
  branding.accent_color = config.portal_accent_color;
  if (absl::Status checked = web::CheckPortalOptions(branding); !checked.ok()) {
    return checked;
  }
  return config;
}

}  // namespace roster::app

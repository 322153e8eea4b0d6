// The flags of the browsers' way in (DESIGN §12), read and checked into a
// WebConfig. Part of LoadConfig; separate to keep config.cc focused.
#ifndef ROSTER_SERVER_APP_WEB_FLAGS_H_
#define ROSTER_SERVER_APP_WEB_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace roster::app {

struct WebConfig {
  // Web origins allowed to call the RPC endpoints from a browser (CORS).
  std::vector<std::string> allowed_origins;
  // Also serve BackendUsers over Connect and gRPC-Web on --http_listen.
  bool http_backend = false;
  // The account portal's branding.
  std::string portal_app_name;
  std::string portal_logo_url;
  std::string portal_accent_color;
};

// The flags' names, for their ROSTER_* environment twins.
extern const char* const kWebFlagNames[];
extern const size_t kWebFlagCount;

// InvalidArgument naming the entry for an --allowed_origins entry that is
// neither "*" nor an http(s) origin, and for portal branding that
// web::CheckPortalOptions refuses.
absl::StatusOr<WebConfig> LoadWebFlags();

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_WEB_FLAGS_H_

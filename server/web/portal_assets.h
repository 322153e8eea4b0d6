// The account portal's files (server/web/portal/), compiled into the binary
// by server/web/EmbedFiles.cmake so a deployment is one executable.
#ifndef ROSTER_SERVER_WEB_PORTAL_ASSETS_H_
#define ROSTER_SERVER_WEB_PORTAL_ASSETS_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace roster::web {

struct PortalAsset {
  absl::string_view name;  // The file's name: "sign-in.html", "portal.js".
  absl::string_view body;
};

absl::Span<const PortalAsset> PortalAssets();

}  // namespace roster::web

#endif  // ROSTER_SERVER_WEB_PORTAL_ASSETS_H_

#include "server/app/web_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "server/web/cors.h"

ABSL_FLAG(
    std::string, allowed_origins, "",
    "Comma-separated web origins (https://app.example.com, or *) whose "
    "pages may call the Connect and gRPC-Web endpoints on --http_listen.");
ABSL_FLAG(bool, http_backend, false,
          "Also serve BackendUsers over Connect and gRPC-Web on --http_listen "
          "(it needs the secret key like on the gRPC port).");

namespace roster::app {

const char* const kWebFlagNames[] = {"allowed_origins", "http_backend"};
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
  return config;
}

}  // namespace roster::app

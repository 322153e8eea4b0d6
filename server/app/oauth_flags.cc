#include "server/app/oauth_flags.h"

#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/app/config.h"
#include "server/oauth/oauth_flow.h"

ABSL_FLAG(std::string, oauth_providers_file, "",
          "A JSON array of social sign-in providers (docs/oauth.md): "
          "oauth_google, oauth_microsoft, oauth_github, oauth_gitlab or "
          "oauth_custom_<name>, each with client_id and client_secret_file.");
ABSL_FLAG(std::string, allowed_redirect_urls, "",
          "Comma-separated origins with path prefixes an app may ask social "
          "sign-in to return to, e.g. https://app.example.com/auth.");
ABSL_FLAG(std::string, oauth_ca_file, "",
          "PEM CA certificates to trust for the OAuth providers (default: "
          "the system's).");

namespace roster::app {

const char* const kOAuthFlagNames[] = {
    "oauth_providers_file", "allowed_redirect_urls", "oauth_ca_file"};
const size_t kOAuthFlagCount = std::size(kOAuthFlagNames);

absl::StatusOr<OAuthConfig> LoadOAuthFlags() {
  OAuthConfig config;
  config.ca_file = absl::GetFlag(FLAGS_oauth_ca_file);
  config.allowed_redirect_urls = absl::StrSplit(
      absl::GetFlag(FLAGS_allowed_redirect_urls), ',', absl::SkipWhitespace());
  for (std::string& url : config.allowed_redirect_urls) {
    url = std::string(absl::StripAsciiWhitespace(url));
  }
  if (absl::Status checked =
          oauth::CheckAllowedRedirectUrls(config.allowed_redirect_urls);
      !checked.ok()) {
    return checked;
  }
  const std::string path = absl::GetFlag(FLAGS_oauth_providers_file);
  if (path.empty()) {
    return config;
  }
  absl::StatusOr<std::string> json = ReadConfigFile(path);
  if (!json.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--oauth_providers_file cannot be read: ", path));
  }
  absl::StatusOr<std::vector<oauth::OAuthProvider>> providers =
      oauth::ParseProviders(*json, [](const std::string& secret_path) {
        return ReadConfigFile(secret_path);
      });
  if (!providers.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--oauth_providers_file ", providers.status().message()));
  }
  config.providers = *std::move(providers);
  if (!config.providers.empty() && config.allowed_redirect_urls.empty()) {
    return absl::InvalidArgumentError(
        "--allowed_redirect_urls is required with --oauth_providers_file: "
        "social sign-in must know which apps it may return to");
  }
  return config;
}

}  // namespace roster::app

// The flags of social sign-in (DESIGN §11), read and checked into an
// OAuthConfig. Part of LoadConfig; separate to keep config.cc focused.
#ifndef ROSTER_SERVER_APP_OAUTH_FLAGS_H_
#define ROSTER_SERVER_APP_OAUTH_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/oauth/providers.h"

namespace roster::app {

struct OAuthConfig {
  std::vector<oauth::OAuthProvider> providers;  // None: StartOAuth refuses.
  std::vector<std::string> allowed_redirect_urls;
  std::string ca_file;  // Empty: the system's trust store.
};

// The flags' names, for their ROSTER_* environment twins.
extern const char* const kOAuthFlagNames[];
extern const size_t kOAuthFlagCount;

// InvalidArgument naming the flag (and the entry) for: a providers file that
// cannot be read or that ParseProviders refuses, an --allowed_redirect_urls
// entry that is not an http(s) origin with a path, or providers without any
// allowed redirect URL.
absl::StatusOr<OAuthConfig> LoadOAuthFlags();

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_OAUTH_FLAGS_H_

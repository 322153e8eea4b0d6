// Small pieces social sign-in tests share: a URL's query values, and
// providers parsed as --oauth_providers_file would be, secrets from files.
#ifndef ROSTER_TESTS_TESTING_OAUTH_HELPERS_H_
#define ROSTER_TESTS_TESTING_OAUTH_HELPERS_H_

#include <httplib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/oauth/providers.h"

namespace roster::testing {

// The value of `name` in `url`'s query ("" when absent).
inline std::string QueryValue(const std::string& url, const std::string& name) {
  const size_t query = url.find('?');
  if (query == std::string::npos) {
    return "";
  }
  httplib::Params params;
  httplib::detail::parse_query_text(url.substr(query + 1), params);
  const auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

// `entries` through ParseProviders, reading each client_secret_file.
inline absl::StatusOr<std::vector<oauth::OAuthProvider>> ProvidersFrom(
    const nlohmann::json& entries) {
  return oauth::ParseProviders(
      entries.dump(),
      [](const std::string& path) -> absl::StatusOr<std::string> {
        std::ifstream in(path);
        if (!in) {
          return absl::NotFoundError(path);
        }
        std::stringstream out;
        out << in.rdbuf();
        return out.str();
      });
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_OAUTH_HELPERS_H_

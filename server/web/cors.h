// CORS for the RPC endpoints (DESIGN §12, --allowed_origins): which web
// origins may call them from a browser, and the headers that say so. Calls
// carry a bearer token, never a cookie, so no answer allows credentials, and
// "*" (any origin) is therefore safe to offer.
#ifndef ROSTER_SERVER_WEB_CORS_H_
#define ROSTER_SERVER_WEB_CORS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace roster::web {

using Headers = std::vector<std::pair<std::string, std::string>>;

class Cors {
 public:
  // `origins`: "scheme://host[:port]" each, or "*". Checked by Check.
  explicit Cors(std::vector<std::string> origins);

  // INVALID_ARGUMENT naming the entry for an origin that is neither "*" nor
  // an http(s) origin without path, query or trailing slash.
  static absl::Status Check(const std::vector<std::string>& origins);

  // Headers for an answer to a request from `origin` ("" when the request
  // named none): none when the origin is not allowed.
  Headers ForResponse(const std::string& origin) const;
  // Headers for a preflight (OPTIONS) from `origin` asking for
  // `request_method` and `request_headers` (comma-separated); none when
  // the origin or method is not allowed.
  Headers ForPreflight(const std::string& origin,
                       const std::string& request_method,
                       const std::string& request_headers) const;

 private:
  bool Allows(const std::string& origin) const;

  std::vector<std::string> origins_;
};

}  // namespace roster::web

#endif  // ROSTER_SERVER_WEB_CORS_H_

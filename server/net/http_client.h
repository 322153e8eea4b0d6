// One HTTP request from Roster to a server it calls out to (an OAuth
// provider's token, userinfo, discovery and key endpoints), over libcurl with
// NewCurl's settings: TLS verified, no redirects, bounded time. The answer's
// body is bounded too, so a hostile or broken server cannot grow memory.
#ifndef ROSTER_SERVER_NET_HTTP_CLIENT_H_
#define ROSTER_SERVER_NET_HTTP_CLIENT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/net/transport.h"

namespace roster::net {

struct HttpRequest {
  std::string url;                   // http:// or https:// only
  std::vector<std::string> headers;  // "Name: value"
  // Set: a POST of this application/x-www-form-urlencoded body. Else a GET.
  std::optional<std::string> form_body;
  size_t max_response_bytes = size_t{1} << 20;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

// The server's answer, whatever its status. UNAVAILABLE when it could not be
// reached or did not answer in time, OUT_OF_RANGE when the body is over
// `max_response_bytes`, INVALID_ARGUMENT for a URL of another scheme.
absl::StatusOr<HttpResponse> Fetch(const HttpRequest& request,
                                   const Transport& transport);

// name=value&… with both sides percent-encoded (RFC 6749 Appendix B).
std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& fields);

// `value` percent-encoded for a URL's query.
std::string UrlEncode(const std::string& value);

}  // namespace roster::net

#endif  // ROSTER_SERVER_NET_HTTP_CLIENT_H_

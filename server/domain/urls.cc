#include "server/domain/urls.h"

#include "absl/strings/match.h"

namespace roster::domain {

absl::string_view HostOf(absl::string_view url) {
  const size_t start = url.find("://");
  absl::string_view rest =
      start == absl::string_view::npos ? url : url.substr(start + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  rest = rest.substr(
      rest.rfind('@') == absl::string_view::npos ? 0 : rest.rfind('@') + 1);
  if (absl::StartsWith(rest, "[")) {
    return rest.substr(0, rest.find(']') + 1);
  }
  return rest.substr(0, rest.find(':'));
}

bool IsLoopbackHost(absl::string_view host) {
  return host == "localhost" || host == "[::1]" ||
         absl::StartsWith(host, "127.");
}

bool IsHttpsOrLoopbackHttp(absl::string_view url) {
  if (absl::StartsWith(url, "https://")) {
    return !HostOf(url).empty();
  }
  return absl::StartsWith(url, "http://") && IsLoopbackHost(HostOf(url));
}

}  // namespace roster::domain

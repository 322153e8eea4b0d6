#include "server/net/http_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/net/curl_handle.h"

namespace roster::net {
namespace {

struct BoundedBody {
  std::string* body;
  size_t limit;
  bool overflowed = false;
};

size_t Collect(char* data, size_t size, size_t count, void* sink) {
  auto* bounded = static_cast<BoundedBody*>(sink);
  const size_t bytes = size * count;
  if (bounded->body->size() + bytes > bounded->limit) {
    bounded->overflowed = true;
    return 0;  // curl stops the transfer with CURLE_WRITE_ERROR.
  }
  bounded->body->append(data, bytes);
  return bytes;
}

}  // namespace

absl::StatusOr<HttpResponse> Fetch(const HttpRequest& request,
                                   const Transport& transport) {
  if (!absl::StartsWith(request.url, "https://") &&
      !absl::StartsWith(request.url, "http://")) {
    return absl::InvalidArgumentError("only http(s) URLs are fetched");
  }
  CurlEasy curl = NewCurl(transport);
  if (curl == nullptr) {
    return absl::ResourceExhaustedError("curl_easy_init failed");
  }
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CurlList headers;
  for (const std::string& header : request.headers) {
    Append(headers, header);
  }
  if (request.form_body.has_value()) {
    Append(headers, "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.form_body->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(  // NOLINT(google-runtime-int)
                         request.form_body->size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  HttpResponse response;
  BoundedBody sink{&response.body, request.max_response_bytes};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  const CURLcode result = curl_easy_perform(c);
  if (sink.overflowed) {
    return absl::OutOfRangeError(absl::StrCat(
        "the answer is over ", request.max_response_bytes, " bytes"));
  }
  if (result != CURLE_OK) {
    return absl::UnavailableError(curl_easy_strerror(result));
  }
  long status = 0;  // NOLINT(google-runtime-int)
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

std::string UrlEncode(const std::string& value) {
  std::string out;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(c);
    } else {
      constexpr char kHex[] = "0123456789ABCDEF";
      out.append({'%', kHex[u >> 4], kHex[u & 0xF]});
    }
  }
  return out;
}

std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&out, out.empty() ? "" : "&", UrlEncode(name), "=",
                    UrlEncode(value));
  }
  return out;
}

}  // namespace roster::net

// RAII for libcurl: the process-wide init, an easy handle, a header list and a
// MIME tree, each freed with its own curl_*_free. Shared by code delivery and
// social sign-in, the two places Roster calls out over HTTP or SMTP.
#ifndef ROSTER_SERVER_NET_CURL_HANDLE_H_
#define ROSTER_SERVER_NET_CURL_HANDLE_H_

#include <curl/curl.h>

#include <memory>
#include <string>

#include "server/net/transport.h"

namespace roster::net {

struct CurlEasyFree {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct CurlListFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct CurlMimeFree {
  void operator()(curl_mime* mime) const { curl_mime_free(mime); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyFree>;
using CurlList = std::unique_ptr<curl_slist, CurlListFree>;
using CurlMime = std::unique_ptr<curl_mime, CurlMimeFree>;

// A handle with the settings every request shares: no signals (we run on a
// worker thread), the timeout, verified TLS, no redirects, and an abort when
// `transport.cancel` is set. nullptr if curl cannot allocate one.
CurlEasy NewCurl(const Transport& transport);

// Appends `line` to `list` (which may hold nullptr).
void Append(CurlList& list, const std::string& line);

}  // namespace roster::net

#endif  // ROSTER_SERVER_NET_CURL_HANDLE_H_

#include "server/net/curl_handle.h"

#include "absl/base/call_once.h"

namespace roster::net {

namespace {

int AbortWhenCancelled(void* cancel, curl_off_t, curl_off_t, curl_off_t,
                       curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

}  // namespace

CurlEasy NewCurl(const Transport& transport) {
  const absl::Duration timeout = transport.timeout;
  static absl::once_flag once;
  // Not thread-safe in libcurl itself, so once, before any handle exists.
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CurlEasy curl(curl_easy_init());
  if (curl == nullptr) {
    return curl;
  }
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout) / 2));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!transport.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, transport.ca_file.c_str());
  }
  if (transport.cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &AbortWhenCancelled);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, transport.cancel);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }
  // Redirects could carry a code somewhere the operator did not name.
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  return curl;
}

void Append(CurlList& list, const std::string& line) {
  // curl_slist_append returns the head, new for an empty list, or nullptr
  // (leaving the list as it was) when it cannot allocate.
  curl_slist* head = list.release();
  curl_slist* grown = curl_slist_append(head, line.c_str());
  list.reset(grown != nullptr ? grown : head);
}

}  // namespace roster::net

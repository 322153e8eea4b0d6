// What Roster checks of the URLs an operator configures (delivery webhooks,
// OAuth endpoints): whose host is it, and may a secret travel to it.
#ifndef ROSTER_SERVER_DOMAIN_URLS_H_
#define ROSTER_SERVER_DOMAIN_URLS_H_

#include "absl/strings/string_view.h"

namespace roster::domain {

// The host of scheme://[user@]host[:port][/…], brackets kept for IPv6.
absl::string_view HostOf(absl::string_view url);

// localhost, 127.0.0.0/8 or [::1].
bool IsLoopbackHost(absl::string_view host);

// https:// to any host, or http:// to loopback only: a secret sent in clear
// text must not cross a network (local providers and tests run on loopback).
bool IsHttpsOrLoopbackHttp(absl::string_view url);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_URLS_H_

// How Roster reaches a server it calls out to (an SMTP relay, an SMS
// gateway, an OAuth provider): whose certificates it trusts, how long it
// waits, and the flag that stops a request at shutdown.
#ifndef ROSTER_SERVER_NET_TRANSPORT_H_
#define ROSTER_SERVER_NET_TRANSPORT_H_

#include <atomic>
#include <string>

#include "absl/time/time.h"

namespace roster::net {

struct Transport {
  std::string ca_file;  // Empty: the system's trust store.
  absl::Duration timeout = absl::Seconds(20);
  // Set at shutdown: a request in progress stops at once rather than holding
  // the process for its timeout.
  const std::atomic<bool>* cancel = nullptr;
};

}  // namespace roster::net

#endif  // ROSTER_SERVER_NET_TRANSPORT_H_

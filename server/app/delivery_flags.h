// The flags of code delivery (DESIGN §13), read and checked into a
// DeliveryConfig. Part of LoadConfig; separate to keep config.cc focused.
#ifndef ROSTER_SERVER_APP_DELIVERY_FLAGS_H_
#define ROSTER_SERVER_APP_DELIVERY_FLAGS_H_

#include "absl/status/statusor.h"
#include "server/delivery/delivery_config.h"

namespace roster::app {

// The flags' names, for their ROSTER_* environment twins.
extern const char* const kDeliveryFlagNames[];
extern const size_t kDeliveryFlagCount;

// InvalidArgument naming the flag for: a URL of the wrong scheme, plain HTTP
// or --smtp_insecure towards a host other than loopback, a missing or
// unreadable secret file, --smtp_url without --mail_from, Twilio without its
// account, an app name that is empty, long or holds control characters, or
// templates that MessageTemplates::Load refuses.
absl::StatusOr<delivery::DeliveryConfig> LoadDeliveryFlags();

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_DELIVERY_FLAGS_H_

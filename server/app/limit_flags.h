// The flags of the limits against abuse (DESIGN §14): sign-in failures, hash
// and request memory, self-service writes, code sends, sign-ups and sign-in
// attempts per address, event streams. Part of LoadConfig; separate to keep
// config.cc focused.
#ifndef ROSTER_SERVER_APP_LIMIT_FLAGS_H_
#define ROSTER_SERVER_APP_LIMIT_FLAGS_H_

#include <cstddef>

#include "absl/status/status.h"

namespace roster::app {

struct ServerConfig;

// The flags' names, for their ROSTER_* environment twins.
extern const char* const kLimitFlagNames[];
extern const size_t kLimitFlagCount;

// Reads the flags into `config`. InvalidArgument naming the flag for a count
// below 1, a window that is not positive, or a value outside its range
// (--hash_memory_mb 19-65536, --request_memory_mb 16-65536,
// --max_event_streams 1-100000).
absl::Status LoadLimitFlags(ServerConfig& config);

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_LIMIT_FLAGS_H_

#include "server/app/limit_flags.h"

#include <iterator>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "server/app/config.h"

ABSL_FLAG(
    int32_t, sign_in_failures_per_identifier, 5,
    "Failed sign-ins one identifier may have per --sign_in_failure_window "
    "on a replica before TOO_MANY_ATTEMPTS (unknown or wrong alike).");
ABSL_FLAG(int32_t, sign_in_failures_per_address, 50,
          "Failed sign-ins one client address (an IPv6 /64) may have per "
          "--sign_in_failure_window on a replica before TOO_MANY_ATTEMPTS.");
ABSL_FLAG(absl::Duration, sign_in_failure_window, absl::Minutes(15),
          "The window of the two sign-in failure limits.");
ABSL_FLAG(int32_t, hash_memory_mb, 128,
          "Memory all password hashes may hold at once; also caps the hash "
          "workers (19 MiB each; their number is the CPU quota otherwise).");
ABSL_FLAG(int32_t, request_memory_mb, 64,
          "Memory gRPC may hold for requests being received on all "
          "connections; above it, it stops reading from clients until "
          "memory is freed.");
ABSL_FLAG(int32_t, self_service_writes_per_hour, 120,
          "Changes a signed-in user may make to their own account per hour "
          "through FrontendUsers, on a replica: each is an event kept for "
          "--events_retention.");
ABSL_FLAG(int32_t, codes_per_user_per_hour, 10,
          "Verification codes sent per hour to all of one user's addresses "
          "together (each address also gets at most 5).");
ABSL_FLAG(int32_t, codes_per_hour, 1000,
          "Verification codes the whole service sends per hour: the mail and "
          "SMS budget, shared by every replica on one database.");
ABSL_FLAG(int32_t, sign_ups_per_address_per_hour, 20,
          "Sign-ups one client address may start per hour, on a replica "
          "(and one invitation ticket, for sign-ups with one).");
ABSL_FLAG(int32_t, sign_in_attempts_per_address_per_hour, 100,
          "Sign-in attempts (StartSignIn) one client address may start per "
          "hour, on a replica.");
ABSL_FLAG(int32_t, max_event_streams, 100,
          "WatchEvents streams a replica keeps open at once; more are "
          "RESOURCE_EXHAUSTED (OVERLOADED). Every event is sent to every "
          "stream, so each one adds to the work of each commit.");

namespace roster::app {

const char* const kLimitFlagNames[] = {"sign_in_failures_per_identifier",
                                       "sign_in_failures_per_address",
                                       "sign_in_failure_window",
                                       "hash_memory_mb",
                                       "request_memory_mb",
                                       "self_service_writes_per_hour",
                                       "codes_per_user_per_hour",
                                       "codes_per_hour",
                                       "sign_ups_per_address_per_hour",
                                       "sign_in_attempts_per_address_per_hour",
                                       "max_event_streams"};
const size_t kLimitFlagCount = std::size(kLimitFlagNames);

absl::Status LoadLimitFlags(ServerConfig& config) {
  config.sign_in_failures_per_identifier =
      absl::GetFlag(FLAGS_sign_in_failures_per_identifier);
  config.sign_in_failures_per_address =
      absl::GetFlag(FLAGS_sign_in_failures_per_address);
  config.sign_in_failure_window = absl::GetFlag(FLAGS_sign_in_failure_window);
  if (config.sign_in_failures_per_identifier < 1 ||
      config.sign_in_failures_per_address < 1 ||
      config.sign_in_failure_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--sign_in_failures_per_identifier and --sign_in_failures_per_address "
        "must be at least 1, --sign_in_failure_window positive");
  }
  config.hash_memory_mb = absl::GetFlag(FLAGS_hash_memory_mb);
  if (config.hash_memory_mb < 19 || config.hash_memory_mb > 65536) {
    return absl::InvalidArgumentError(
        "--hash_memory_mb must be 19-65536 (one argon2id hash takes 19 MiB)");
  }
  config.request_memory_mb = absl::GetFlag(FLAGS_request_memory_mb);
  if (config.request_memory_mb < 16 || config.request_memory_mb > 65536) {
    return absl::InvalidArgumentError(
        "--request_memory_mb must be 16-65536 (one upload takes 11 MiB)");
  }
  config.self_service_writes_per_hour =
      absl::GetFlag(FLAGS_self_service_writes_per_hour);
  if (config.self_service_writes_per_hour < 1) {
    return absl::InvalidArgumentError(
        "--self_service_writes_per_hour must be at least 1");
  }
  config.codes_per_user_per_hour = absl::GetFlag(FLAGS_codes_per_user_per_hour);
  config.codes_per_hour = absl::GetFlag(FLAGS_codes_per_hour);
  if (config.codes_per_user_per_hour < 1 || config.codes_per_hour < 1) {
    return absl::InvalidArgumentError(
        "--codes_per_user_per_hour and --codes_per_hour must be at least 1");
  }
  config.sign_ups_per_address_per_hour =
      absl::GetFlag(FLAGS_sign_ups_per_address_per_hour);
  config.sign_in_attempts_per_address_per_hour =
      absl::GetFlag(FLAGS_sign_in_attempts_per_address_per_hour);
  if (config.sign_ups_per_address_per_hour < 1 ||
      config.sign_in_attempts_per_address_per_hour < 1) {
    return absl::InvalidArgumentError(
        "--sign_ups_per_address_per_hour and "
        "--sign_in_attempts_per_address_per_hour must be at least 1");
  }
  config.max_event_streams = absl::GetFlag(FLAGS_max_event_streams);
  if (config.max_event_streams < 1 || config.max_event_streams > 100000) {
    return absl::InvalidArgumentError("--max_event_streams must be 1-100000");
  }
  return absl::OkStatus();
}

}  // namespace roster::app

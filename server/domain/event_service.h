// EventService: reading the events outbox (DESIGN §6) — where a watcher starts,
// the batches a stream sends, ListEvents paging — and retention. Writing events
// is UserService's job, inside each mutation's transaction.
//
// Cursor rules: `after_sequence` 0 starts at the oldest event kept; a cursor
// below what retention has pruned is OUT_OF_RANGE (CURSOR_EXPIRED), since
// events after it are gone; a cursor beyond the newest event is
// INVALID_ARGUMENT (it belongs to another database).
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_EVENT_SERVICE_H_
#define ROSTER_SERVER_DOMAIN_EVENT_SERVICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"
#include "storage/user_store.h"

namespace roster::domain {

inline constexpr size_t kMaxEventTypes = 20;

struct EventListParams {
  int64_t after_sequence = 0;
  std::vector<std::string> types;
  std::string user_id;
  int32_t limit = 0;
  int32_t offset = 0;
  std::string page_token;
};

struct EventPage {
  std::vector<storage::EventRecord> events;
  std::string next_page_token;
};

// What a stream sends next, and how far the log was scanned to find it (past
// events of other types), so the stream waits only for events beyond that
// point.
struct EventScan {
  std::vector<storage::EventRecord> events;
  int64_t scanned_through = 0;
};

class EventService {
 public:
  // Neither is owned; both must outlive the service.
  EventService(storage::UserStore* store, const Clock* clock)
      : store_(store), clock_(clock) {}

  // Validates a watch request and returns the position to scan from.
  // INVALID_ARGUMENT for unknown or too many types or a cursor ahead of the
  // log; OUT_OF_RANGE for a pruned one.
  absl::StatusOr<int64_t> StartWatch(int64_t after_sequence,
                                     const std::vector<std::string>& types);

  // Up to `max` events of `types` after `position`. OUT_OF_RANGE
  // (CURSOR_EXPIRED) when retention deleted events after `position` (the
  // watcher fell too far behind).
  absl::StatusOr<EventScan> Scan(int64_t position,
                                 const std::vector<std::string>& types,
                                 int32_t max);

  // A page of events, oldest first. Validation as ListUsers' paging plus the
  // cursor rules.
  absl::StatusOr<EventPage> ListEvents(const EventListParams& params);

  // Deletes events created more than `retention` ago, oldest first, in batches
  // of at most `batch` per transaction so writers are never held up for long.
  // Returns how many.
  absl::StatusOr<int64_t> Prune(absl::Duration retention,
                                int64_t batch = 10000);

 private:
  storage::UserStore* store_;  // Not owned.
  const Clock* clock_;         // Not owned.
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_EVENT_SERVICE_H_

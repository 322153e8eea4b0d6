#include "server/domain/event_service.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/events.h"
#include "server/domain/ids.h"
#include "server/domain/user_query.h"
#include "server/domain/user_service.h"

namespace roster::domain {
namespace {

constexpr char kCursorExpired[] = "CURSOR_EXPIRED";

void CheckTypes(const std::vector<std::string>& types, Violations& violations) {
  if (types.size() > kMaxEventTypes) {
    violations.Add("types", absl::StrCat("at most ", kMaxEventTypes, " types"));
    return;
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (!IsKnownEventType(types[i])) {
      violations.Add(absl::StrCat("types[", i, "]"),
                     "must be one of user.created, user.updated, user.deleted, "
                     "email.created, "
                     "sms.created, session.created, session.revoked");
    }
  }
}

// Where reading starts for `after_sequence` given the log's bounds, or the
// cursor error.
absl::StatusOr<int64_t> CursorPosition(int64_t after_sequence,
                                       const storage::EventBatch& bounds) {
  if (after_sequence == 0) {
    return bounds.pruned_through;
  }
  if (after_sequence < bounds.pruned_through) {
    return Error(
        absl::StatusCode::kOutOfRange, kCursorExpired,
        absl::StrCat(
            "events up to sequence ", bounds.pruned_through,
            " were deleted by retention; resume from 0 or a later cursor"));
  }
  if (after_sequence > bounds.latest) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat,
                 absl::StrCat("after_sequence is ahead of the newest event (",
                              bounds.latest, ")"),
                 {{"after_sequence", "is ahead of the newest event"}});
  }
  return after_sequence;
}

std::string ListFingerprint(const EventListParams& p) {
  return Fingerprint(absl::StrCat(p.after_sequence, "|",
                                  absl::StrJoin(p.types, ","), "|", p.user_id));
}

}  // namespace

absl::StatusOr<int64_t> EventService::StartWatch(
    int64_t after_sequence, const std::vector<std::string>& types) {
  Violations violations;
  if (after_sequence < 0) {
    violations.Add("after_sequence", "must not be negative");
  }
  CheckTypes(types, violations);
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  storage::EventQuery bounds_only;
  bounds_only.limit = 0;
  auto bounds = store_->ReadEvents(bounds_only);
  if (!bounds.ok()) {
    return bounds.status();
  }
  return CursorPosition(after_sequence, *bounds);
}

absl::StatusOr<EventScan> EventService::Scan(
    int64_t position, const std::vector<std::string>& types, int32_t max) {
  storage::EventQuery query;
  query.after_sequence = position;
  query.types = types;
  query.limit = max;
  auto batch = store_->ReadEvents(query);
  if (!batch.ok()) {
    return batch.status();
  }
  if (position < batch->pruned_through) {
    return Error(
        absl::StatusCode::kOutOfRange, kCursorExpired,
        absl::StrCat("the watcher fell behind retention: events up to ",
                     batch->pruned_through,
                     " were deleted; resume from a later cursor"));
  }
  EventScan scan;
  // A full batch may stop short of the log's end; otherwise everything up to
  // `latest` (all of it visible in this snapshot, one writer committing in
  // sequence order) has been seen.
  scan.scanned_through = static_cast<int32_t>(batch->events.size()) == max
                             ? batch->events.back().sequence
                             : batch->latest;
  scan.events = std::move(batch->events);
  return scan;
}

absl::StatusOr<EventPage> EventService::ListEvents(
    const EventListParams& params) {
  Violations violations;
  if (params.after_sequence < 0) {
    violations.Add("after_sequence", "must not be negative");
  }
  CheckTypes(params.types, violations);
  if (!params.user_id.empty() &&
      !IsWellFormedId(params.user_id, kUserIdPrefix)) {
    violations.Add("user_id", "must be a user id (user_…)");
  }
  if (params.limit < 0 || params.limit > kMaxPageSize) {
    violations.Add("limit", absl::StrCat("must be 1-", kMaxPageSize,
                                         " (0 means ", kDefaultPageSize, ")"));
  }
  if (params.offset < 0 || params.offset > kMaxOffset) {
    violations.Add("offset", absl::StrCat("must be 0-", kMaxOffset));
  }
  const std::string fingerprint = ListFingerprint(params);
  int64_t after = params.after_sequence;
  bool from_token = false;
  if (!params.page_token.empty()) {
    std::string raw;
    std::vector<std::string> parts;
    int64_t last = 0;
    if (params.offset != 0) {
      violations.Add("page_token", "cannot be combined with offset");
    } else if (!absl::WebSafeBase64Unescape(params.page_token, &raw) ||
               (parts = absl::StrSplit(raw, '|')).size() != 3 ||
               parts[0] != "e1" || !absl::SimpleAtoi(parts[2], &last) ||
               last < 0) {
      violations.Add("page_token", "is not a page token from this service");
    } else if (parts[1] != fingerprint) {
      violations.Add("page_token",
                     "was issued for a different query: keep every other field "
                     "as in the first "
                     "call");
    } else {
      after = last;
      from_token = true;
    }
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  storage::EventQuery query;
  query.types = params.types;
  query.user_id = params.user_id;
  query.limit = 0;
  auto bounds = store_->ReadEvents(query);
  if (!bounds.ok()) {
    return bounds.status();
  }
  // A token's position was valid when issued; only retention can invalidate it
  // since.
  auto position =
      from_token && after <= bounds->latest && after >= bounds->pruned_through
          ? absl::StatusOr<int64_t>(after)
          : CursorPosition(after, *bounds);
  if (!position.ok()) {
    return position.status();
  }
  query.after_sequence = *position;
  const int32_t limit = params.limit == 0 ? kDefaultPageSize : params.limit;
  query.limit = limit + 1;  // One more tells whether another page follows.
  query.offset = params.offset;
  auto batch = store_->ReadEvents(query);
  if (!batch.ok()) {
    return batch.status();
  }
  if (query.after_sequence < batch->pruned_through) {
    return Error(absl::StatusCode::kOutOfRange, kCursorExpired,
                 "events after the cursor were deleted by retention meanwhile");
  }
  EventPage page;
  page.events = std::move(batch->events);
  if (static_cast<int32_t>(page.events.size()) > limit) {
    page.events.resize(static_cast<size_t>(limit));
    page.next_page_token = absl::WebSafeBase64Escape(
        absl::StrCat("e1|", fingerprint, "|", page.events.back().sequence));
  }
  return page;
}

absl::StatusOr<int64_t> EventService::Prune(absl::Duration retention,
                                            int64_t batch) {
  const storage::Micros cutoff = ToMicros(clock_->Now() - retention);
  int64_t total = 0;
  while (true) {
    int64_t deleted = 0;
    absl::Status status =
        store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
          auto pruned = txn.PruneEvents(cutoff, batch);
          if (!pruned.ok()) {
            return pruned.status();
          }
          deleted = *pruned;
          return absl::OkStatus();
        });
    if (!status.ok()) {
      return status;
    }
    total += deleted;
    if (deleted < batch) {
      return total;
    }
  }
}

}  // namespace roster::domain

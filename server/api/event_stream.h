// WatchEventsStream: one WatchEvents call as a server-streaming reactor.
//
// It reads the outbox from the database after its position, one batch at a
// time, and writes a batch as one send: the database is the buffer, so a
// watcher holds at most one batch in memory however far behind it is, and a
// stalled client stalls only its own stream. When it has sent everything stored
// it waits on the EventHub, which wakes it when newer events commit; once it
// has caught up, its reads run on the hub's thread, never on gRPC's, which
// serve every caller. Because every read is "sequence > position" there is no
// gap and no duplicate at the switch from replay to live. It ends with
// UNAVAILABLE on server shutdown and OUT_OF_RANGE if retention overtakes it.
#ifndef ROSTER_SERVER_API_EVENT_STREAM_H_
#define ROSTER_SERVER_API_EVENT_STREAM_H_

#include <grpcpp/support/server_callback.h>

#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "roster/v1/resources.pb.h"
#include "server/api/event_hub.h"
#include "server/domain/event_service.h"

namespace roster::api {

// Thread-safe: gRPC, the fan-out thread and cancellation may call it
// concurrently.
class WatchEventsStream final
    : public grpc::ServerWriteReactor<roster::v1::Event>,
      public EventHub::Listener {
 public:
  // Starts streaming from `position` (validated by EventService::StartWatch),
  // in a slot the caller took with hub->AdmitStream(): OnDone gives it back.
  // gRPC owns the returned reactor; it deletes itself in OnDone.
  static WatchEventsStream* Start(domain::EventService* events, EventHub* hub,
                                  int64_t position,
                                  std::vector<std::string> types);
  // A stream that only reports `status`.
  static grpc::ServerWriteReactor<roster::v1::Event>* Fail(
      const grpc::Status& status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void OnNewEvents() override;
  void OnShutdown() override;

 private:
  // Events read from the database per query.
  static constexpr int32_t kBatch = 100;

  WatchEventsStream(domain::EventService* events, EventHub* hub,
                    int64_t position, std::vector<std::string> types);

  // Sends the next event, or reads the next batch (only if `may_read`), or
  // waits on the hub, or finishes.
  void Pump(bool may_read);
  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status ShutdownStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  domain::EventService* const events_;  // Not owned.
  EventHub* const hub_;                 // Not owned.
  const std::vector<std::string> types_;
  absl::Mutex mu_;
  int64_t position_ ABSL_GUARDED_BY(mu_);  // Scanned through here.
  int64_t last_sent_
      ABSL_GUARDED_BY(mu_);  // Sequence of the last event written.
  std::deque<storage::EventRecord> pending_ ABSL_GUARDED_BY(mu_);
  roster::v1::Event current_
      ABSL_GUARDED_BY(mu_);  // Owned by gRPC until OnWriteDone.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // The first write has begun.
  // The last read filled a batch: more may be stored than the hub knows of.
  bool more_stored_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_EVENT_STREAM_H_

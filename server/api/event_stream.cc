#include "server/api/event_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/api/proto_mapping.h"
#include "server/api/status_mapping.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

// Reports one status and goes away.
class FailedStream final : public grpc::ServerWriteReactor<roster::v1::Event> {
 public:
  explicit FailedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override {
    delete this;
  }  // gRPC's reactor idiom: it ends its own life.
};

}  // namespace

WatchEventsStream* WatchEventsStream::Start(domain::EventService* events,
                                            EventHub* hub, int64_t position,
                                            std::vector<std::string> types) {
  // gRPC's reactor idiom: the reactor owns itself from here and deletes itself
  // in OnDone.
  auto* stream = new WatchEventsStream(events, hub, position, std::move(types));
  stream->Pump(/*may_read=*/true);
  return stream;
}

grpc::ServerWriteReactor<roster::v1::Event>* WatchEventsStream::Fail(
    const grpc::Status& status) {
  return new FailedStream(status);
}

WatchEventsStream::WatchEventsStream(domain::EventService* events,
                                     EventHub* hub, int64_t position,
                                     std::vector<std::string> types)
    : events_(events),
      hub_(hub),
      types_(std::move(types)),
      position_(position),
      last_sent_(position) {}

void WatchEventsStream::Pump(bool may_read) {
  absl::MutexLock lock(&mu_);
  if (finished_) {
    return;
  }
  if (hub_->shutting_down()) {
    FinishLocked(ShutdownStatus());
    return;
  }
  if (pending_.empty() && !may_read && !more_stored_) {
    // Live, the next read waits for the hub's thread: on gRPC's threads it
    // would queue every caller's requests behind the fan-out's reads. A
    // replay reads on (the hub hears only of commits since start-up).
    if (!hub_->Wait(this, position_)) {
      FinishLocked(ShutdownStatus());
    }
    return;
  }
  if (pending_.empty()) {
    auto scan = events_->Scan(position_, types_, kBatch);
    if (!scan.ok()) {
      FinishLocked(ToGrpcStatus(scan.status()));
      return;
    }
    position_ = scan->scanned_through;
    more_stored_ = static_cast<int32_t>(scan->events.size()) == kBatch;
    pending_.assign(std::make_move_iterator(scan->events.begin()),
                    std::make_move_iterator(scan->events.end()));
    if (pending_.empty()) {
      if (!hub_->Wait(this, position_)) {
        FinishLocked(ShutdownStatus());
      }
      return;
    }
  }
  ToProto(pending_.front(), current_);
  last_sent_ = pending_.front().sequence;
  pending_.pop_front();
  // Events already read are written as one: gRPC holds a write with the
  // buffer hint until a write without it, so a batch costs one send, not one
  // per event per stream. Never the first write: it carries the initial
  // metadata, and gRPC reports it done only once that has been sent.
  const bool more_follow = !pending_.empty() && started_;
  started_ = true;
  StartWrite(&current_, more_follow ? grpc::WriteOptions().set_buffer_hint()
                                    : grpc::WriteOptions());
}

void WatchEventsStream::OnWriteDone(bool ok) {
  if (!ok) {
    absl::MutexLock lock(&mu_);
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    return;
  }
  Pump(/*may_read=*/false);
}

void WatchEventsStream::OnNewEvents() { Pump(/*may_read=*/true); }

void WatchEventsStream::OnShutdown() {
  absl::MutexLock lock(&mu_);
  FinishLocked(ShutdownStatus());
}

void WatchEventsStream::OnCancel() {
  hub_->Cancel(this);
  absl::MutexLock lock(&mu_);
  FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
}

void WatchEventsStream::OnDone() {
  // After Cancel no fan-out call to this stream is running or can start.
  hub_->Cancel(this);
  hub_->ReleaseStream();
  delete this;  // gRPC's reactor idiom: OnDone is the last call a reactor
                // receives.
}

void WatchEventsStream::FinishLocked(const grpc::Status& status) {
  if (finished_) {
    return;
  }
  finished_ = true;
  Finish(status);
}

grpc::Status WatchEventsStream::ShutdownStatus() const {
  return ToGrpcStatus(domain::Error(
      absl::StatusCode::kUnavailable, "SHUTTING_DOWN",
      absl::StrCat("the server is shutting down; resume with after_sequence ",
                   last_sent_)));
}

}  // namespace roster::api

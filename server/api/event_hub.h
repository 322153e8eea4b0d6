// EventHub: wakes idle WatchEvents streams when new events commit.
//
// The store reports each commit's newest sequence through Publish(), on the
// writer thread, so Publish only records it. A fan-out thread then calls every
// listener waiting for events beyond its position; neither the writer nor other
// listeners wait on a slow one. On Shutdown() every waiting listener is told to
// end its stream.
//
// Thread-safe.
#ifndef ROSTER_SERVER_API_EVENT_HUB_H_
#define ROSTER_SERVER_API_EVENT_HUB_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace roster::api {

class EventHub {
 public:
  // A stream waiting for events. Its methods run on the fan-out thread.
  class Listener {
   public:
    virtual ~Listener() = default;
    // An event after the position it waited for has committed.
    virtual void OnNewEvents() = 0;
    // The server is shutting down.
    virtual void OnShutdown() = 0;
  };

  // At most `max_streams` WatchEvents streams open at once (DESIGN §14): each
  // is sent every event, so their number multiplies the fan-out's work.
  explicit EventHub(int max_streams = 100);
  // Shuts down and joins the fan-out thread.
  ~EventHub();

  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Records that events up to `latest_sequence` have committed. Cheap; any
  // thread.
  void Publish(int64_t latest_sequence);

  // Calls listener->OnNewEvents() once, from the fan-out thread, as soon as an
  // event after `position` has been published (at once if one already has).
  // False, and no call, when the hub is shutting down.
  bool Wait(Listener* listener, int64_t position);

  // Forgets `listener`. When this returns no call to it is running and none
  // will start. Must not be called from inside a Listener method.
  void Cancel(Listener* listener);

  // Admits one more stream while fewer than max_streams are open; an admitted
  // stream calls ReleaseStream() exactly once, when it ends.
  bool AdmitStream();
  void ReleaseStream();
  // Waits, up to `timeout`, until every admitted stream has been released;
  // false if some still had not. gRPC's Server::Shutdown may return while a
  // stream's OnDone, which calls Cancel and ReleaseStream, is still running:
  // the hub must outlive it.
  bool AwaitStreamsReleased(absl::Duration timeout);

  // Sends OnShutdown() to every waiting listener; later Wait() calls return
  // false.
  void Shutdown();
  bool shutting_down() const;

 private:
  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Held while listeners are collected and called, so Cancel() can wait out a
  // call in flight.
  absl::Mutex dispatch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  int64_t latest_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Waiting listeners by position, so "is anyone behind latest_" is one
  // comparison.
  std::multimap<int64_t, Listener*> waiting_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Listener*, std::multimap<int64_t, Listener*>::iterator>
      positions_ ABSL_GUARDED_BY(mu_);
  const int max_streams_;
  std::atomic<int> open_streams_{0};
  std::thread thread_;
};

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_EVENT_HUB_H_

// Deliverer: sends the codes of email.created / sms.created events itself
// (DESIGN §13), reading the outbox from a cursor kept in the database.
//
// - At least once: the cursor moves past an event only in the transaction
//   after its send; a holder that dies mid-send leaves `in_flight`, and the
//   next holder sends that event again (counted as a possible duplicate).
// - Never on a request's path: one background thread, woken by commits and
//   a poll; a slow or dead receiver delays nothing but later messages.
// - One sender among replicas: a lease in the state row; every progress write
//   checks it, so a holder that lost it stops.
// - Retries with exponential backoff until the code expires; a recipient's
//   later messages wait behind its earlier ones (order per recipient).
//
// Thread-safe: Notify and RenderMetrics from any thread.
#ifndef ROSTER_SERVER_DELIVERY_DELIVERER_H_
#define ROSTER_SERVER_DELIVERY_DELIVERER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/delivery/senders.h"
#include "server/domain/clock.h"
#include "server/domain/events.h"
#include "storage/user_store.h"

namespace roster::delivery {

struct DelivererOptions {
  // This process's name in the lease: unique per process, so a restarted
  // replica is a new holder.
  std::string owner;
  absl::Duration lease = absl::Seconds(30);
  // How often to look for events other replicas committed and retries due.
  absl::Duration poll = absl::Seconds(1);
  absl::Duration first_backoff = absl::Seconds(2);
  absl::Duration max_backoff = absl::Minutes(5);
  int32_t batch = 100;
  // Retries read per pass. DESIGN §14's hourly code limits keep far fewer
  // codes alive at once.
  int32_t max_retries = 2000;
  // Set by Stop so that a send in progress aborts (Transport::cancel).
  std::atomic<bool>* cancel = nullptr;
  // One log line: level, message, further JSON fields (`,"k":v`).
  std::function<void(absl::string_view, absl::string_view, absl::string_view)>
      log;
};

class Deliverer {
 public:
  // `email` or `sms` may be null: that channel is not delivered here (its
  // events still pass the cursor). The pointers outlive the deliverer.
  Deliverer(storage::UserStore* store, const domain::Clock* clock,
            const domain::EventEncoder* codec, std::unique_ptr<Sender> email,
            std::unique_ptr<Sender> sms, DelivererOptions options);
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  // The first time delivery is turned on, fixes where it starts: after the
  // newest event now, so codes made before are not sent. Call it before the
  // server accepts requests. Left to the thread's first pass, it skipped the
  // codes made between the listeners opening and that pass.
  absl::Status StartFromNow();
  // Starts the background thread.
  void Start();
  // Stops it, aborting a send in progress; idempotent.
  void Stop();
  // New events committed: look now rather than at the next poll.
  void Notify();

  // One pass: takes or renews the lease, retries what is due, sends new
  // events. OK when another replica holds the lease. The background thread
  // calls it; tests may too (without Start). Not reentrant.
  absl::Status RunOnce();

  // The deliverer's counters in the Prometheus text format.
  std::string RenderMetrics() const;

 private:
  struct Channel;
  struct Pass;
  // The log's newest sequence (any type), where a fresh cursor starts.
  absl::StatusOr<int64_t> NewestSequence();
  absl::Status TakeLease(Pass& pass);
  absl::Status RetryDue(Pass& pass);
  absl::Status SendNew(Pass& pass);
  // Runs `body` in a transaction that first checks this process still holds
  // the lease (FailedPrecondition if not) and then renews it.
  absl::Status Commit(
      const std::function<absl::Status(storage::WriteTransaction&,
                                       storage::DeliveryStateRecord&)>& body);
  // True when a pass would do nothing: another replica's lease is still
  // good, or ours is, no retry is due and no code event is past the cursor.
  // A read error is true with `status` set.
  bool NothingToDo(absl::Time now, absl::Status& status);
  Channel* ChannelOf(absl::string_view type);
  absl::Duration Backoff(int32_t attempts) const;
  void Log(absl::string_view level, absl::string_view msg,
           const storage::EventRecord& event,
           const domain::VerificationMessage& message,
           absl::string_view detail) const;
  void Run();

  storage::UserStore* const store_;
  const domain::Clock* const clock_;
  const domain::EventEncoder* const codec_;
  const DelivererOptions options_;
  std::unique_ptr<Channel> email_;
  std::unique_ptr<Channel> sms_;

  std::atomic<int64_t> duplicates_{0};
  std::atomic<int64_t> pending_retries_{0};
  std::atomic<int64_t> queue_age_micros_{0};
  std::atomic<bool> holding_lease_{false};

  // What the last pass learnt; RunOnce's alone.
  absl::Time lease_until_ = absl::InfinitePast();  // Ours, or the holder's.
  absl::Time next_retry_at_ = absl::InfiniteFuture();
  int64_t known_cursor_ = -1;  // -1: unknown, run a full pass.

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace roster::delivery

#endif  // ROSTER_SERVER_DELIVERY_DELIVERER_H_

// A provider's answer kept between calls (its discovery document, its JWK
// Set), so that in an outage one caller at a time waits on the provider, not
// each. One fetch runs at a time: until one has succeeded or failed, callers
// wait for it (until their deadlines); after that, callers arriving during a
// fetch get what is kept. A failed fetch leaves what is kept, and no other is
// tried for `retry`: callers meanwhile get what is kept or, with nothing kept,
// the failure. What is kept is fetched again once older than `lifetime`, or
// when a caller asks for a refresh and it is older than `refresh_interval`.
//
// Thread-safe.
#ifndef ROSTER_SERVER_OAUTH_KEPT_ANSWER_H_
#define ROSTER_SERVER_OAUTH_KEPT_ANSWER_H_

#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"

namespace roster::oauth {

template <typename T>
class KeptAnswer {
 public:
  struct Policy {
    absl::Duration lifetime = absl::InfiniteDuration();
    absl::Duration refresh_interval = absl::InfiniteDuration();
    absl::Duration retry;
  };

  // `what` names the answer in errors ("the JWK Set"); `clock` is not owned
  // and must outlive this.
  KeptAnswer(std::string what, Policy policy, const domain::Clock* clock)
      : what_(std::move(what)), policy_(policy), clock_(clock) {}

  // The answer kept, or `fetch`'s; see the file comment. DEADLINE_EXCEEDED
  // if `deadline` passes while the call waits for another's fetch.
  absl::StatusOr<T> Get(absl::FunctionRef<absl::StatusOr<T>()> fetch,
                        absl::Time deadline = absl::InfiniteFuture(),
                        bool refresh = false) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        const absl::Time now = clock_->Now();
        const absl::Duration age = now - fetched_at_;
        if (kept_.has_value() && age < policy_.lifetime &&
            (!refresh || age < policy_.refresh_interval)) {
          return *kept_;
        }
        const bool failed = !failure_.ok();
        if (fetching_ && !failed && !kept_.has_value()) {
          // The first fetch is under way: its answer is this call's too, if
          // it comes before the caller leaves.
          if (!mu_.AwaitWithDeadline(
                  absl::Condition(
                      +[](bool* fetching) { return !*fetching; }, &fetching_),
                  deadline)) {
            return absl::DeadlineExceededError(
                absl::StrCat("the caller left while ", what_, " was fetched"));
          }
          continue;
        }
        // In an outage one call at a time, once a retry interval, waits on
        // the provider; the others are answered at once.
        if (fetching_ || (failed && now - failed_at_ < policy_.retry)) {
          if (kept_.has_value()) {
            return *kept_;
          }
          return failure_;
        }
        fetching_ = true;
        break;
      }
    }
    // Fetched outside the lock: a slow provider must not hold up the callers
    // what is kept can answer.
    absl::StatusOr<T> fetched = fetch();
    absl::MutexLock lock(&mu_);
    fetching_ = false;
    if (fetched.ok()) {
      kept_ = *fetched;
      fetched_at_ = clock_->Now();
      failure_ = absl::OkStatus();
      return fetched;
    }
    failure_ = fetched.status();
    failed_at_ = clock_->Now();  // A retry waits from the end of this one.
    if (kept_.has_value()) {
      return *kept_;  // A provider briefly down: what is kept holds.
    }
    return fetched;
  }

 private:
  const std::string what_;
  const Policy policy_;
  const domain::Clock* const clock_;
  absl::Mutex mu_;
  std::optional<T> kept_ ABSL_GUARDED_BY(mu_);
  absl::Time fetched_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // How the last fetch failed (OK if it did not), and when.
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  absl::Time failed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace roster::oauth

#endif  // ROSTER_SERVER_OAUTH_KEPT_ANSWER_H_

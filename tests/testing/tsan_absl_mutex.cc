// Linked only into ThreadSanitizer builds (ROSTER_TSAN). Debian's Abseil is
// not built with TSan, so absl::Mutex synchronises through futexes and atomics
// TSan cannot see, and every access it guards would be reported as a race.
// These definitions interpose the exported absl::Mutex, absl::CondVar and
// absl::Notification entry points (the executable's symbols win over
// libabsl_synchronization.so's for every caller, gRPC included), call the real
// ones, and tell TSan what they mean: a lock acquires the mutex's
// happens-before state, an unlock releases it, a wait releases before blocking
// and acquires after; a notification releases, and a wait that finds it
// notified acquires (even when it was already notified, which the real call
// decides by an atomic load TSan cannot see). The real calls run with this
// thread's accesses ignored: absl evaluates Conditions (reads of guarded
// state) inside them, on whichever thread holds the lock, at moments the
// annotations cannot mark. absl's own deadlock detector is switched off
// for the same reason.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

#define ROSTER_STRINGIFY2(x) #x
#define ROSTER_STRINGIFY(x) ROSTER_STRINGIFY2(x)

// TSan's dynamic-annotation entry points (declared by no installed header).
extern "C" {
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
}

namespace {

void IgnoreBegin() {
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
}

void IgnoreEnd() {
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
}

// The real function for an absl::<class>::<member> mangled `suffix`, e.g.
// "5Mutex4LockEv"; `prefix` is "_ZNK4absl" for a const member.
template <typename Fn>
Fn Real(const char* suffix, const char* prefix = "_ZN4absl") {
  const std::string ns = ROSTER_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = prefix + std::to_string(ns.size()) + ns + suffix;
  void* real = dlsym(RTLD_NEXT, name.c_str());
  if (real == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(real);
}

// absl's own deadlock detector updates a graph under an internal spin lock TSan
// cannot see either; TSan's deadlock detector takes its place here.
const bool deadlock_detection_off = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

#define REAL(type, suffix)                     \
  static const auto real = Real<type>(suffix); \
  (void)0
#define REAL_CONST(type, suffix)                            \
  static const auto real = Real<type>(suffix, "_ZNK4absl"); \
  (void)0

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  REAL(void (*)(Mutex*), "5Mutex4LockEv");
  IgnoreBegin();
  real(this);
  IgnoreEnd();
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  REAL(void (*)(Mutex*), "5Mutex10ReaderLockEv");
  IgnoreBegin();
  real(this);
  IgnoreEnd();
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  REAL(bool (*)(Mutex*), "5Mutex7TryLockEv");
  IgnoreBegin();
  const bool locked = real(this);
  IgnoreEnd();
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  REAL(bool (*)(Mutex*), "5Mutex13ReaderTryLockEv");
  IgnoreBegin();
  const bool locked = real(this);
  IgnoreEnd();
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  REAL(void (*)(Mutex*), "5Mutex6UnlockEv");
  __tsan_release(this);
  IgnoreBegin();
  real(this);
  IgnoreEnd();
}

void Mutex::ReaderUnlock() {
  REAL(void (*)(Mutex*), "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  IgnoreBegin();
  real(this);
  IgnoreEnd();
}

void Mutex::LockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&), "5Mutex8LockWhenERKNS0_9ConditionE");
  IgnoreBegin();
  real(this, cond);
  IgnoreEnd();
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&),
       "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  IgnoreBegin();
  real(this, cond);
  IgnoreEnd();
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, Duration),
       "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  IgnoreBegin();
  const bool met = real(this, cond, timeout);
  IgnoreEnd();
  __tsan_acquire(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, Time),
       "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  IgnoreBegin();
  const bool met = real(this, cond, deadline);
  IgnoreEnd();
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&), "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  IgnoreBegin();
  real(this, cond);
  IgnoreEnd();
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, Duration),
       "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  IgnoreBegin();
  const bool met = real(this, cond, timeout);
  IgnoreEnd();
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, Time),
       "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  IgnoreBegin();
  const bool met = real(this, cond, deadline);
  IgnoreEnd();
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  IgnoreBegin();
  real(this, mu);
  IgnoreEnd();
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  REAL(bool (*)(CondVar*, Mutex*, Duration),
       "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  IgnoreBegin();
  const bool timed_out = real(this, mu, timeout);
  IgnoreEnd();
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  REAL(bool (*)(CondVar*, Mutex*, Time),
       "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  IgnoreBegin();
  const bool timed_out = real(this, mu, deadline);
  IgnoreEnd();
  __tsan_acquire(mu);
  return timed_out;
}

void Notification::Notify() {
  REAL(void (*)(Notification*), "12Notification6NotifyEv");
  __tsan_release(this);
  IgnoreBegin();
  real(this);
  IgnoreEnd();
}

void Notification::WaitForNotification() const {
  REAL_CONST(void (*)(const Notification*),
             "12Notification19WaitForNotificationEv");
  IgnoreBegin();
  real(this);
  IgnoreEnd();
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  REAL_CONST(bool (*)(const Notification*, Duration),
             "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  IgnoreBegin();
  const bool notified = real(this, timeout);
  IgnoreEnd();
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  REAL_CONST(bool (*)(const Notification*, Time),
             "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  IgnoreBegin();
  const bool notified = real(this, deadline);
  IgnoreEnd();
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl

#include "server/delivery/deliverer.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace roster::delivery {

// One delivery channel: its sender and its counters.
struct Deliverer::Channel {
  const char* name;
  std::unique_ptr<Sender> sender;
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> retried{0};
  std::atomic<int64_t> rejected{0};
  std::atomic<int64_t> expired{0};
};

// What one RunOnce has learnt so far.
struct Deliverer::Pass {
  absl::Time now;
  bool held = false;
  int64_t cursor = 0;
  // The event a previous holder was sending when it stopped (0: none).
  int64_t resend = 0;
  std::vector<storage::DeliveryRetryRecord> retries;
  // Recipients whose earlier message still waits: their later ones queue.
  absl::flat_hash_set<std::string> waiting;
};

namespace {

const std::vector<std::string>& CodeEventTypes() {
  static const auto* types = new std::vector<std::string>{
      domain::event_type::kEmailCreated, domain::event_type::kSmsCreated};
  return *types;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

Deliverer::Deliverer(storage::UserStore* store, const domain::Clock* clock,
                     const domain::EventEncoder* codec,
                     std::unique_ptr<Sender> email, std::unique_ptr<Sender> sms,
                     DelivererOptions options)
    : store_(store),
      clock_(clock),
      codec_(codec),
      options_(std::move(options)),
      email_(std::make_unique<Channel>()),
      sms_(std::make_unique<Channel>()) {
  email_->name = "email";
  email_->sender = std::move(email);
  sms_->name = "sms";
  sms_->sender = std::move(sms);
}

Deliverer::~Deliverer() { Stop(); }

absl::StatusOr<int64_t> Deliverer::NewestSequence() {
  storage::EventQuery newest;
  newest.limit = 1;
  auto head = store_->ReadEvents(newest);
  if (!head.ok()) {
    return head.status();
  }
  return head->latest;
}

absl::Status Deliverer::StartFromNow() {
  auto newest = NewestSequence();
  if (!newest.ok()) {
    return newest.status();
  }
  // A code committed between the read and this write has a later sequence,
  // so it is still sent.
  return store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
    auto state = txn.GetDeliveryState();
    if (!state.ok()) {
      return state.status();
    }
    if (state->cursor >= 0) {
      return absl::OkStatus();
    }
    state->cursor = *newest;
    return txn.PutDeliveryState(*state);
  });
}

void Deliverer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Deliverer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (options_.cancel != nullptr) {
    options_.cancel->store(true);
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Deliverer::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

void Deliverer::Run() {
  for (;;) {
    absl::Status pass = RunOnce();
    if (!pass.ok() && options_.log) {
      options_.log("warn", "code delivery pass failed",
                   absl::StrCat(",\"error\":", JsonString(pass.ToString())));
    }
    absl::MutexLock lock(&mu_);
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || notified_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&wake), options_.poll);
    if (stopping_) {
      return;
    }
    notified_ = false;
  }
}

Deliverer::Channel* Deliverer::ChannelOf(absl::string_view type) {
  Channel* channel =
      type == domain::event_type::kEmailCreated ? email_.get() : sms_.get();
  return channel->sender != nullptr ? channel : nullptr;
}

absl::Duration Deliverer::Backoff(int32_t attempts) const {
  absl::Duration wait = options_.first_backoff;
  for (int32_t i = 1; i < attempts && wait < options_.max_backoff; ++i) {
    wait *= 2;
  }
  return std::min(wait, options_.max_backoff);
}

absl::Status Deliverer::Commit(
    const std::function<absl::Status(storage::WriteTransaction&,
                                     storage::DeliveryStateRecord&)>& body) {
  const storage::Micros lease_until =
      absl::ToUnixMicros(clock_->Now() + options_.lease);
  absl::Status written = store_->Write([&](storage::WriteTransaction& txn) {
    auto state = txn.GetDeliveryState();
    if (!state.ok()) {
      return state.status();
    }
    if (state->lease_owner != options_.owner) {
      return absl::FailedPreconditionError(
          "the delivery lease passed to another replica");
    }
    absl::Status done = body(txn, *state);
    if (!done.ok()) {
      return done;
    }
    state->lease_until = lease_until;
    return txn.PutDeliveryState(*state);
  });
  if (absl::IsFailedPrecondition(written)) {
    holding_lease_ = false;
    lease_until_ = absl::InfinitePast();  // The next pass reads the holder's.
  } else if (written.ok()) {
    lease_until_ = absl::FromUnixMicros(lease_until);
  }
  return written;
}

absl::Status Deliverer::TakeLease(Pass& pass) {
  // The newest sequence, should the cursor StartFromNow set be missing (the
  // state row replaced, say): delivery then goes on from the codes made
  // after now rather than stopping, and never resends the whole history.
  auto newest = NewestSequence();
  if (!newest.ok()) {
    return newest.status();
  }
  const storage::Micros now = absl::ToUnixMicros(pass.now);
  absl::Status taken = store_->Write([&](storage::WriteTransaction& txn) {
    auto state = txn.GetDeliveryState();
    if (!state.ok()) {
      return state.status();
    }
    pass.held = state->lease_owner == options_.owner ||
                state->lease_until <= now || state->lease_owner.empty();
    if (!pass.held) {
      lease_until_ = absl::FromUnixMicros(state->lease_until);
      return absl::OkStatus();
    }
    if (state->cursor < 0) {
      state->cursor = *newest;
    }
    if (state->lease_owner != options_.owner && state->in_flight > 0 &&
        state->in_flight > state->cursor) {
      pass.resend = state->in_flight;
    }
    state->lease_owner = options_.owner;
    state->lease_until = absl::ToUnixMicros(pass.now + options_.lease);
    pass.cursor = state->cursor;
    auto retries = txn.ListDeliveryRetries(options_.max_retries);
    if (!retries.ok()) {
      return retries.status();
    }
    pass.retries = *std::move(retries);
    return txn.PutDeliveryState(*state);
  });
  holding_lease_ = taken.ok() && pass.held;
  if (holding_lease_) {
    lease_until_ = pass.now + options_.lease;
  } else if (!taken.ok()) {
    lease_until_ = absl::InfinitePast();
  }
  return taken;
}

void Deliverer::Log(absl::string_view level, absl::string_view msg,
                    const storage::EventRecord& event,
                    const domain::VerificationMessage& message,
                    absl::string_view detail) const {
  if (!options_.log) {
    return;
  }
  // Never the code, never the whole address.
  options_.log(level, msg,
               absl::StrCat(",\"event_id\":", JsonString(event.id),
                            ",\"type\":", JsonString(event.type), ",\"to\":",
                            JsonString(MaskAddress(message.address)),
                            ",\"purpose\":", JsonString(message.purpose),
                            ",\"detail\":", JsonString(detail)));
}

absl::Status Deliverer::RetryDue(Pass& pass) {
  const storage::Micros now = absl::ToUnixMicros(pass.now);
  absl::flat_hash_set<std::string> blocked;
  std::vector<storage::DeliveryRetryRecord> remaining;
  for (storage::DeliveryRetryRecord& retry : pass.retries) {
    if (blocked.contains(retry.recipient) || retry.next_attempt_at > now) {
      blocked.insert(retry.recipient);
      remaining.push_back(std::move(retry));
      continue;
    }
    storage::EventQuery one;
    one.after_sequence = retry.sequence - 1;
    one.types = CodeEventTypes();
    one.limit = 1;
    auto read = store_->ReadEvents(one);
    if (!read.ok()) {
      return read.status();
    }
    std::optional<domain::VerificationMessage> message;
    Channel* channel = nullptr;
    if (!read->events.empty() && read->events[0].sequence == retry.sequence) {
      const storage::EventRecord& event = read->events[0];
      message = codec_->DecodeMessage(event.type, event.payload);
      channel = ChannelOf(event.type);
    }
    SendOutcome outcome = SendOutcome::kRejected;
    if (message.has_value() && channel != nullptr) {
      const storage::EventRecord& event = read->events[0];
      const absl::Time send_time = clock_->Now();
      if (absl::FromUnixMicros(message->expire_at) <= send_time) {
        ++channel->expired;
        Log("warn", "code expired before delivery", event, *message, "");
      } else {
        SendResult result =
            channel->sender->Send(*message, event.id, send_time);
        outcome = result.outcome;
        if (outcome == SendOutcome::kSent) {
          ++channel->sent;
        } else if (outcome == SendOutcome::kRetry) {
          ++channel->retried;
          Log("warn", "code delivery failed; will retry", event, *message,
              result.detail);
        } else {
          ++channel->rejected;
          Log("warn", "code delivery rejected", event, *message, result.detail);
        }
      }
    }
    if (outcome == SendOutcome::kRetry) {
      ++retry.attempts;
      retry.next_attempt_at =
          absl::ToUnixMicros(clock_->Now() + Backoff(retry.attempts));
      blocked.insert(retry.recipient);
    }
    absl::Status saved = Commit(
        [&](storage::WriteTransaction& txn, storage::DeliveryStateRecord&) {
          return outcome == SendOutcome::kRetry
                     ? txn.PutDeliveryRetry(retry)
                     : txn.DeleteDeliveryRetry(retry.sequence);
        });
    if (!saved.ok()) {
      return saved;
    }
    if (outcome == SendOutcome::kRetry) {
      remaining.push_back(std::move(retry));
    }
    if (absl::MutexLock lock(&mu_); stopping_) {
      break;
    }
  }
  pass.retries = std::move(remaining);
  for (const auto& retry : pass.retries) {
    pass.waiting.insert(retry.recipient);
  }
  return absl::OkStatus();
}

absl::Status Deliverer::SendNew(Pass& pass) {
  int64_t done = pass.cursor;  // Handled, not yet written.
  for (;;) {
    storage::EventQuery query;
    query.after_sequence = pass.cursor;
    query.types = CodeEventTypes();
    query.limit = options_.batch;
    auto batch = store_->ReadEvents(query);
    if (!batch.ok()) {
      return batch.status();
    }
    if (batch->pruned_through > pass.cursor && options_.log) {
      options_.log(
          "warn", "codes were deleted by retention before delivery",
          absl::StrCat(",\"through_sequence\":", batch->pruned_through));
    }
    for (const storage::EventRecord& event : batch->events) {
      if (absl::MutexLock lock(&mu_); stopping_) {
        break;
      }
      auto message = codec_->DecodeMessage(event.type, event.payload);
      Channel* channel = ChannelOf(event.type);
      // The pass may have begun before this code was made: the time a message
      // tells (minutes left, a signature's t=) is now, not the pass's start.
      const absl::Time send_time = clock_->Now();
      const storage::Micros now = absl::ToUnixMicros(send_time);
      if (!message.has_value() || channel == nullptr) {
        done = event.sequence;
        continue;
      }
      if (message->expire_at <= now) {
        ++channel->expired;
        Log("warn", "code expired before delivery", event, *message, "");
        done = event.sequence;
        continue;
      }
      if (pass.waiting.contains(message->address)) {
        // Behind an earlier message to the same recipient: queue it.
        storage::DeliveryRetryRecord queued{event.sequence, message->address, 0,
                                            now, event.created_at};
        absl::Status saved = Commit([&](storage::WriteTransaction& txn,
                                        storage::DeliveryStateRecord& state) {
          state.cursor = event.sequence;
          state.in_flight = 0;
          return txn.PutDeliveryRetry(queued);
        });
        if (!saved.ok()) {
          return saved;
        }
        pass.cursor = done = event.sequence;
        pass.retries.push_back(std::move(queued));
        continue;
      }
      // Mark the send before it happens, with the progress so far.
      absl::Status marked = Commit(
          [&](storage::WriteTransaction&, storage::DeliveryStateRecord& state) {
            state.cursor = done;
            state.in_flight = event.sequence;
            return absl::OkStatus();
          });
      if (!marked.ok()) {
        return marked;
      }
      pass.cursor = done;
      if (event.sequence == pass.resend) {
        // The last holder stopped between handing this message over and
        // recording it: it may have arrived already.
        ++duplicates_;
        Log("info", "resending a message an earlier sender may have sent",
            event, *message, "");
      }
      SendResult result = channel->sender->Send(*message, event.id, send_time);
      done = event.sequence;
      if (result.outcome == SendOutcome::kSent) {
        ++channel->sent;
        continue;
      }
      if (result.outcome == SendOutcome::kRejected) {
        ++channel->rejected;
        Log("warn", "code delivery rejected", event, *message, result.detail);
        continue;
      }
      ++channel->retried;
      Log("warn", "code delivery failed; will retry", event, *message,
          result.detail);
      storage::DeliveryRetryRecord retry{
          event.sequence, message->address, 1,
          absl::ToUnixMicros(clock_->Now() + Backoff(1)), event.created_at};
      absl::Status saved = Commit([&](storage::WriteTransaction& txn,
                                      storage::DeliveryStateRecord& state) {
        state.cursor = event.sequence;
        state.in_flight = 0;
        return txn.PutDeliveryRetry(retry);
      });
      if (!saved.ok()) {
        return saved;
      }
      pass.cursor = event.sequence;
      pass.waiting.insert(message->address);
      pass.retries.push_back(std::move(retry));
    }
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
    }
    const bool drained =
        static_cast<int32_t>(batch->events.size()) < options_.batch;
    if (drained && !stopping) {
      // Every code event up to the snapshot's newest sequence was in it.
      done = std::max(done, batch->latest);
    }
    absl::Status saved = Commit(
        [&](storage::WriteTransaction&, storage::DeliveryStateRecord& state) {
          state.cursor = std::max(state.cursor, done);
          state.in_flight = 0;
          return absl::OkStatus();
        });
    if (!saved.ok()) {
      return saved;
    }
    pass.cursor = done;
    if (drained || stopping) {
      return absl::OkStatus();
    }
  }
}

bool Deliverer::NothingToDo(absl::Time now, absl::Status& status) {
  if (!holding_lease_) {
    // Another replica sends until its lease ends: not even a read till then.
    return now < lease_until_;
  }
  if (now + options_.lease / 2 >= lease_until_ || now >= next_retry_at_ ||
      known_cursor_ < 0) {
    return false;  // The lease wants renewing, or a retry is due.
  }
  storage::EventQuery fresh;
  fresh.after_sequence = known_cursor_;
  fresh.types = CodeEventTypes();
  fresh.limit = 1;
  auto batch = store_->ReadEvents(fresh);
  if (!batch.ok()) {
    status = batch.status();
    return true;
  }
  return batch->events.empty();
}

absl::Status Deliverer::RunOnce() {
  Pass pass;
  pass.now = clock_->Now();
  // Every commit wakes the deliverer; most append no code. A read, not a
  // write, tells it so.
  absl::Status quiet;
  if (NothingToDo(pass.now, quiet)) {
    return quiet;
  }
  absl::Status leased = TakeLease(pass);
  if (!leased.ok() || !pass.held) {
    return leased;
  }
  absl::Status retried = RetryDue(pass);
  if (!retried.ok()) {
    return retried;
  }
  absl::Status sent = SendNew(pass);
  storage::Micros oldest = std::numeric_limits<storage::Micros>::max();
  next_retry_at_ = absl::InfiniteFuture();
  for (const auto& retry : pass.retries) {
    oldest = std::min(oldest, retry.created_at);
    next_retry_at_ =
        std::min(next_retry_at_, absl::FromUnixMicros(retry.next_attempt_at));
  }
  known_cursor_ = sent.ok() ? pass.cursor : -1;
  pending_retries_ = static_cast<int64_t>(pass.retries.size());
  queue_age_micros_ =
      pass.retries.empty()
          ? 0
          : std::max<int64_t>(0, absl::ToUnixMicros(clock_->Now()) - oldest);
  return sent;
}

std::string Deliverer::RenderMetrics() const {
  std::string out;
  auto counter = [&out](const char* name, const char* help,
                        const Channel& email, const Channel& sms,
                        std::atomic<int64_t> Channel::*field) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " counter\n");
    for (const Channel* c : {&email, &sms}) {
      absl::StrAppend(&out, name, "{channel=\"", c->name, "\"} ",
                      (c->*field).load(), "\n");
    }
  };
  counter("roster_deliveries_sent_total", "Code messages sent.", *email_, *sms_,
          &Channel::sent);
  counter("roster_deliveries_retried_total",
          "Sends that failed and will be tried again.", *email_, *sms_,
          &Channel::retried);
  counter("roster_deliveries_rejected_total",
          "Messages the receiver refused for good.", *email_, *sms_,
          &Channel::rejected);
  counter("roster_deliveries_expired_total",
          "Codes that expired before they could be sent.", *email_, *sms_,
          &Channel::expired);
  absl::StrAppend(
      &out,
      "# HELP roster_deliveries_duplicates_total Messages sent again because "
      "a holder stopped mid-send.\n# TYPE roster_deliveries_duplicates_total "
      "counter\nroster_deliveries_duplicates_total ",
      duplicates_.load(),
      "\n# HELP roster_delivery_retries_pending Messages waiting for another "
      "try.\n# TYPE roster_delivery_retries_pending gauge\n"
      "roster_delivery_retries_pending ",
      pending_retries_.load(),
      "\n# HELP roster_delivery_queue_age_seconds Age of the oldest waiting "
      "message.\n# TYPE roster_delivery_queue_age_seconds gauge\n"
      "roster_delivery_queue_age_seconds ",
      static_cast<double>(queue_age_micros_.load()) / 1e6,
      "\n# HELP roster_delivery_lease_held Whether this replica sends.\n"
      "# TYPE roster_delivery_lease_held gauge\nroster_delivery_lease_held ",
      holding_lease_.load() ? 1 : 0, "\n");
  return out;
}

}  // namespace roster::delivery

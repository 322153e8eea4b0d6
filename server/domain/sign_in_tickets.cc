// SignInAttemptService's tickets (DESIGN §10–12): a flow that proved who the
// user is mints one; the app exchanges it once, within 60 s, for the same
// answer a right first factor gets.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "server/domain/errors.h"
#include "server/domain/ids.h"
#include "server/domain/sign_in_attempts.h"
#include "server/domain/sign_up.h"
#include "server/domain/user_checks.h"

namespace roster::domain {
namespace {

constexpr int kTicketLength = 43;  // 256 bits of base62.

absl::Status TicketInvalid() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kTicketInvalid,
               "the ticket is not valid (unknown, used or expired)");
}

}  // namespace

bool IsWellFormedSignInTicket(absl::string_view ticket) {
  if (!absl::ConsumePrefix(&ticket, kSignInTicketPrefix) ||
      ticket.size() != kTicketLength) {
    return false;
  }
  return std::all_of(ticket.begin(), ticket.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c));
  });
}

absl::StatusOr<std::string> SignInAttemptService::IssueTicket(
    storage::WriteTransaction& txn, absl::string_view user_id,
    absl::Time now) const {
  SystemRandom random;
  std::string ticket = NewSecret(random, kSignInTicketPrefix, kTicketLength);
  storage::SignInTicketRecord record;
  record.digest = Fingerprint(ticket);
  record.user_id = std::string(user_id);
  record.created_at = ToMicros(now);
  record.expire_at = ToMicros(now + kSignInTicketLifetime);
  absl::Status stored = txn.PutSignInTicket(record);
  if (!stored.ok()) {
    return stored;
  }
  return ticket;
}

absl::StatusOr<std::string> SignInAttemptService::IssueTicket(
    absl::string_view user_id) {
  absl::Status valid = internal::CheckUserId(user_id);
  if (!valid.ok()) {
    return valid;
  }
  std::string ticket;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = txn.GetUser(user_id);
        if (!user.ok()) {
          return user.status();
        }
        auto issued = IssueTicket(txn, user_id, clock_->Now());
        if (!issued.ok()) {
          return issued.status();
        }
        ticket = *std::move(issued);
        return absl::OkStatus();
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return ticket;
}

absl::StatusOr<SignInStep> SignInAttemptService::SignInWithTicket(
    const Caller& caller, absl::string_view ticket) {
  if (!IsWellFormedSignInTicket(ticket)) {
    return TicketInvalid();
  }
  const std::string digest = Fingerprint(ticket);
  SignInStep step;
  std::string sign_up_id;  // The ticket stood for a social sign-up.
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        sign_up_id.clear();
        const absl::Time now = clock_->Now();
        auto taken = txn.TakeSignInTicket(digest);
        if (!taken.ok()) {
          return taken.status();
        }
        if (!taken->has_value() || ToMicros(now) >= (*taken)->expire_at) {
          return TicketInvalid();
        }
        if (absl::StartsWith((*taken)->user_id, kSignUpIdPrefix)) {
          sign_up_id = (*taken)->user_id;
          return absl::OkStatus();  // Used up: its answer names the sign-up.
        }
        auto user = txn.GetUser((*taken)->user_id);
        if (absl::IsNotFound(user.status())) {
          return TicketInvalid();  // Deleted since.
        }
        if (!user.ok()) {
          return user.status();
        }
        storage::SignInAttemptRecord attempt;
        attempt.id = ids_->New(kSignInAttemptIdPrefix);
        attempt.identifier = PrimaryIdentifierOf(*user);
        attempt.user_id = user->id;
        attempt.created_at = attempt.updated_at = ToMicros(now);
        attempt.expire_at = ToMicros(now + kSignInAttemptLifetime);
        absl::Status completed =
            Complete(txn, caller, now, attempt, step, /*stored=*/false);
        if (step.session.has_value()) {
          step.attempt = {};  // Complete at once: SignIn's answer.
        }
        return completed;
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  if (!sign_up_id.empty()) {
    return WithErrorMetadata(
        Error(absl::StatusCode::kFailedPrecondition, reason::kSignUpIncomplete,
              "signing up needs more than the provider gave: complete the "
              "sign-up named in this error's sign_up_id with UpdateSignUp"),
        "sign_up_id", sign_up_id);
  }
  return step;
}

}  // namespace roster::domain

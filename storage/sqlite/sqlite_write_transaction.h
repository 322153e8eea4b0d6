// SqliteWriteTransaction: WriteTransaction on the writer connection, inside a
// transaction SqliteUserStore::Write opened. Internal to storage/.
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_WRITE_TRANSACTION_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_WRITE_TRANSACTION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/invitation_row.h"
#include "storage/sign_in_attempt_row.h"
#include "storage/sign_up_row.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/sqlite/sqlite_identifier_rows.h"
#include "storage/sqlite/sqlite_user_rows.h"
#include "storage/user_store.h"

namespace roster::storage {

// Runs `fn` and turns any exception into a status naming `what`.
template <typename Fn>
auto Guarded(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return StatusFromException(e, what);
  }
}

class SqliteWriteTransaction final : public WriteTransaction {
 public:
  explicit SqliteWriteTransaction(SqliteConnection& c) : c_(c) {}

  absl::StatusOr<UserRecord> GetUser(absl::string_view user_id) override {
    return Guarded("reading a user", [&] { return LoadUser(c_, user_id); });
  }

  absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      IdentifierKind kind, absl::string_view value) override;

  absl::StatusOr<std::optional<std::string>> FindUserIdByExternalAccount(
      absl::string_view provider, absl::string_view provider_user_id) override;

  absl::StatusOr<std::vector<std::string>> FindUnverifiedClaimants(
      IdentifierKind kind, absl::string_view value) override;

  absl::StatusOr<int32_t> CountVerificationSend(absl::string_view address,
                                                Micros now,
                                                Micros window_start) override;

  absl::Status AppendEvent(const EventRecord& event) override;

  absl::Status PutImage(const ImageRecord& image) override;

  absl::Status DeleteImage(absl::string_view image_id) override;

  absl::Status InsertUser(const UserRecord& user,
                          const EventRecord& event) override;

  absl::Status UpdateUser(const UserRecord& user,
                          const EventRecord& event) override;

  absl::Status DeleteUser(absl::string_view user_id,
                          const EventRecord& event) override;

  absl::StatusOr<SessionRecord> GetSession(
      absl::string_view session_id) override;

  absl::StatusOr<std::vector<SessionRecord>> ListSessions(
      absl::string_view user_id) override;

  absl::Status InsertSession(const SessionRecord& session,
                             const EventRecord& event) override;

  absl::Status UpdateSession(const SessionRecord& session,
                             const EventRecord& event) override;

  absl::Status DeleteSession(absl::string_view session_id) override;

  absl::Status TouchSession(absl::string_view session_id,
                            Micros last_active_at) override;

  absl::Status ReplacePasswordHash(absl::string_view user_id,
                                   absl::string_view old_hash,
                                   absl::string_view new_hash) override;

  absl::Status UpdateSignInState(absl::string_view user_id,
                                 const SignInState& state) override;
  absl::StatusOr<SignInFailuresRecord> GetSignInFailures(
      absl::string_view key) override;
  absl::Status PutSignInFailures(const SignInFailuresRecord& record,
                                 Micros forget_before) override;

  absl::StatusOr<int64_t> PruneEvents(Micros cutoff,
                                      int64_t max_events) override;

  absl::StatusOr<SignUpRecord> GetSignUp(absl::string_view sign_up_id) override;

  absl::Status PutSignUp(const SignUpRecord& sign_up) override;

  absl::StatusOr<int64_t> PruneSignUps(Micros cutoff,
                                       int64_t max_rows) override;

  absl::StatusOr<SignInAttemptRecord> GetSignInAttempt(
      absl::string_view attempt_id) override;

  absl::Status PutSignInAttempt(const SignInAttemptRecord& attempt) override;

  absl::StatusOr<int64_t> PruneSignInAttempts(Micros cutoff,
                                              int64_t max_rows) override;

  absl::Status PutSignInTicket(const SignInTicketRecord& ticket) override;

  absl::StatusOr<std::optional<SignInTicketRecord>> TakeSignInTicket(
      absl::string_view digest) override;

  absl::StatusOr<int64_t> PruneSignInTickets(Micros cutoff,
                                             int64_t max_rows) override;

  absl::Status PutOAuthState(const OAuthStateRecord& state) override;

  absl::StatusOr<std::optional<OAuthStateRecord>> TakeOAuthState(
      absl::string_view digest) override;

  absl::StatusOr<int64_t> PruneOAuthStates(Micros cutoff,
                                           int64_t max_rows) override;

  absl::Status PutOAuthToken(const OAuthTokenRecord& token) override;

  absl::StatusOr<std::optional<OAuthTokenRecord>> GetOAuthToken(
      absl::string_view external_account_id) override;

  absl::Status DeleteOAuthToken(absl::string_view external_account_id) override;

  absl::StatusOr<InvitationRecord> GetInvitation(
      absl::string_view invitation_id) override;

  absl::StatusOr<std::optional<InvitationRecord>> FindInvitationByTicket(
      absl::string_view ticket_digest) override;

  absl::StatusOr<std::vector<InvitationRecord>> FindPendingInvitations(
      absl::string_view email_address) override;

  absl::Status PutInvitation(const InvitationRecord& invitation) override;

  // The newest sequence appended in this transaction (0 when none).
  int64_t last_sequence() const { return last_sequence_; }

  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotencyKey(
      absl::string_view request_id) override;

  absl::Status PutIdempotencyKey(const IdempotencyRecord& record) override;

  // The deliverer's rows; defined in sqlite_deliveries.cc.
  absl::StatusOr<DeliveryStateRecord> GetDeliveryState() override;
  absl::Status PutDeliveryState(const DeliveryStateRecord& state) override;
  absl::StatusOr<std::vector<DeliveryRetryRecord>> ListDeliveryRetries(
      int32_t limit) override;
  absl::Status PutDeliveryRetry(const DeliveryRetryRecord& retry) override;
  absl::Status DeleteDeliveryRetry(int64_t sequence) override;

 private:
  void AppendEventRow(const EventRecord& event);

  SqliteConnection& c_;
  int64_t last_sequence_ = 0;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_WRITE_TRANSACTION_H_

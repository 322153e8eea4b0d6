// PgWriteTransaction: WriteTransaction on one pooled connection, inside a
// READ COMMITTED transaction PgUserStore::Write opened. Internal to
// storage/postgres/.
//
// Correctness under several replicas rests on three things: GetUser locks the
// user row (SELECT … FOR UPDATE), so a read-modify-write of a user is exact;
// unique indexes decide every uniqueness race (AlreadyExists); and events are
// only buffered here, then numbered and inserted by Commit() with the
// COMMIT while holding the event_log row lock, so sequences are allocated in
// commit order with no gaps (see PgUserStore).
#ifndef ROSTER_STORAGE_POSTGRES_PG_WRITE_TRANSACTION_H_
#define ROSTER_STORAGE_POSTGRES_PG_WRITE_TRANSACTION_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "storage/postgres/pg_connection.h"
#include "storage/user_store.h"

namespace roster::storage {

class PgWriteTransaction final : public WriteTransaction {
 public:
  explicit PgWriteTransaction(PgConnection& c) : c_(c) {}

  absl::StatusOr<UserRecord> GetUser(absl::string_view user_id) override;
  absl::StatusOr<std::optional<std::string>> FindUserIdByExternalAccount(
      absl::string_view provider, absl::string_view provider_user_id) override;
  absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      IdentifierKind kind, absl::string_view value) override;
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
  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotencyKey(
      absl::string_view request_id) override;
  absl::Status PutIdempotencyKey(const IdempotencyRecord& record) override;
  absl::StatusOr<SignUpRecord> GetSignUp(absl::string_view sign_up_id) override;
  absl::Status PutSignUp(const SignUpRecord& sign_up) override;
  absl::StatusOr<int64_t> PruneSignUps(Micros cutoff,
                                       int64_t max_rows) override;
  absl::StatusOr<SignInAttemptRecord> GetSignInAttempt(
      absl::string_view attempt_id) override;
  absl::Status PutSignInAttempt(const SignInAttemptRecord& attempt) override;
  absl::Status PutSignInTicket(const SignInTicketRecord& ticket) override;
  absl::StatusOr<std::optional<SignInTicketRecord>> TakeSignInTicket(
      absl::string_view digest) override;
  absl::StatusOr<int64_t> PruneSignInTickets(Micros cutoff,
                                             int64_t max_rows) override;
  absl::Status PutOAuthState(const OAuthStateRecord& state) override;
  absl::Status PutOAuthToken(const OAuthTokenRecord& token) override;
  absl::StatusOr<std::optional<OAuthTokenRecord>> GetOAuthToken(
      absl::string_view external_account_id) override;
  absl::Status DeleteOAuthToken(absl::string_view external_account_id) override;
  absl::StatusOr<std::optional<OAuthStateRecord>> TakeOAuthState(
      absl::string_view digest) override;
  absl::StatusOr<int64_t> PruneOAuthStates(Micros cutoff,
                                           int64_t max_rows) override;
  absl::StatusOr<int64_t> PruneSignInAttempts(Micros cutoff,
                                              int64_t max_rows) override;
  absl::StatusOr<InvitationRecord> GetInvitation(
      absl::string_view invitation_id) override;
  absl::StatusOr<std::optional<InvitationRecord>> FindInvitationByTicket(
      absl::string_view ticket_digest) override;
  absl::StatusOr<std::vector<InvitationRecord>> FindPendingInvitations(
      absl::string_view email_address) override;
  absl::Status PutInvitation(const InvitationRecord& invitation) override;

  // The deliverer's rows; defined in pg_deliveries.cc.
  absl::StatusOr<DeliveryStateRecord> GetDeliveryState() override;
  absl::Status PutDeliveryState(const DeliveryStateRecord& state) override;
  absl::StatusOr<std::vector<DeliveryRetryRecord>> ListDeliveryRetries(
      int32_t limit) override;
  absl::Status PutDeliveryRetry(const DeliveryRetryRecord& retry) override;
  absl::Status DeleteDeliveryRetry(int64_t sequence) override;

  // Numbers the buffered events and inserts them, under the event_log row
  // lock that COMMIT releases, and commits, in one round trip. Returns the
  // newest sequence, or 0 when the transaction appended none. Throws PgError.
  int64_t Commit();
  // Moves `other`'s buffered events after this one's: a batch's bodies each
  // have a transaction object of their own, and one commits them all.
  void TakeEventsFrom(PgWriteTransaction& other) {
    for (EventRecord& event : other.events_) {
      events_.push_back(std::move(event));
    }
    other.events_.clear();
  }

 private:
  // Keeps the metadata index of `user`, whose metadata the transaction last
  // saw as `read_metadata_` holds, in step with its new row.
  void UpdateMetadataIndex(const UserRecord& user);
  void RememberMetadata(const UserRecord& user);

  PgConnection& c_;
  std::vector<EventRecord> events_;
  // The metadata of each user this transaction read or wrote, by id (only
  // the metadata members are set): an update then writes only the index rows
  // that change, without reading them.
  absl::flat_hash_map<std::string, UserRecord> read_metadata_;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_POSTGRES_PG_WRITE_TRANSACTION_H_

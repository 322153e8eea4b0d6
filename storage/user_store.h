// UserStore: the persistence interface for users, as transactions over plain
// records.
//
// Reads see a consistent snapshot. Writes run inside Write(): everything the
// body does commits together when it returns OK, and nothing does otherwise, so
// a failed operation never half-applies. Errors: NotFound (no such row),
// AlreadyExists (a unique key clashes), Unavailable (database busy, locked,
// unreadable or read-only), ResourceExhausted (disk full), FailedPrecondition
// (schema newer than this binary), Internal (anything else).
//
// Implementations are thread-safe.
#ifndef ROSTER_STORAGE_USER_STORE_H_
#define ROSTER_STORAGE_USER_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "storage/records.h"
#include "storage/user_query.h"

namespace roster::storage {

enum class IdentifierKind {
  kEmailAddress,
  kPhoneNumber,
  kUsername,
  kExternalId
};

// The operations available inside one write transaction. Valid only during
// Write()'s body. Thread-compatible.
class WriteTransaction {
 public:
  virtual ~WriteTransaction() = default;

  // The user with identifiers, or NotFound.
  virtual absl::StatusOr<UserRecord> GetUser(absl::string_view user_id) = 0;
  // The id of the user holding `value` (normalised), or nullopt. For email
  // addresses and phone numbers only a verified holder counts: several users
  // may claim one value unverified, but one user at most holds it verified.
  virtual absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      IdentifierKind kind, absl::string_view value) = 0;
  // The id of the user `provider`'s account `provider_user_id` is linked to,
  // or nullopt.
  virtual absl::StatusOr<std::optional<std::string>>
  FindUserIdByExternalAccount(absl::string_view provider,
                              absl::string_view provider_user_id) = 0;
  // The users holding the email address or phone number `value` unverified.
  virtual absl::StatusOr<std::vector<std::string>> FindUnverifiedClaimants(
      IdentifierKind kind, absl::string_view value) = 0;
  // Counts one more verification code sent to `address` and returns how many
  // were sent since the window began; a window older than `window_start`
  // restarts at `now`. Also forgets windows that ended long ago.
  virtual absl::StatusOr<int32_t> CountVerificationSend(
      absl::string_view address, Micros now, Micros window_start) = 0;
  // Appends an event that is not itself a change to a user (email.created,
  // sms.created) in this transaction.
  virtual absl::Status AppendEvent(const EventRecord& event) = 0;
  // Stores a profile image; DeleteImage removes one (no error if absent).
  // Images are deleted with their user.
  virtual absl::Status PutImage(const ImageRecord& image) = 0;
  virtual absl::Status DeleteImage(absl::string_view image_id) = 0;

  // Every change to a user takes the event that describes it and appends it
  // in the same transaction: no change can commit without its event.

  // Inserts the user row and all its identifiers. AlreadyExists on a unique
  // clash.
  virtual absl::Status InsertUser(const UserRecord& user,
                                  const EventRecord& event) = 0;
  // Rewrites the user row and its identifiers (email addresses, phone
  // numbers, external accounts) from `user`. NotFound if it does not exist;
  // AlreadyExists if an identifier clashes with another user's.
  virtual absl::Status UpdateUser(const UserRecord& user,
                                  const EventRecord& event) = 0;
  // Deletes the user and, by cascade, its identifiers. NotFound if it does not
  // exist.
  virtual absl::Status DeleteUser(absl::string_view user_id,
                                  const EventRecord& event) = 0;
  // The session, or NotFound.
  virtual absl::StatusOr<SessionRecord> GetSession(
      absl::string_view session_id) = 0;
  // The user's sessions, oldest first.
  virtual absl::StatusOr<std::vector<SessionRecord>> ListSessions(
      absl::string_view user_id) = 0;
  // Inserts a session with its session.created event.
  virtual absl::Status InsertSession(const SessionRecord& session,
                                     const EventRecord& event) = 0;
  // Rewrites a session's status and times with its event (session.revoked).
  virtual absl::Status UpdateSession(const SessionRecord& session,
                                     const EventRecord& event) = 0;
  // Forgets an ended (revoked or expired) session; its events stay. No event.
  virtual absl::Status DeleteSession(absl::string_view session_id) = 0;
  // Bookkeeping: the session (and so its user) was active. No event.
  virtual absl::Status TouchSession(absl::string_view session_id,
                                    Micros last_active_at) = 0;

  // Replaces the password hash by an equivalent one (an imported digest
  // upgraded to argon2id after a successful check) if it is still `old_hash`.
  // Not a change to the user: no version bump, no event.
  virtual absl::Status ReplacePasswordHash(absl::string_view user_id,
                                           absl::string_view old_hash,
                                           absl::string_view new_hash) = 0;

  // Sign-in bookkeeping, which is not a change to the user: sets the failed
  // password count and the sign-in / activity times without bumping the
  // version or appending an event. NotFound if the user does not exist.
  virtual absl::Status UpdateSignInState(absl::string_view user_id,
                                         const SignInState& state) = 0;
  // The failures counted at `key` (all zero when none are), and their
  // replacement; PutSignInFailures also forgets every other key whose last
  // failure was before `forget_before`. GetSignInFailures holds `key` until
  // the transaction ends, so concurrent counts of one key take turns.
  virtual absl::StatusOr<SignInFailuresRecord> GetSignInFailures(
      absl::string_view key) = 0;
  virtual absl::Status PutSignInFailures(const SignInFailuresRecord& record,
                                         Micros forget_before) = 0;
  // Deletes up to `max_events` of the oldest events created before `cutoff`,
  // always a prefix of the log, and advances pruned_through. Returns how many
  // were deleted.
  virtual absl::StatusOr<int64_t> PruneEvents(Micros cutoff,
                                              int64_t max_events) = 0;

  // The sign-up, or NotFound.
  virtual absl::StatusOr<SignUpRecord> GetSignUp(
      absl::string_view sign_up_id) = 0;
  // Inserts or rewrites a sign-up. Not a change to a user: no event.
  virtual absl::Status PutSignUp(const SignUpRecord& sign_up) = 0;
  // Deletes up to `max_rows` sign-ups that expired before `cutoff`; returns
  // how many.
  virtual absl::StatusOr<int64_t> PruneSignUps(Micros cutoff,
                                               int64_t max_rows) = 0;

  // The sign-in attempt, or NotFound.
  virtual absl::StatusOr<SignInAttemptRecord> GetSignInAttempt(
      absl::string_view attempt_id) = 0;
  // Inserts or rewrites a sign-in attempt. No event.
  virtual absl::Status PutSignInAttempt(const SignInAttemptRecord& attempt) = 0;
  // Deletes up to `max_rows` sign-in attempts that expired before `cutoff`.
  virtual absl::StatusOr<int64_t> PruneSignInAttempts(Micros cutoff,
                                                      int64_t max_rows) = 0;

  // Stores a new sign-in ticket. No event.
  virtual absl::Status PutSignInTicket(const SignInTicketRecord& ticket) = 0;
  // Deletes the ticket whose digest is `digest` and returns it: of two
  // transactions taking one ticket, one gets it. nullopt when there is none.
  virtual absl::StatusOr<std::optional<SignInTicketRecord>> TakeSignInTicket(
      absl::string_view digest) = 0;
  // Deletes up to `max_rows` tickets that expired before `cutoff`.
  virtual absl::StatusOr<int64_t> PruneSignInTickets(Micros cutoff,
                                                     int64_t max_rows) = 0;

  // Stores a new social sign-in state. No event.
  virtual absl::Status PutOAuthState(const OAuthStateRecord& state) = 0;
  // Deletes the state whose digest is `digest` and returns it: of two
  // transactions taking one state, one gets it. nullopt when there is none.
  virtual absl::StatusOr<std::optional<OAuthStateRecord>> TakeOAuthState(
      absl::string_view digest) = 0;
  // Deletes up to `max_rows` states that expired before `cutoff`.
  virtual absl::StatusOr<int64_t> PruneOAuthStates(Micros cutoff,
                                                   int64_t max_rows) = 0;

  // Inserts or replaces the tokens of `token.external_account_id`. No event.
  virtual absl::Status PutOAuthToken(const OAuthTokenRecord& token) = 0;
  // The tokens of the external account, or nullopt.
  virtual absl::StatusOr<std::optional<OAuthTokenRecord>> GetOAuthToken(
      absl::string_view external_account_id) = 0;
  // Deletes the tokens of the external account (none: nothing happens).
  virtual absl::Status DeleteOAuthToken(
      absl::string_view external_account_id) = 0;

  // The invitation, or NotFound.
  virtual absl::StatusOr<InvitationRecord> GetInvitation(
      absl::string_view invitation_id) = 0;
  // The invitation whose ticket digest is `ticket_digest`, or nullopt.
  virtual absl::StatusOr<std::optional<InvitationRecord>>
  FindInvitationByTicket(absl::string_view ticket_digest) = 0;
  // The pending invitations to `email_address` (normalised), expired or not.
  virtual absl::StatusOr<std::vector<InvitationRecord>> FindPendingInvitations(
      absl::string_view email_address) = 0;
  // Inserts or rewrites an invitation. No event.
  virtual absl::Status PutInvitation(const InvitationRecord& invitation) = 0;

  // The deliverer's state row, locked until the transaction ends.
  virtual absl::StatusOr<DeliveryStateRecord> GetDeliveryState() = 0;
  virtual absl::Status PutDeliveryState(const DeliveryStateRecord& state) = 0;
  // Up to `limit` retries, oldest event first.
  virtual absl::StatusOr<std::vector<DeliveryRetryRecord>> ListDeliveryRetries(
      int32_t limit) = 0;
  // Inserts or rewrites the retry of `retry.sequence`.
  virtual absl::Status PutDeliveryRetry(const DeliveryRetryRecord& retry) = 0;
  virtual absl::Status DeleteDeliveryRetry(int64_t sequence) = 0;

  // The remembered request, or nullopt.
  virtual absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotencyKey(
      absl::string_view request_id) = 0;
  virtual absl::Status PutIdempotencyKey(const IdempotencyRecord& record) = 0;
};

// Counters of a store's user cache since it opened.
struct UserCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  // ListUsers lookups by one identifier answered without reading the file.
  int64_t lookup_hits = 0;
  int64_t bytes = 0;  // Approximate bytes held now.
};

// What opening a database whose schema a newer roster-server wrote returns:
// FailedPrecondition naming both versions.
inline absl::Status NewerSchemaError(int found, int latest) {
  return absl::FailedPreconditionError(absl::StrCat(
      "database schema version ", found, " is newer than this binary's ",
      latest, "; upgrade roster-server"));
}

// True for the --db values that name PostgreSQL (postgres:// or
// postgresql:// URIs); anything else names a SQLite file.
inline bool IsPostgresDsn(absl::string_view db) {
  return absl::StartsWith(db, "postgres://") ||
         absl::StartsWith(db, "postgresql://");
}

class UserStore {
 public:
  virtual ~UserStore() = default;

  // The user with identifiers, or NotFound.
  virtual absl::StatusOr<UserRecord> GetUser(absl::string_view user_id) = 0;
  // GetUser for a caller that must not block, such as a gRPC reactor: `done`
  // runs once with GetUser's result, either before this returns (this
  // default, for a store whose reads are local and quick) or later on a
  // thread of the store's. The caller bounds how many it has waiting.
  using GetUserDone = absl::AnyInvocable<void(absl::StatusOr<UserRecord>) &&>;
  virtual void GetUserAsync(absl::string_view user_id, GetUserDone done) {
    std::move(done)(GetUser(user_id));
  }
  // A page of users matching query.filter in query.order, with the total count.
  virtual absl::StatusOr<UserPage> ListUsers(const UserPageQuery& query) = 0;
  // ListUsers for a caller that must not block, as GetUserAsync.
  using ListUsersDone = absl::AnyInvocable<void(absl::StatusOr<UserPage>) &&>;
  virtual void ListUsersAsync(const UserPageQuery& query, ListUsersDone done) {
    std::move(done)(ListUsers(query));
  }
  // How many users match `filter`.
  virtual absl::StatusOr<int64_t> CountUsers(const UserFilter& filter) = 0;
  // Runs `body` in one serialised write transaction; commits iff `body` returns
  // OK and the commit is durable. Returns body's error, or the storage error
  // that stopped the commit.
  virtual absl::Status Write(
      absl::FunctionRef<absl::Status(WriteTransaction&)> body) = 0;
  // Runs each body in order, each all-or-nothing on its own as Write would: a
  // body's error undoes only that body's writes. Returns one status per body
  // once every successful body is durable. An adapter may cover many bodies
  // with one transaction and one durable commit (a failed commit then fails
  // every body it covered); this default writes them one by one.
  virtual std::vector<absl::Status> WriteEach(
      absl::Span<const absl::FunctionRef<absl::Status(WriteTransaction&)>>
          bodies) {
    std::vector<absl::Status> results;
    results.reserve(bodies.size());
    for (const auto& body : bodies) {
      results.push_back(Write(body));
    }
    return results;
  }

  // The session, or NotFound.
  virtual absl::StatusOr<SessionRecord> GetSession(
      absl::string_view session_id) = 0;
  // The session with its user (what a session check reads), or NotFound when
  // either is missing. An adapter may read both at once, in one snapshot;
  // this default reads the session, then its user.
  virtual absl::StatusOr<SessionAndUser> GetSessionAndUser(
      absl::string_view session_id) {
    auto session = GetSession(session_id);
    if (!session.ok()) {
      return session.status();
    }
    auto user = GetUser(session->user_id);
    if (!user.ok()) {
      return user.status();
    }
    return SessionAndUser{*std::move(session), *std::move(user)};
  }
  // GetSessionAndUser for a caller that must not block, as GetUserAsync.
  using GetSessionAndUserDone =
      absl::AnyInvocable<void(absl::StatusOr<SessionAndUser>) &&>;
  virtual void GetSessionAndUserAsync(absl::string_view session_id,
                                      GetSessionAndUserDone done) {
    std::move(done)(GetSessionAndUser(session_id));
  }
  // The user's sessions, oldest first.
  virtual absl::StatusOr<std::vector<SessionRecord>> ListSessions(
      absl::string_view user_id) = 0;
  // The id of the user owning the email address, phone number or external
  // account `identifier_id` (idn_… / eac_…), or NotFound.
  virtual absl::StatusOr<std::string> GetIdentifierOwner(
      absl::string_view identifier_id) = 0;

  // As WriteTransaction::FindUserIdByIdentifier, from a read snapshot.
  virtual absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      IdentifierKind kind, absl::string_view value) = 0;
  // The image, or NotFound.
  virtual absl::StatusOr<ImageRecord> GetImage(absl::string_view image_id) = 0;
  // A page of invitations matching `query`, newest first, with their count.
  virtual absl::StatusOr<InvitationPage> ListInvitations(
      const InvitationQuery& query) = 0;

  // Events matching `query`, with the log's bounds, from one snapshot.
  virtual absl::StatusOr<EventBatch> ReadEvents(const EventQuery& query) = 0;

  // The distinct data key ids that seal a stored secret (users.totp_key_id),
  // so start-up can refuse to run without a key the data needs.
  virtual absl::StatusOr<std::vector<std::string>> ListDataKeyIds() = 0;

  // OK when the database answers now; Unavailable otherwise (the readiness
  // probe: a replica that cannot reach its database stops taking traffic).
  virtual absl::Status CheckReachable() = 0;

  // The adapter's in-memory user cache, or nullopt when it keeps none.
  virtual std::optional<UserCacheStats> GetUserCacheStats() = 0;

  // Called after every commit that appended events, with the newest sequence,
  // on the committing thread: it must be quick and must not write to the
  // store. Set it before the first write.
  virtual void SetCommitListener(
      std::function<void(int64_t latest_sequence)> listener) = 0;
};

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_USER_STORE_H_

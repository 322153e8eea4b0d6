// SessionService: sessions and their tokens (DESIGN §4–§5). A session has a
// secret (shown once, stored as a digest) that refreshes short-lived JWT
// session tokens. FrontendUsers calls are authenticated by a token whose
// signature, time window, session and user are all still valid, so revocations
// and bans take effect at once.
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_SESSION_SERVICE_H_
#define ROSTER_SERVER_DOMAIN_SESSION_SERVICE_H_

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"
#include "server/domain/events.h"
#include "server/domain/ids.h"
#include "server/domain/token_cache.h"
#include "server/domain/tokens.h"
#include "storage/user_store.h"

namespace roster::domain {

inline constexpr char kSessionIdPrefix[] = "sess_";
// Per user (DESIGN §14): a new session beyond the active limit revokes the
// oldest active one; ended sessions beyond the kept limit are deleted, oldest
// first, so what a user's sign-ins leave behind is bounded.
inline constexpr size_t kMaxActiveSessionsPerUser = 100;
inline constexpr size_t kMaxEndedSessionsPerUser = 100;

struct SessionServiceOptions {
  absl::Duration session_lifetime = absl::Hours(24 * 7);
  absl::Duration token_lifetime = absl::Minutes(5);
  std::string issuer = "roster";
  std::string audience;  // Empty: tokens carry no `aud`.
};

// A session as created: its record, its secret (only ever returned here) and a
// first token.
struct NewSession {
  storage::SessionRecord session;
  std::string secret;
  std::string token;
};

struct SessionPage {
  std::vector<storage::SessionRecord> sessions;
  std::string next_page_token;
};

// Revokes, inside `txn`, every active session of `user_id` except `keep`, each
// with a session.revoked event. Used by ban and by "sign out of other
// sessions".
absl::Status RevokeSessions(storage::WriteTransaction& txn,
                            const Caller& caller, const std::string& user_id,
                            absl::string_view keep, absl::Time now,
                            const IdGenerator& ids,
                            const EventEncoder& encoder);

// The status a client sees: an active session past its expiry reads as EXPIRED.
storage::SessionStatus EffectiveStatus(const storage::SessionRecord& session,
                                       absl::Time now);

class SessionService {
 public:
  // None is owned; all must outlive the service.
  SessionService(storage::UserStore* store, const Clock* clock,
                 const IdGenerator* ids, RandomSource* random,
                 const EventEncoder* encoder, const SigningKey* signing_key,
                 const TokenVerifier* verifier, SessionServiceOptions options);

  // Starts a session for the user (session.created). NOT_FOUND;
  // PERMISSION_DENIED USER_BANNED. Also records the sign-in time.
  absl::StatusOr<NewSession> CreateSession(const Caller& caller,
                                           absl::string_view user_id);

  // CreateSession inside the caller's own transaction (a sign-up completing):
  // stores the session with its session.created event, bounded as
  // CreateSession's, and records the sign-in time. The caller has checked the
  // user; the token is good once `txn` commits.
  absl::StatusOr<NewSession> CreateSessionIn(storage::WriteTransaction& txn,
                                             const Caller& caller,
                                             const storage::UserRecord& user,
                                             absl::Time now) const;

  // A fresh token for an active session whose secret matches. UNAUTHENTICATED
  // (SESSION_INVALID) for anything else, the same for every cause.
  absl::StatusOr<std::string> RefreshToken(absl::string_view session_id,
                                           absl::string_view secret);

  // Revokes a session (session.revoked); idempotent. With `owner` set, a
  // session of another user is NOT_FOUND, as if it did not exist.
  absl::StatusOr<storage::SessionRecord> RevokeSession(
      const Caller& caller, absl::string_view session_id,
      absl::string_view owner);

  // A page of the user's sessions, oldest first: `limit` 1–500 (0 means 10),
  // `offset` 0–1,000,000 or `page_token`, as every list RPC. NOT_FOUND for an
  // unknown user.
  absl::StatusOr<SessionPage> ListSessions(absl::string_view user_id,
                                           int32_t limit, int32_t offset,
                                           absl::string_view page_token);

  // A session token is authenticated in two steps, so a forged or expired
  // one is refused without touching storage. VerifyToken: the claims of
  // `token` if its signature and lifetime are valid. CheckActive: OK if the
  // session is active and unexpired and its user exists and is not banned.
  // Both answer UNAUTHENTICATED (UNAUTHENTICATED or SESSION_INVALID) otherwise.
  absl::StatusOr<TokenClaims> VerifyToken(absl::string_view token) const;
  absl::Status CheckActive(const TokenClaims& claims);
  // CheckActive for a caller that must not block, answering with the user it
  // read: `done` runs once, inline or on the store's thread
  // (UserStore::GetSessionAndUserAsync).
  using ActiveUserDone =
      absl::AnyInvocable<void(absl::StatusOr<storage::UserRecord>) &&>;
  void ActiveUserAsync(const TokenClaims& claims, ActiveUserDone done);

  const TokenVerifier& verifier() const { return *verifier_; }
  // Verified tokens remembered now, and at most (for /metrics).
  size_t cached_tokens() const { return verified_tokens_.size(); }
  size_t max_cached_tokens() const { return verified_tokens_.max_entries(); }
  absl::Time Now() const { return clock_->Now(); }

 private:
  // The user of a session check's read, if the session is the token's, active
  // and unexpired, and its user is not banned; SESSION_INVALID otherwise.
  absl::StatusOr<storage::UserRecord> UserOfActiveSession(
      absl::string_view user_id,
      absl::StatusOr<storage::SessionAndUser> found) const;
  std::string IssueToken(const storage::SessionRecord& session,
                         absl::Time now) const;
  // Inside a new session's transaction: revokes the user's oldest active
  // sessions beyond kMaxActiveSessionsPerUser - 1 and deletes ended ones
  // beyond kMaxEndedSessionsPerUser.
  absl::Status BoundSessions(storage::WriteTransaction& txn,
                             const Caller& caller, const std::string& user_id,
                             absl::Time now) const;

  storage::UserStore* store_;
  const Clock* clock_;
  const IdGenerator* ids_;
  RandomSource* random_;
  const EventEncoder* encoder_;
  const SigningKey* signing_key_;
  const TokenVerifier* verifier_;
  // Tokens verifier_ accepted: the same token again costs a hash, not a
  // signature check.
  mutable TokenCache verified_tokens_;
  const SessionServiceOptions options_;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_SESSION_SERVICE_H_

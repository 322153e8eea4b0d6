#include "server/domain/session_service.h"

#include <sodium.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_query.h"
#include "server/domain/user_service.h"

namespace roster::domain {
namespace {

absl::Status SessionInvalid() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kSessionInvalid,
               "the session is not active");
}

absl::Status SessionNotFound() {
  return Error(absl::StatusCode::kNotFound, reason::kNotFound,
               "session not found");
}

storage::EventRecord SessionEvent(const Caller& caller, const char* type,
                                  const storage::SessionRecord& session,
                                  absl::Time now, const IdGenerator& ids,
                                  const EventEncoder& encoder) {
  storage::EventRecord event;
  event.id = ids.New(kEventIdPrefix);
  event.type = type;
  event.user_id = session.user_id;
  event.created_at = ToMicros(now);
  event.payload = encoder.EncodeSession(session);
  event.request_id = caller.request_id;
  event.actor = caller.actor;
  return event;
}

}  // namespace

storage::SessionStatus EffectiveStatus(const storage::SessionRecord& session,
                                       absl::Time now) {
  if (session.status == storage::SessionStatus::kActive &&
      session.expire_at <= ToMicros(now)) {
    return storage::SessionStatus::kExpired;
  }
  return session.status;
}

absl::Status RevokeSessions(storage::WriteTransaction& txn,
                            const Caller& caller, const std::string& user_id,
                            absl::string_view keep, absl::Time now,
                            const IdGenerator& ids,
                            const EventEncoder& encoder) {
  auto sessions = txn.ListSessions(user_id);
  if (!sessions.ok()) {
    return sessions.status();
  }
  for (auto& session : *sessions) {
    if (session.id == keep ||
        EffectiveStatus(session, now) != storage::SessionStatus::kActive) {
      continue;
    }
    session.status = storage::SessionStatus::kRevoked;
    session.updated_at = ToMicros(now);
    absl::Status revoked = txn.UpdateSession(
        session, SessionEvent(caller, event_type::kSessionRevoked, session, now,
                              ids, encoder));
    if (!revoked.ok()) {
      return revoked;
    }
  }
  return absl::OkStatus();
}

SessionService::SessionService(storage::UserStore* store, const Clock* clock,
                               const IdGenerator* ids, RandomSource* random,
                               const EventEncoder* encoder,
                               const SigningKey* signing_key,
                               const TokenVerifier* verifier,
                               SessionServiceOptions options)
    : store_(store),
      clock_(clock),
      ids_(ids),
      random_(random),
      encoder_(encoder),
      signing_key_(signing_key),
      verifier_(verifier),
      options_(std::move(options)) {}

absl::Status SessionService::BoundSessions(storage::WriteTransaction& txn,
                                           const Caller& caller,
                                           const std::string& user_id,
                                           absl::Time now) const {
  auto sessions = txn.ListSessions(user_id);  // Oldest first.
  if (!sessions.ok()) {
    return sessions.status();
  }
  std::vector<storage::SessionRecord*> active;
  std::vector<storage::SessionRecord*> ended;
  for (auto& session : *sessions) {
    (EffectiveStatus(session, now) == storage::SessionStatus::kActive ? active
                                                                      : ended)
        .push_back(&session);
  }
  // Room for the one about to be created.
  for (size_t i = 0; i + kMaxActiveSessionsPerUser <= active.size(); ++i) {
    storage::SessionRecord& oldest = *active[i];
    oldest.status = storage::SessionStatus::kRevoked;
    oldest.updated_at = ToMicros(now);
    absl::Status revoked = txn.UpdateSession(
        oldest, SessionEvent(caller, event_type::kSessionRevoked, oldest, now,
                             *ids_, *encoder_));
    if (!revoked.ok()) {
      return revoked;
    }
    ended.push_back(&oldest);
  }
  std::stable_sort(ended.begin(), ended.end(),
                   [](const auto* a, const auto* b) {
                     return a->updated_at < b->updated_at;
                   });
  for (size_t i = 0; i + kMaxEndedSessionsPerUser < ended.size(); ++i) {
    absl::Status deleted = txn.DeleteSession(ended[i]->id);
    if (!deleted.ok()) {
      return deleted;
    }
  }
  return absl::OkStatus();
}

std::string SessionService::IssueToken(const storage::SessionRecord& session,
                                       absl::Time now) const {
  TokenClaims claims;
  claims.issuer = options_.issuer;
  claims.audience = options_.audience;
  claims.user_id = session.user_id;
  claims.session_id = session.id;
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at =
      std::min(now + options_.token_lifetime, FromMicros(session.expire_at));
  return signing_key_->Sign(claims);
}

absl::StatusOr<NewSession> SessionService::CreateSession(
    const Caller& caller, absl::string_view user_id) {
  absl::Status valid = internal::CheckUserId(user_id);
  if (!valid.ok()) {
    return valid;
  }
  const absl::Time now = clock_->Now();
  NewSession created;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = txn.GetUser(user_id);
        if (!user.ok()) {
          return user.status();
        }
        if (user->banned) {
          return Error(absl::StatusCode::kPermissionDenied, reason::kUserBanned,
                       "the user is banned");
        }
        auto session = CreateSessionIn(txn, caller, *user, now);
        if (!session.ok()) {
          return session.status();
        }
        created = *std::move(session);
        return absl::OkStatus();
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return created;
}

absl::StatusOr<NewSession> SessionService::CreateSessionIn(
    storage::WriteTransaction& txn, const Caller& caller,
    const storage::UserRecord& user, absl::Time now) const {
  NewSession created;
  created.secret = NewSecret(*random_, "", 43);  // ~256 bits.
  storage::SessionRecord& session = created.session;
  session.id = ids_->New(kSessionIdPrefix);
  session.user_id = user.id;
  session.secret_digest = Fingerprint(created.secret);
  session.status = storage::SessionStatus::kActive;
  session.created_at = session.last_active_at = session.updated_at =
      ToMicros(now);
  session.expire_at = ToMicros(now + options_.session_lifetime);
  absl::Status bounded = BoundSessions(txn, caller, user.id, now);
  if (!bounded.ok()) {
    return bounded;
  }
  absl::Status inserted = txn.InsertSession(
      session, SessionEvent(caller, event_type::kSessionCreated, session, now,
                            *ids_, *encoder_));
  if (!inserted.ok()) {
    return inserted;
  }
  absl::Status recorded = txn.UpdateSignInState(
      user.id, {user.failed_password_attempts, user.locked_until,
                user.last_failed_password_at, ToMicros(now), ToMicros(now)});
  if (!recorded.ok()) {
    return recorded;
  }
  created.token = IssueToken(session, now);
  return created;
}

absl::StatusOr<std::string> SessionService::RefreshToken(
    absl::string_view session_id, absl::string_view secret) {
  if (!IsWellFormedId(session_id, kSessionIdPrefix) || secret.empty() ||
      secret.size() > 256) {
    return SessionInvalid();
  }
  auto session = store_->GetSession(session_id);
  if (!session.ok()) {
    return absl::IsNotFound(session.status()) ? SessionInvalid()
                                              : session.status();
  }
  const absl::Time now = clock_->Now();
  const std::string presented = Fingerprint(secret);
  const bool matches =
      presented.size() == session->secret_digest.size() &&
      sodium_memcmp(presented.data(), session->secret_digest.data(),
                    presented.size()) == 0;
  if (!matches ||
      EffectiveStatus(*session, now) != storage::SessionStatus::kActive) {
    return SessionInvalid();
  }
  auto user = store_->GetUser(session->user_id);
  if (!user.ok() || user->banned) {
    return SessionInvalid();
  }
  absl::Status touched = store_->Write([&](storage::WriteTransaction& txn) {
    return txn.TouchSession(session->id, ToMicros(now));
  });
  if (!touched.ok()) {
    return touched;
  }
  return IssueToken(*session, now);
}

absl::StatusOr<storage::SessionRecord> SessionService::RevokeSession(
    const Caller& caller, absl::string_view session_id,
    absl::string_view owner) {
  if (!IsWellFormedId(session_id, kSessionIdPrefix)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat, "session_id is malformed",
                 {{"session_id", "must be a session id (sess_…)"}});
  }
  const absl::Time now = clock_->Now();
  storage::SessionRecord result;
  absl::Status written = store_->Write([&](storage::WriteTransaction& txn)
                                           -> absl::Status {
    auto session = txn.GetSession(session_id);
    if (!session.ok() || (!owner.empty() && session->user_id != owner)) {
      return absl::IsNotFound(session.status()) || session.ok()
                 ? SessionNotFound()
                 : session.status();
    }
    result = *session;
    if (EffectiveStatus(*session, now) != storage::SessionStatus::kActive) {
      return absl::OkStatus();  // Already over: nothing to revoke, no event.
    }
    result.status = storage::SessionStatus::kRevoked;
    result.updated_at = ToMicros(now);
    return txn.UpdateSession(
        result, SessionEvent(caller, event_type::kSessionRevoked, result, now,
                             *ids_, *encoder_));
  });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return result;
}

absl::StatusOr<SessionPage> SessionService::ListSessions(
    absl::string_view user_id, int32_t limit, int32_t offset,
    absl::string_view page_token) {
  Violations violations;
  if (user_id.empty() || !IsWellFormedId(user_id, kUserIdPrefix)) {
    violations.Add("user_id", "must be a user id (user_…)");
  }
  if (limit < 0 || limit > kMaxPageSize) {
    violations.Add("limit", absl::StrCat("must be 1-", kMaxPageSize,
                                         " (0 means ", kDefaultPageSize, ")"));
  }
  if (offset < 0 || offset > kMaxOffset) {
    violations.Add("offset", absl::StrCat("must be 0-", kMaxOffset));
  }
  const std::string fingerprint = Fingerprint(user_id);
  int64_t start = offset;
  if (!page_token.empty()) {
    std::string raw;
    std::vector<std::string> parts;
    if (offset != 0) {
      violations.Add("page_token", "cannot be combined with offset");
    } else if (!absl::WebSafeBase64Unescape(page_token, &raw) ||
               (parts = absl::StrSplit(raw, '|')).size() != 3 ||
               parts[0] != "s1" || parts[1] != fingerprint ||
               !absl::SimpleAtoi(parts[2], &start) || start < 0) {
      violations.Add("page_token",
                     "is not a page token for this user's sessions");
    }
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  auto user = store_->GetUser(user_id);
  if (!user.ok()) {
    return internal::FromStore(user.status());
  }
  auto sessions = store_->ListSessions(user_id);
  if (!sessions.ok()) {
    return sessions.status();
  }
  const size_t size =
      static_cast<size_t>(limit == 0 ? kDefaultPageSize : limit);
  SessionPage page;
  for (size_t i = static_cast<size_t>(start);
       i < sessions->size() && page.sessions.size() < size; ++i) {
    page.sessions.push_back((*sessions)[i]);
  }
  const size_t next = static_cast<size_t>(start) + page.sessions.size();
  if (next < sessions->size()) {
    page.next_page_token =
        absl::WebSafeBase64Escape(absl::StrCat("s1|", fingerprint, "|", next));
  }
  return page;
}

absl::StatusOr<TokenClaims> SessionService::VerifyToken(
    absl::string_view token) const {
  const absl::Time now = clock_->Now();
  if (std::optional<TokenClaims> known = verified_tokens_.Find(token, now)) {
    return *std::move(known);
  }
  absl::StatusOr<TokenClaims> claims = verifier_->Verify(token, now);
  if (claims.ok()) {
    verified_tokens_.Add(token, *claims, now);
  }
  return claims;
}

absl::Status SessionService::CheckActive(const TokenClaims& claims) {
  return UserOfActiveSession(claims.user_id,
                             store_->GetSessionAndUser(claims.session_id))
      .status();
}

void SessionService::ActiveUserAsync(const TokenClaims& claims,
                                     ActiveUserDone done) {
  store_->GetSessionAndUserAsync(
      claims.session_id,
      [this, user_id = claims.user_id, done = std::move(done)](
          absl::StatusOr<storage::SessionAndUser> found) mutable {
        std::move(done)(UserOfActiveSession(user_id, std::move(found)));
      });
}

absl::StatusOr<storage::UserRecord> SessionService::UserOfActiveSession(
    absl::string_view user_id,
    absl::StatusOr<storage::SessionAndUser> found) const {
  if (!found.ok()) {
    return absl::IsNotFound(found.status()) ? SessionInvalid() : found.status();
  }
  if (found->session.user_id != user_id ||
      EffectiveStatus(found->session, clock_->Now()) !=
          storage::SessionStatus::kActive ||
      found->user.banned) {
    return SessionInvalid();
  }
  return std::move(found->user);
}

}  // namespace roster::domain

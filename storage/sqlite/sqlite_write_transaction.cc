// SqliteWriteTransaction's statements (sqlite_write_transaction.h); the
// deliverer's rows are in sqlite_deliveries.cc.
#include "storage/sqlite/sqlite_write_transaction.h"

#include <optional>
#include <string>
#include <vector>

namespace roster::storage {

absl::StatusOr<std::optional<std::string>>
SqliteWriteTransaction::FindUserIdByIdentifier(IdentifierKind kind,
                                               absl::string_view value) {
  return Guarded("looking up an identifier",
                 [&]() -> absl::StatusOr<std::optional<std::string>> {
                   return FindIdentifierHolder(c_, kind, value);
                 });
}

absl::StatusOr<std::optional<std::string>>
SqliteWriteTransaction::FindUserIdByExternalAccount(
    absl::string_view provider, absl::string_view provider_user_id) {
  return Guarded("looking up an external account",
                 [&]() -> absl::StatusOr<std::optional<std::string>> {
                   auto& s = c_.Prepare(
                       "SELECT user_id FROM external_accounts WHERE "
                       "provider = ? AND provider_user_id = ?");
                   s.bind(1, std::string(provider));
                   s.bind(2, std::string(provider_user_id));
                   std::optional<std::string> user_id;
                   if (s.executeStep()) {
                     user_id = s.getColumn(0).getString();
                   }
                   s.reset();
                   return user_id;
                 });
}

absl::StatusOr<std::vector<std::string>>
SqliteWriteTransaction::FindUnverifiedClaimants(IdentifierKind kind,
                                                absl::string_view value) {
  return Guarded("looking up identifier claims",
                 [&]() -> absl::StatusOr<std::vector<std::string>> {
                   return storage::FindUnverifiedClaimants(c_, kind, value);
                 });
}

absl::StatusOr<int32_t> SqliteWriteTransaction::CountVerificationSend(
    absl::string_view address, Micros now, Micros window_start) {
  return Guarded(
      "counting verification codes", [&]() -> absl::StatusOr<int32_t> {
        return storage::CountVerificationSend(c_, address, now, window_start);
      });
}

absl::Status SqliteWriteTransaction::AppendEvent(const EventRecord& event) {
  return Guarded("appending an event", [&] {
    AppendEventRow(event);
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::PutImage(const ImageRecord& image) {
  return Guarded("storing an image", [&] {
    InsertImage(c_, image);
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::DeleteImage(absl::string_view image_id) {
  return Guarded("deleting an image", [&] {
    storage::DeleteImage(c_, image_id);
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::InsertUser(const UserRecord& user,
                                                const EventRecord& event) {
  return Guarded("inserting a user", [&] {
    auto& s = c_.PrepareStatic(InsertUserSql());
    BindUser(s, user);
    s.exec();
    InsertIdentifiers(c_, user);
    WriteMetadataIndex(c_, user.id, FirstMetadataIndex(user));
    AppendEventRow(event);
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::UpdateUser(const UserRecord& user,
                                                const EventRecord& event) {
  return Guarded("updating a user", [&]() -> absl::Status {
    // Only what changed is written: see UpdateUserRow.
    absl::StatusOr<UserRecord> stored = LoadUser(c_, user.id);
    if (!stored.ok()) {
      return stored.status();
    }
    UpdateUserRow(c_, *stored, user);
    UpdateIdentifiers(c_, *stored, user);
    if (MetadataChanged(*stored, user)) {
      WriteMetadataIndex(c_, user.id,
                         DiffMetadataIndex(MetadataIndexEntries(*stored),
                                           MetadataIndexEntries(user)));
    }
    AppendEventRow(event);
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::DeleteUser(absl::string_view user_id,
                                                const EventRecord& event) {
  return Guarded("deleting a user", [&] {
    auto& s = c_.Prepare("DELETE FROM users WHERE id = ?");
    s.bind(1, std::string(user_id));
    if (s.exec() == 0) {
      return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
    }
    AppendEventRow(event);
    return absl::OkStatus();
  });
}

absl::StatusOr<SessionRecord> SqliteWriteTransaction::GetSession(
    absl::string_view session_id) {
  return Guarded("reading a session",
                 [&] { return LoadSession(c_, session_id); });
}

absl::StatusOr<std::vector<SessionRecord>> SqliteWriteTransaction::ListSessions(
    absl::string_view user_id) {
  return Guarded("listing sessions",
                 [&]() -> absl::StatusOr<std::vector<SessionRecord>> {
                   return LoadSessions(c_, user_id);
                 });
}

absl::Status SqliteWriteTransaction::InsertSession(const SessionRecord& session,
                                                   const EventRecord& event) {
  return Guarded("inserting a session", [&] {
    WriteSession(c_, session);
    AppendEventRow(event);
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::UpdateSession(const SessionRecord& session,
                                                   const EventRecord& event) {
  return Guarded("updating a session", [&] {
    WriteSession(c_, session);
    AppendEventRow(event);
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::DeleteSession(
    absl::string_view session_id) {
  return Guarded("deleting a session", [&] {
    auto& s = c_.Prepare("DELETE FROM sessions WHERE id = ?");
    s.bind(1, std::string(session_id));
    s.exec();
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::TouchSession(absl::string_view session_id,
                                                  Micros last_active_at) {
  return Guarded("touching a session", [&] {
    auto& s = c_.Prepare(
        "UPDATE sessions SET last_active_at = MAX(last_active_at, ?) "
        "WHERE id = ?");
    s.bind(1, last_active_at);
    s.bind(2, std::string(session_id));
    s.exec();
    auto& user = c_.Prepare(
        "UPDATE users SET last_active_at = MAX(last_active_at, ?) "
        "WHERE id = (SELECT user_id FROM sessions WHERE id = ?)");
    user.bind(1, last_active_at);
    user.bind(2, std::string(session_id));
    user.exec();
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::ReplacePasswordHash(
    absl::string_view user_id, absl::string_view old_hash,
    absl::string_view new_hash) {
  return Guarded("upgrading a password hash", [&] {
    auto& s = c_.Prepare(
        "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = "
        "?");
    s.bind(1, std::string(new_hash));
    s.bind(2, std::string(user_id));
    s.bind(3, std::string(old_hash));
    s.exec();
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::UpdateSignInState(
    absl::string_view user_id, const SignInState& state) {
  return Guarded("recording a sign-in attempt", [&] {
    auto& s = c_.Prepare(
        "UPDATE users SET failed_password_attempts = ?, locked_until = ?, "
        "last_failed_password_at = ?, last_sign_in_at = ?, "
        "last_active_at = ? WHERE id = ?");
    s.bind(1, state.failed_password_attempts);
    s.bind(2, state.locked_until);
    s.bind(3, state.last_failed_password_at);
    s.bind(4, state.last_sign_in_at);
    s.bind(5, state.last_active_at);
    s.bind(6, std::string(user_id));
    if (s.exec() == 0) {
      return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<SignInFailuresRecord> SqliteWriteTransaction::GetSignInFailures(
    absl::string_view key) {
  // One writer at a time: concurrent counts of one key already take turns.
  auto read = [&]() -> absl::StatusOr<SignInFailuresRecord> {
    auto& s = c_.Prepare(
        "SELECT failures, locked_until, last_failed_at FROM sign_in_failures "
        "WHERE identifier_key = ?");
    s.bind(1, std::string(key));
    SignInFailuresRecord record;
    record.key = std::string(key);
    if (s.executeStep()) {
      record.failures = s.getColumn(0).getInt();
      record.locked_until = s.getColumn(1).getInt64();
      record.last_failed_at = s.getColumn(2).getInt64();
    }
    s.reset();
    return record;
  };
  return Guarded("reading sign-in failures", read);
}

absl::Status SqliteWriteTransaction::PutSignInFailures(
    const SignInFailuresRecord& record, Micros forget_before) {
  return Guarded("recording sign-in failures", [&] {
    auto& forget = c_.Prepare(
        "DELETE FROM sign_in_failures WHERE last_failed_at < ? AND "
        "identifier_key <> ?");
    forget.bind(1, forget_before);
    forget.bind(2, record.key);
    forget.exec();
    auto& put = c_.Prepare(
        "INSERT INTO sign_in_failures (identifier_key, failures, "
        "locked_until, last_failed_at) VALUES (?, ?, ?, ?) ON CONFLICT "
        "(identifier_key) DO UPDATE SET failures = excluded.failures, "
        "locked_until = excluded.locked_until, "
        "last_failed_at = excluded.last_failed_at");
    put.bind(1, record.key);
    put.bind(2, record.failures);
    put.bind(3, record.locked_until);
    put.bind(4, record.last_failed_at);
    put.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> SqliteWriteTransaction::PruneEvents(
    Micros cutoff, int64_t max_events) {
  return Guarded("pruning events", [&]() -> absl::StatusOr<int64_t> {
    // Delete a prefix of the log: up to the newest of the oldest `max_events`
    // events created before the cutoff, so "everything at or below
    // pruned_through is gone" stays exact even if the clock stepped back.
    auto& last = c_.Prepare(
        "SELECT MAX(sequence), COUNT(*) FROM (SELECT sequence FROM events "
        "WHERE created_at < ? ORDER BY sequence LIMIT ?)");
    last.bind(1, cutoff);
    last.bind(2, max_events);
    last.executeStep();
    if (last.getColumn(0).isNull()) {
      last.reset();
      return int64_t{0};
    }
    const int64_t through = last.getColumn(0).getInt64();
    last.reset();
    auto& del = c_.Prepare("DELETE FROM events WHERE sequence <= ?");
    del.bind(1, through);
    const int64_t deleted = del.exec();
    auto& mark = c_.Prepare(
        "UPDATE event_log SET pruned_through = MAX(pruned_through, ?)");
    mark.bind(1, through);
    mark.exec();
    return deleted;
  });
}

absl::StatusOr<SignUpRecord> SqliteWriteTransaction::GetSignUp(
    absl::string_view sign_up_id) {
  return Guarded("reading a sign-up", [&]() -> absl::StatusOr<SignUpRecord> {
    static const std::string* const kSql =
        new std::string(SelectSignUpSql(SqlDialect::kSqlite));
    auto& s = c_.Prepare(*kSql);
    s.bind(1, std::string(sign_up_id));
    if (!s.executeStep()) {
      s.reset();
      return absl::NotFoundError("sign-up not found");
    }
    SignUpRecord sign_up = ReadSignUpColumns(SqliteRow{s});
    s.reset();
    return sign_up;
  });
}

absl::Status SqliteWriteTransaction::PutSignUp(const SignUpRecord& sign_up) {
  return Guarded("writing a sign-up", [&] {
    static const std::string* const kSql =
        new std::string(UpsertSignUpSql(SqlDialect::kSqlite));
    auto& s = c_.Prepare(*kSql);
    BindParams(s, SignUpValues(sign_up), 1);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> SqliteWriteTransaction::PruneSignUps(Micros cutoff,
                                                             int64_t max_rows) {
  return Guarded("pruning sign-ups", [&]() -> absl::StatusOr<int64_t> {
    auto& s = c_.Prepare(
        "DELETE FROM sign_ups WHERE id IN (SELECT id FROM sign_ups WHERE "
        "expire_at < ? ORDER BY expire_at LIMIT ?)");
    s.bind(1, cutoff);
    s.bind(2, max_rows);
    return int64_t{s.exec()};
  });
}

absl::StatusOr<SignInAttemptRecord> SqliteWriteTransaction::GetSignInAttempt(
    absl::string_view attempt_id) {
  return Guarded("reading a sign-in attempt",
                 [&]() -> absl::StatusOr<SignInAttemptRecord> {
                   static const std::string* const kSql =
                       new std::string(SelectSignInAttemptSql());
                   auto& s = c_.Prepare(*kSql);
                   s.bind(1, std::string(attempt_id));
                   if (!s.executeStep()) {
                     s.reset();
                     return absl::NotFoundError("sign-in attempt not found");
                   }
                   SignInAttemptRecord attempt =
                       ReadSignInAttemptColumns(SqliteRow{s});
                   s.reset();
                   return attempt;
                 });
}

absl::Status SqliteWriteTransaction::PutSignInAttempt(
    const SignInAttemptRecord& attempt) {
  return Guarded("writing a sign-in attempt", [&] {
    static const std::string* const kSql =
        new std::string(UpsertSignInAttemptSql(SqlDialect::kSqlite));
    auto& s = c_.Prepare(*kSql);
    BindParams(s, SignInAttemptValues(attempt), 1);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> SqliteWriteTransaction::PruneSignInAttempts(
    Micros cutoff, int64_t max_rows) {
  return Guarded("pruning sign-in attempts", [&]() -> absl::StatusOr<int64_t> {
    auto& s = c_.Prepare(
        "DELETE FROM sign_in_attempts WHERE id IN (SELECT id FROM "
        "sign_in_attempts WHERE expire_at < ? ORDER BY expire_at LIMIT "
        "?)");
    s.bind(1, cutoff);
    s.bind(2, max_rows);
    return int64_t{s.exec()};
  });
}

absl::Status SqliteWriteTransaction::PutSignInTicket(
    const SignInTicketRecord& ticket) {
  return Guarded("writing a sign-in ticket", [&] {
    auto& s = c_.Prepare(
        "INSERT INTO sign_in_tickets (digest, user_id, expire_at, "
        "created_at) VALUES (?, ?, ?, ?)");
    s.bind(1, ticket.digest);
    s.bind(2, ticket.user_id);
    s.bind(3, ticket.expire_at);
    s.bind(4, ticket.created_at);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<SignInTicketRecord>>
SqliteWriteTransaction::TakeSignInTicket(absl::string_view digest) {
  return Guarded("taking a sign-in ticket",
                 [&]() -> absl::StatusOr<std::optional<SignInTicketRecord>> {
                   auto& s = c_.Prepare(
                       "DELETE FROM sign_in_tickets WHERE digest = ? RETURNING "
                       "user_id, expire_at, created_at");
                   s.bind(1, std::string(digest));
                   std::optional<SignInTicketRecord> taken;
                   if (s.executeStep()) {
                     taken = SignInTicketRecord{
                         std::string(digest), s.getColumn(0).getString(),
                         s.getColumn(1).getInt64(), s.getColumn(2).getInt64()};
                   }
                   s.reset();
                   return taken;
                 });
}

absl::StatusOr<int64_t> SqliteWriteTransaction::PruneSignInTickets(
    Micros cutoff, int64_t max_rows) {
  return Guarded("pruning sign-in tickets", [&]() -> absl::StatusOr<int64_t> {
    auto& s = c_.Prepare(
        "DELETE FROM sign_in_tickets WHERE digest IN (SELECT digest "
        "FROM sign_in_tickets WHERE expire_at < ? ORDER BY expire_at "
        "LIMIT ?)");
    s.bind(1, cutoff);
    s.bind(2, max_rows);
    return int64_t{s.exec()};
  });
}

absl::Status SqliteWriteTransaction::PutOAuthState(
    const OAuthStateRecord& state) {
  return Guarded("writing a social sign-in state", [&] {
    auto& s = c_.Prepare(
        "INSERT INTO oauth_states (digest, provider, action, user_id, "
        "redirect_url, code_verifier, nonce, expire_at, created_at, "
        "legal_accepted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, state.digest);
    s.bind(2, state.provider);
    s.bind(3, state.action);
    s.bind(4, state.user_id);
    s.bind(5, state.redirect_url);
    s.bind(6, state.code_verifier);
    s.bind(7, state.nonce);
    s.bind(8, state.expire_at);
    s.bind(9, state.created_at);
    s.bind(10, state.legal_accepted ? 1 : 0);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<OAuthStateRecord>>
SqliteWriteTransaction::TakeOAuthState(absl::string_view digest) {
  return Guarded(
      "taking a social sign-in state",
      [&]() -> absl::StatusOr<std::optional<OAuthStateRecord>> {
        auto& s = c_.Prepare(
            "DELETE FROM oauth_states WHERE digest = ? RETURNING provider, "
            "action, user_id, redirect_url, code_verifier, nonce, "
            "expire_at, created_at, legal_accepted");
        s.bind(1, std::string(digest));
        std::optional<OAuthStateRecord> taken;
        if (s.executeStep()) {
          taken = OAuthStateRecord{
              std::string(digest),        s.getColumn(0).getString(),
              s.getColumn(1).getString(), s.getColumn(2).getString(),
              s.getColumn(3).getString(), s.getColumn(4).getString(),
              s.getColumn(5).getString(), s.getColumn(6).getInt64(),
              s.getColumn(7).getInt64(),  s.getColumn(8).getInt() != 0};
        }
        s.reset();
        return taken;
      });
}

absl::StatusOr<int64_t> SqliteWriteTransaction::PruneOAuthStates(
    Micros cutoff, int64_t max_rows) {
  return Guarded("pruning social sign-in states",
                 [&]() -> absl::StatusOr<int64_t> {
                   auto& s = c_.Prepare(
                       "DELETE FROM oauth_states WHERE digest IN (SELECT "
                       "digest FROM oauth_states WHERE expire_at < ? ORDER "
                       "BY expire_at LIMIT ?)");
                   s.bind(1, cutoff);
                   s.bind(2, max_rows);
                   return int64_t{s.exec()};
                 });
}

absl::Status SqliteWriteTransaction::PutOAuthToken(
    const OAuthTokenRecord& token) {
  return Guarded("writing a provider's tokens", [&] {
    auto& s = c_.Prepare(
        "INSERT OR REPLACE INTO oauth_tokens (external_account_id, user_id, "
        "sealed, key_id, expire_at, scopes, updated_at, refresh_lease_until) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, token.external_account_id);
    s.bind(2, token.user_id);
    s.bind(3, token.sealed);
    s.bind(4, token.key_id);
    s.bind(5, token.expire_at);
    s.bind(6, token.scopes);
    s.bind(7, token.updated_at);
    s.bind(8, token.refresh_lease_until);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<OAuthTokenRecord>>
SqliteWriteTransaction::GetOAuthToken(absl::string_view external_account_id) {
  return Guarded(
      "reading a provider's tokens",
      [&]() -> absl::StatusOr<std::optional<OAuthTokenRecord>> {
        auto& s = c_.Prepare(
            "SELECT user_id, sealed, key_id, expire_at, scopes, updated_at, "
            "refresh_lease_until FROM oauth_tokens WHERE "
            "external_account_id = ?");
        s.bind(1, std::string(external_account_id));
        std::optional<OAuthTokenRecord> token;
        if (s.executeStep()) {
          token = OAuthTokenRecord{
              std::string(external_account_id), s.getColumn(0).getString(),
              s.getColumn(1).getString(),       s.getColumn(2).getString(),
              s.getColumn(3).getInt64(),        s.getColumn(4).getString(),
              s.getColumn(5).getInt64(),        s.getColumn(6).getInt64()};
        }
        s.reset();
        return token;
      });
}

absl::Status SqliteWriteTransaction::DeleteOAuthToken(
    absl::string_view external_account_id) {
  return Guarded("deleting a provider's tokens", [&] {
    auto& s =
        c_.Prepare("DELETE FROM oauth_tokens WHERE external_account_id = ?");
    s.bind(1, std::string(external_account_id));
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<InvitationRecord> SqliteWriteTransaction::GetInvitation(
    absl::string_view invitation_id) {
  return Guarded("reading an invitation",
                 [&]() -> absl::StatusOr<InvitationRecord> {
                   auto found = LoadInvitations(c_, "id", invitation_id);
                   if (found.empty()) {
                     return absl::NotFoundError("invitation not found");
                   }
                   return found.front();
                 });
}

absl::StatusOr<std::optional<InvitationRecord>>
SqliteWriteTransaction::FindInvitationByTicket(
    absl::string_view ticket_digest) {
  return Guarded("reading an invitation",
                 [&]() -> absl::StatusOr<std::optional<InvitationRecord>> {
                   auto found =
                       LoadInvitations(c_, "ticket_digest", ticket_digest);
                   if (found.empty()) {
                     return std::nullopt;
                   }
                   return found.front();
                 });
}

absl::StatusOr<std::vector<InvitationRecord>>
SqliteWriteTransaction::FindPendingInvitations(
    absl::string_view email_address) {
  return Guarded("reading invitations",
                 [&]() -> absl::StatusOr<std::vector<InvitationRecord>> {
                   std::vector<InvitationRecord> pending;
                   for (auto& invitation :
                        LoadInvitations(c_, "email_address", email_address)) {
                     if (invitation.status == InvitationStatus::kPending) {
                       pending.push_back(std::move(invitation));
                     }
                   }
                   return pending;
                 });
}

absl::Status SqliteWriteTransaction::PutInvitation(
    const InvitationRecord& invitation) {
  return Guarded("writing an invitation", [&] {
    static const std::string* const kSql =
        new std::string(UpsertInvitationSql(SqlDialect::kSqlite));
    auto& s = c_.Prepare(*kSql);
    BindParams(s, InvitationValues(invitation), 1);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<IdempotencyRecord>>
SqliteWriteTransaction::GetIdempotencyKey(absl::string_view request_id) {
  return Guarded(
      "reading an idempotency key",
      [&]() -> absl::StatusOr<std::optional<IdempotencyRecord>> {
        auto& s = c_.Prepare(
            "SELECT request_hash, user_id, created_at FROM idempotency_keys "
            "WHERE request_id = ?");
        s.bind(1, std::string(request_id));
        if (!s.executeStep()) {
          return std::nullopt;
        }
        IdempotencyRecord r;
        r.request_id = std::string(request_id);
        r.request_hash = s.getColumn(0).getString();
        r.user_id = s.getColumn(1).getString();
        r.created_at = s.getColumn(2).getInt64();
        s.reset();
        return r;
      });
}

absl::Status SqliteWriteTransaction::PutIdempotencyKey(
    const IdempotencyRecord& record) {
  return Guarded("writing an idempotency key", [&] {
    auto& s = c_.Prepare(
        "INSERT INTO idempotency_keys (request_id, request_hash, user_id, "
        "created_at) "
        "VALUES (?, ?, ?, ?)");
    s.bind(1, record.request_id);
    s.bind(2, record.request_hash);
    s.bind(3, record.user_id);
    s.bind(4, record.created_at);
    s.exec();
    return absl::OkStatus();
  });
}

void SqliteWriteTransaction::AppendEventRow(const EventRecord& event) {
  auto& s = c_.Prepare(
      "INSERT INTO events (id, type, user_id, created_at, payload, "
      "request_id, actor) VALUES (?, ?, ?, ?, ?, ?, ?)");
  s.bind(1, event.id);
  s.bind(2, event.type);
  s.bind(3, event.user_id);
  s.bind(4, event.created_at);
  s.bind(5, event.payload.data(), static_cast<int>(event.payload.size()));
  s.bind(6, event.request_id);
  s.bind(7, event.actor);
  s.exec();
  last_sequence_ = c_.db().getLastInsertRowid();
}

}  // namespace roster::storage

#include "storage/postgres/pg_write_transaction.h"

#include "absl/strings/str_cat.h"
#include "storage/invitation_row.h"
#include "storage/postgres/pg_rows.h"
#include "storage/sign_in_attempt_row.h"
#include "storage/sign_up_row.h"

namespace roster::storage {

absl::StatusOr<UserRecord> PgWriteTransaction::GetUser(
    absl::string_view user_id) {
  return PgGuarded("reading a user", [&]() -> absl::StatusOr<UserRecord> {
    absl::StatusOr<UserRecord> user =
        LoadPgUser(c_, user_id, /*for_update=*/true);
    if (user.ok()) {
      RememberMetadata(*user);
    }
    return user;
  });
}

void PgWriteTransaction::RememberMetadata(const UserRecord& user) {
  UserRecord& metadata = read_metadata_[user.id];
  metadata.public_metadata = user.public_metadata;
  metadata.private_metadata = user.private_metadata;
  metadata.unsafe_metadata = user.unsafe_metadata;
}

void PgWriteTransaction::UpdateMetadataIndex(const UserRecord& user) {
  const auto read = read_metadata_.find(user.id);
  if (read == read_metadata_.end()) {
    // Not read here: rewrite the user's rows whole.
    c_.Run("DELETE FROM user_metadata_values WHERE user_id = $1",
           PgParams().Add(user.id));
    WritePgMetadataIndex(c_, user.id, FirstMetadataIndex(user));
  } else if (MetadataChanged(read->second, user)) {
    WritePgMetadataIndex(c_, user.id,
                         DiffMetadataIndex(MetadataIndexEntries(read->second),
                                           MetadataIndexEntries(user)));
  }
  RememberMetadata(user);
}

absl::StatusOr<std::optional<std::string>>
PgWriteTransaction::FindUserIdByIdentifier(IdentifierKind kind,
                                           absl::string_view value) {
  return PgGuarded("looking up an identifier",
                   [&]() -> absl::StatusOr<std::optional<std::string>> {
                     return FindPgIdentifierHolder(c_, kind, value);
                   });
}

absl::StatusOr<std::optional<std::string>>
PgWriteTransaction::FindUserIdByExternalAccount(
    absl::string_view provider, absl::string_view provider_user_id) {
  return PgGuarded("looking up an external account",
                   [&]() -> absl::StatusOr<std::optional<std::string>> {
                     PgResult r = c_.Run(
                         "SELECT user_id FROM external_accounts WHERE "
                         "provider = $1 AND provider_user_id = $2",
                         PgParams().Add(provider).Add(provider_user_id));
                     if (r.rows() == 0) {
                       return std::nullopt;
                     }
                     return r.Text(0, 0);
                   });
}

absl::StatusOr<std::vector<std::string>>
PgWriteTransaction::FindUnverifiedClaimants(IdentifierKind kind,
                                            absl::string_view value) {
  return PgGuarded("looking up identifier claims",
                   [&]() -> absl::StatusOr<std::vector<std::string>> {
                     return FindPgUnverifiedClaimants(c_, kind, value);
                   });
}

absl::StatusOr<int32_t> PgWriteTransaction::CountVerificationSend(
    absl::string_view address, Micros now, Micros window_start) {
  return PgGuarded(
      "counting verification codes", [&]() -> absl::StatusOr<int32_t> {
        return CountPgVerificationSend(c_, address, now, window_start);
      });
}

absl::Status PgWriteTransaction::AppendEvent(const EventRecord& event) {
  events_.push_back(event);
  return absl::OkStatus();
}

absl::Status PgWriteTransaction::PutImage(const ImageRecord& image) {
  return PgGuarded("storing an image", [&] {
    InsertPgImage(c_, image);
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::DeleteImage(absl::string_view image_id) {
  return PgGuarded("deleting an image", [&] {
    c_.Run("DELETE FROM images WHERE id = $1", PgParams().Add(image_id));
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::InsertUser(const UserRecord& user,
                                            const EventRecord& event) {
  return PgGuarded("inserting a user", [&] {
    InsertPgUser(c_, user);
    InsertPgIdentifiers(c_, user);
    WritePgMetadataIndex(c_, user.id, FirstMetadataIndex(user));
    RememberMetadata(user);
    events_.push_back(event);
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::UpdateUser(const UserRecord& user,
                                            const EventRecord& event) {
  return PgGuarded("updating a user", [&] {
    if (!UpdatePgUserRow(c_, user)) {
      return absl::NotFoundError(absl::StrCat("user ", user.id, " not found"));
    }
    // The record's identifier lists are the truth: rewrite them.
    for (const char* table :
         {"email_addresses", "phone_numbers", "external_accounts"}) {
      c_.Run(absl::StrCat("DELETE FROM ", table, " WHERE user_id = $1"),
             PgParams().Add(user.id));
    }
    InsertPgIdentifiers(c_, user);
    UpdateMetadataIndex(user);
    events_.push_back(event);
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::DeleteUser(absl::string_view user_id,
                                            const EventRecord& event) {
  return PgGuarded("deleting a user", [&] {
    if (c_.Run("DELETE FROM users WHERE id = $1", PgParams().Add(user_id))
            .affected() == 0) {
      return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
    }
    events_.push_back(event);
    return absl::OkStatus();
  });
}

absl::StatusOr<SessionRecord> PgWriteTransaction::GetSession(
    absl::string_view session_id) {
  return PgGuarded("reading a session",
                   [&] { return LoadPgSession(c_, session_id); });
}

absl::StatusOr<std::vector<SessionRecord>> PgWriteTransaction::ListSessions(
    absl::string_view user_id) {
  return PgGuarded("listing sessions",
                   [&]() -> absl::StatusOr<std::vector<SessionRecord>> {
                     return LoadPgSessions(c_, user_id);
                   });
}

absl::Status PgWriteTransaction::InsertSession(const SessionRecord& session,
                                               const EventRecord& event) {
  return PgGuarded("inserting a session", [&] {
    WritePgSession(c_, session);
    events_.push_back(event);
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::UpdateSession(const SessionRecord& session,
                                               const EventRecord& event) {
  return PgGuarded("updating a session", [&] {
    WritePgSession(c_, session);
    events_.push_back(event);
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::DeleteSession(absl::string_view session_id) {
  return PgGuarded("deleting a session", [&] {
    c_.Run("DELETE FROM sessions WHERE id = $1", PgParams().Add(session_id));
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::TouchSession(absl::string_view session_id,
                                              Micros last_active_at) {
  return PgGuarded("touching a session", [&] {
    c_.Run(
        "UPDATE sessions SET last_active_at = GREATEST(last_active_at, $1) "
        "WHERE id = $2",
        PgParams().Add(last_active_at).Add(session_id));
    c_.Run(
        "UPDATE users SET last_active_at = GREATEST(last_active_at, $1) "
        "WHERE id = (SELECT user_id FROM sessions WHERE id = $2)",
        PgParams().Add(last_active_at).Add(session_id));
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::ReplacePasswordHash(
    absl::string_view user_id, absl::string_view old_hash,
    absl::string_view new_hash) {
  return PgGuarded("upgrading a password hash", [&] {
    c_.Run(
        "UPDATE users SET password_hash = $1 WHERE id = $2 AND "
        "password_hash = $3",
        PgParams().Add(new_hash).Add(user_id).Add(old_hash));
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::UpdateSignInState(
    absl::string_view user_id, int32_t failed_password_attempts,
    Micros locked_until, Micros last_sign_in_at, Micros last_active_at) {
  return PgGuarded("recording a sign-in attempt", [&] {
    if (c_.Run("UPDATE users SET failed_password_attempts = $1, "
               "locked_until = $2, last_sign_in_at = $3, last_active_at = $4 "
               "WHERE id = $5",
               PgParams()
                   .Add(failed_password_attempts)
                   .Add(locked_until)
                   .Add(last_sign_in_at)
                   .Add(last_active_at)
                   .Add(user_id))
            .affected() == 0) {
      return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneEvents(Micros cutoff,
                                                        int64_t max_events) {
  return PgGuarded("pruning events", [&]() -> absl::StatusOr<int64_t> {
    // A prefix of the log, as in SQLite: up to the newest of the oldest
    // `max_events` events created before the cutoff.
    PgResult last = c_.Run(
        "SELECT MAX(sequence) FROM (SELECT sequence FROM events WHERE "
        "created_at < $1 ORDER BY sequence LIMIT $2) oldest",
        PgParams().Add(cutoff).Add(max_events));
    if (last.IsNull(0, 0)) {
      return int64_t{0};
    }
    const int64_t through = last.Int(0, 0);
    const int64_t deleted = c_.Run("DELETE FROM events WHERE sequence <= $1",
                                   PgParams().Add(through))
                                .affected();
    c_.Run(
        "UPDATE event_log SET pruned_through = GREATEST(pruned_through, $1) "
        "WHERE id = 1",
        PgParams().Add(through));
    return deleted;
  });
}

absl::StatusOr<std::optional<IdempotencyRecord>>
PgWriteTransaction::GetIdempotencyKey(absl::string_view request_id) {
  return PgGuarded(
      "reading an idempotency key",
      [&]() -> absl::StatusOr<std::optional<IdempotencyRecord>> {
        PgResult r = c_.Run(
            "SELECT request_hash, user_id, created_at FROM idempotency_keys "
            "WHERE request_id = $1",
            PgParams().Add(request_id));
        if (r.rows() == 0) {
          return std::nullopt;
        }
        IdempotencyRecord record;
        record.request_id = std::string(request_id);
        record.request_hash = r.Text(0, 0);
        record.user_id = r.Text(0, 1);
        record.created_at = r.Int(0, 2);
        return record;
      });
}

absl::Status PgWriteTransaction::PutIdempotencyKey(
    const IdempotencyRecord& record) {
  return PgGuarded("writing an idempotency key", [&] {
    c_.Run(
        "INSERT INTO idempotency_keys (request_id, request_hash, user_id, "
        "created_at) VALUES ($1, $2, $3, $4)",
        PgParams()
            .Add(record.request_id)
            .Add(record.request_hash)
            .Add(record.user_id)
            .Add(record.created_at));
    return absl::OkStatus();
  });
}

absl::StatusOr<SignUpRecord> PgWriteTransaction::GetSignUp(
    absl::string_view sign_up_id) {
  return PgGuarded("reading a sign-up", [&]() -> absl::StatusOr<SignUpRecord> {
    // Locked until COMMIT, as users are: two calls on one sign-up (parallel
    // code guesses) take turns instead of both reading the same attempts.
    static const std::string* const kSql = new std::string(
        absl::StrCat(SelectSignUpSql(SqlDialect::kPostgres), " FOR UPDATE"));
    PgResult r = c_.Run(*kSql, PgParams().Add(sign_up_id));
    if (r.rows() == 0) {
      return absl::NotFoundError("sign-up not found");
    }
    return ReadSignUpColumns(PgRow{r, 0});
  });
}

absl::Status PgWriteTransaction::PutSignUp(const SignUpRecord& sign_up) {
  return PgGuarded("writing a sign-up", [&] {
    PgParams params;
    BindAll(params, SignUpValues(sign_up));
    static const std::string* const kSql =
        new std::string(UpsertSignUpSql(SqlDialect::kPostgres));
    c_.Run(*kSql, params);
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneSignUps(Micros cutoff,
                                                         int64_t max_rows) {
  return PgGuarded("pruning sign-ups", [&]() -> absl::StatusOr<int64_t> {
    PgResult r = c_.Run(
        "DELETE FROM sign_ups WHERE id IN (SELECT id FROM sign_ups WHERE "
        "expire_at < $1 ORDER BY expire_at LIMIT $2)",
        PgParams().Add(cutoff).Add(max_rows));
    return r.affected();
  });
}

namespace {

// The invitations whose `column` is `value`, locked until COMMIT.
std::vector<InvitationRecord> LoadPgInvitations(PgConnection& c,
                                                const char* column,
                                                absl::string_view value) {
  PgResult r = c.Run(NumberPlaceholders(absl::StrCat(
                         SelectInvitationBySql(column), " FOR UPDATE")),
                     PgParams().Add(value));
  std::vector<InvitationRecord> found;
  found.reserve(static_cast<size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    found.push_back(ReadInvitationColumns(PgRow{r, row}));
  }
  return found;
}

}  // namespace

absl::StatusOr<SignInAttemptRecord> PgWriteTransaction::GetSignInAttempt(
    absl::string_view attempt_id) {
  return PgGuarded("reading a sign-in attempt",
                   [&]() -> absl::StatusOr<SignInAttemptRecord> {
                     // Locked until COMMIT: parallel factor checks on one
                     // attempt take turns reserving their failure.
                     static const std::string* const kSql =
                         new std::string(NumberPlaceholders(absl::StrCat(
                             SelectSignInAttemptSql(), " FOR UPDATE")));
                     PgResult r = c_.Run(*kSql, PgParams().Add(attempt_id));
                     if (r.rows() == 0) {
                       return absl::NotFoundError("sign-in attempt not found");
                     }
                     return ReadSignInAttemptColumns(PgRow{r, 0});
                   });
}

absl::Status PgWriteTransaction::PutSignInAttempt(
    const SignInAttemptRecord& attempt) {
  return PgGuarded("writing a sign-in attempt", [&] {
    static const std::string* const kSql =
        new std::string(UpsertSignInAttemptSql(SqlDialect::kPostgres));
    PgParams params;
    BindAll(params, SignInAttemptValues(attempt));
    c_.Run(*kSql, params);
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneSignInAttempts(
    Micros cutoff, int64_t max_rows) {
  return PgGuarded(
      "pruning sign-in attempts", [&]() -> absl::StatusOr<int64_t> {
        PgResult r = c_.Run(
            "DELETE FROM sign_in_attempts WHERE id IN (SELECT id FROM "
            "sign_in_attempts WHERE expire_at < $1 ORDER BY expire_at LIMIT "
            "$2)",
            PgParams().Add(cutoff).Add(max_rows));
        return r.affected();
      });
}

absl::Status PgWriteTransaction::PutSignInTicket(
    const SignInTicketRecord& ticket) {
  return PgGuarded("writing a sign-in ticket", [&] {
    c_.Run(
        "INSERT INTO sign_in_tickets (digest, user_id, expire_at, created_at) "
        "VALUES ($1, $2, $3, $4)",
        PgParams()
            .Add(ticket.digest)
            .Add(ticket.user_id)
            .Add(ticket.expire_at)
            .Add(ticket.created_at));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<SignInTicketRecord>>
PgWriteTransaction::TakeSignInTicket(absl::string_view digest) {
  return PgGuarded(
      "taking a sign-in ticket",
      [&]() -> absl::StatusOr<std::optional<SignInTicketRecord>> {
        PgResult r = c_.Run(
            "DELETE FROM sign_in_tickets WHERE digest = $1 RETURNING "
            "user_id, expire_at, created_at",
            PgParams().Add(digest));
        if (r.rows() == 0) {
          return std::nullopt;
        }
        return SignInTicketRecord{std::string(digest), r.Text(0, 0),
                                  r.Int(0, 1), r.Int(0, 2)};
      });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneSignInTickets(
    Micros cutoff, int64_t max_rows) {
  return PgGuarded("pruning sign-in tickets", [&]() -> absl::StatusOr<int64_t> {
    PgResult r = c_.Run(
        "DELETE FROM sign_in_tickets WHERE digest IN (SELECT digest FROM "
        "sign_in_tickets WHERE expire_at < $1 ORDER BY expire_at LIMIT "
        "$2)",
        PgParams().Add(cutoff).Add(max_rows));
    return r.affected();
  });
}

absl::Status PgWriteTransaction::PutOAuthState(const OAuthStateRecord& state) {
  return PgGuarded("writing a social sign-in state", [&] {
    c_.Run(
        "INSERT INTO oauth_states (digest, provider, action, user_id, "
        "redirect_url, code_verifier, nonce, expire_at, created_at, "
        "legal_accepted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        PgParams()
            .Add(state.digest)
            .Add(state.provider)
            .Add(state.action)
            .Add(state.user_id)
            .Add(state.redirect_url)
            .Add(state.code_verifier)
            .Add(state.nonce)
            .Add(state.expire_at)
            .Add(state.created_at)
            .Add(state.legal_accepted));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<OAuthStateRecord>>
PgWriteTransaction::TakeOAuthState(absl::string_view digest) {
  return PgGuarded(
      "taking a social sign-in state",
      [&]() -> absl::StatusOr<std::optional<OAuthStateRecord>> {
        PgResult r = c_.Run(
            "DELETE FROM oauth_states WHERE digest = $1 RETURNING provider, "
            "action, user_id, redirect_url, code_verifier, nonce, expire_at, "
            "created_at, legal_accepted",
            PgParams().Add(digest));
        if (r.rows() == 0) {
          return std::nullopt;
        }
        return OAuthStateRecord{std::string(digest), r.Text(0, 0), r.Text(0, 1),
                                r.Text(0, 2),        r.Text(0, 3), r.Text(0, 4),
                                r.Text(0, 5),        r.Int(0, 6),  r.Int(0, 7),
                                r.Int(0, 8) != 0};
      });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneOAuthStates(Micros cutoff,
                                                             int64_t max_rows) {
  return PgGuarded("pruning social sign-in states",
                   [&]() -> absl::StatusOr<int64_t> {
                     PgResult r = c_.Run(
                         "DELETE FROM oauth_states WHERE digest IN (SELECT "
                         "digest FROM oauth_states WHERE expire_at < $1 ORDER "
                         "BY expire_at LIMIT $2)",
                         PgParams().Add(cutoff).Add(max_rows));
                     return r.affected();
                   });
}

absl::Status PgWriteTransaction::PutOAuthToken(const OAuthTokenRecord& token) {
  return PgGuarded("writing a provider's tokens", [&] {
    c_.Run(
        "INSERT INTO oauth_tokens (external_account_id, user_id, sealed, "
        "key_id, expire_at, scopes, updated_at) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7) ON CONFLICT (external_account_id) DO UPDATE SET user_id = "
        "EXCLUDED.user_id, sealed = EXCLUDED.sealed, key_id = "
        "EXCLUDED.key_id, expire_at = EXCLUDED.expire_at, scopes = "
        "EXCLUDED.scopes, updated_at = EXCLUDED.updated_at",
        PgParams()
            .Add(token.external_account_id)
            .Add(token.user_id)
            .Add(token.sealed)
            .Add(token.key_id)
            .Add(token.expire_at)
            .Add(token.scopes)
            .Add(token.updated_at));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<OAuthTokenRecord>>
PgWriteTransaction::GetOAuthToken(absl::string_view external_account_id) {
  return PgGuarded(
      "reading a provider's tokens",
      [&]() -> absl::StatusOr<std::optional<OAuthTokenRecord>> {
        PgResult r = c_.Run(
            "SELECT user_id, sealed, key_id, expire_at, scopes, updated_at "
            "FROM oauth_tokens WHERE external_account_id = $1",
            PgParams().Add(external_account_id));
        if (r.rows() == 0) {
          return std::nullopt;
        }
        return OAuthTokenRecord{std::string(external_account_id),
                                r.Text(0, 0),
                                r.Text(0, 1),
                                r.Text(0, 2),
                                r.Int(0, 3),
                                r.Text(0, 4),
                                r.Int(0, 5)};
      });
}

absl::Status PgWriteTransaction::DeleteOAuthToken(
    absl::string_view external_account_id) {
  return PgGuarded("deleting a provider's tokens", [&] {
    c_.Run("DELETE FROM oauth_tokens WHERE external_account_id = $1",
           PgParams().Add(external_account_id));
    return absl::OkStatus();
  });
}

absl::StatusOr<InvitationRecord> PgWriteTransaction::GetInvitation(
    absl::string_view invitation_id) {
  return PgGuarded("reading an invitation",
                   [&]() -> absl::StatusOr<InvitationRecord> {
                     auto found = LoadPgInvitations(c_, "id", invitation_id);
                     if (found.empty()) {
                       return absl::NotFoundError("invitation not found");
                     }
                     return found.front();
                   });
}

absl::StatusOr<std::optional<InvitationRecord>>
PgWriteTransaction::FindInvitationByTicket(absl::string_view ticket_digest) {
  return PgGuarded("reading an invitation",
                   [&]() -> absl::StatusOr<std::optional<InvitationRecord>> {
                     auto found =
                         LoadPgInvitations(c_, "ticket_digest", ticket_digest);
                     if (found.empty()) {
                       return std::nullopt;
                     }
                     return found.front();
                   });
}

absl::StatusOr<std::vector<InvitationRecord>>
PgWriteTransaction::FindPendingInvitations(absl::string_view email_address) {
  return PgGuarded("reading invitations",
                   [&]() -> absl::StatusOr<std::vector<InvitationRecord>> {
                     std::vector<InvitationRecord> pending;
                     for (auto& invitation : LoadPgInvitations(
                              c_, "email_address", email_address)) {
                       if (invitation.status == InvitationStatus::kPending) {
                         pending.push_back(std::move(invitation));
                       }
                     }
                     return pending;
                   });
}

absl::Status PgWriteTransaction::PutInvitation(
    const InvitationRecord& invitation) {
  return PgGuarded("writing an invitation", [&] {
    static const std::string* const kSql =
        new std::string(UpsertInvitationSql(SqlDialect::kPostgres));
    PgParams params;
    BindAll(params, InvitationValues(invitation));
    c_.Run(*kSql, params);
    return absl::OkStatus();
  });
}

int64_t PgWriteTransaction::Commit() {
  if (events_.empty()) {
    c_.Exec("COMMIT");
    return 0;
  }
  // The row lock taken here is held until COMMIT: the next transaction to
  // append events waits for it, then reads the committed counter. So sequences
  // are handed out in commit order, and a reader that sees last_sequence = N
  // sees every event up to N. Counter, rows and notification are one
  // statement, one round trip; its text depends only on the event count, so
  // it is prepared once per count.
  const int64_t count = static_cast<int64_t>(events_.size());
  std::string rows;
  PgParams p;
  p.Add(count);
  int next = 2;
  for (size_t i = 0; i < events_.size(); ++i) {
    const EventRecord& e = events_[i];
    absl::StrAppend(&rows, i == 0 ? "" : ", ", "(", i + 1, "::bigint, $", next,
                    "::text, $", next + 1, "::text, $", next + 2, "::text, $",
                    next + 3, "::bigint, $", next + 4, "::bytea, $", next + 5,
                    "::text, $", next + 6, "::text)");
    next += 7;
    p.Add(e.id)
        .Add(e.type)
        .Add(e.user_id)
        .Add(e.created_at)
        .AddBytes(e.payload)
        .Add(e.request_id)
        .Add(e.actor);
  }
  // pg_notify delivers to every listening replica when (and only if) this
  // commits.
  PgResult counter = c_.RunAndCommit(
      absl::StrCat(
          "WITH counter AS (UPDATE event_log SET last_sequence = "
          "last_sequence + $1 WHERE id = 1 RETURNING last_sequence), "
          "inserted AS (INSERT INTO events (sequence, id, type, user_id, "
          "created_at, payload, request_id, actor) SELECT "
          "counter.last_sequence - $1 + e.ordinal, e.id, e.type, e.user_id, "
          "e.created_at, e.payload, e.request_id, e.actor FROM counter, "
          "(VALUES ",
          rows,
          ") AS e (ordinal, id, type, user_id, created_at, payload, "
          "request_id, actor)) "
          "SELECT last_sequence, pg_notify('roster_events', "
          "last_sequence::text) FROM counter"),
      p);
  const int64_t last = counter.Int(0, 0);
  events_.clear();
  return last;
}

}  // namespace roster::storage

#include "storage/postgres/pg_write_transaction.h"

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_rows.h"

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

absl::Status PgWriteTransaction::UpdateSignInState(absl::string_view user_id,
                                                   const SignInState& state) {
  return PgGuarded("recording a sign-in attempt", [&] {
    if (c_.Run("UPDATE users SET failed_password_attempts = $1, "
               "locked_until = $2, last_failed_password_at = $3, "
               "last_sign_in_at = $4, last_active_at = $5 WHERE id = $6",
               PgParams()
                   .Add(state.failed_password_attempts)
                   .Add(state.locked_until)
                   .Add(state.last_failed_password_at)
                   .Add(state.last_sign_in_at)
                   .Add(state.last_active_at)
                   .Add(user_id))
            .affected() == 0) {
      return absl::NotFoundError(absl::StrCat("user ", user_id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<SignInFailuresRecord> PgWriteTransaction::GetSignInFailures(
    absl::string_view key) {
  auto read = [&]() -> absl::StatusOr<SignInFailuresRecord> {
    // A key with no row yet has nothing FOR UPDATE could lock: a lock on the
    // key's hash, held to the end of the transaction, makes replicas counting
    // one key take turns, as GetUser's row lock does for a user.
    c_.Run("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
           PgParams().Add(key));
    PgResult r = c_.Run(
        "SELECT failures, locked_until, last_failed_at FROM sign_in_failures "
        "WHERE identifier_key = $1",
        PgParams().Add(key));
    SignInFailuresRecord record;
    record.key = std::string(key);
    if (r.rows() > 0) {
      record.failures = static_cast<int32_t>(r.Int(0, 0));
      record.locked_until = r.Int(0, 1);
      record.last_failed_at = r.Int(0, 2);
    }
    return record;
  };
  return PgGuarded("reading sign-in failures", read);
}

absl::Status PgWriteTransaction::PutSignInFailures(
    const SignInFailuresRecord& record, Micros forget_before) {
  return PgGuarded("recording sign-in failures", [&] {
    c_.Run(
        "DELETE FROM sign_in_failures WHERE last_failed_at < $1 AND "
        "identifier_key <> $2",
        PgParams().Add(forget_before).Add(record.key));
    c_.Run(
        "INSERT INTO sign_in_failures (identifier_key, failures, "
        "locked_until, last_failed_at) VALUES ($1, $2, $3, $4) ON CONFLICT "
        "(identifier_key) DO UPDATE SET failures = excluded.failures, "
        "locked_until = excluded.locked_until, "
        "last_failed_at = excluded.last_failed_at",
        PgParams()
            .Add(record.key)
            .Add(record.failures)
            .Add(record.locked_until)
            .Add(record.last_failed_at));
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

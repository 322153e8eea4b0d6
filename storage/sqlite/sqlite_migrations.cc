#include "storage/sqlite/sqlite_migrations.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "storage/metadata_index.h"
#include "storage/sqlite/sqlite_user_rows.h"
#include "storage/user_store.h"

namespace roster::storage {
namespace {

// Never edit a shipped migration; append a new one.
constexpr std::array<const char*, 20> kMigrations = {
    // 1: users and their identifiers. Text columns that can be unset are ''
    // rather than NULL
    // so that keyset paging compares plain values; uniqueness of optional keys
    // is enforced by
    // partial unique indexes. Identifiers are stored normalised (lower-case),
    // so a plain
    // UNIQUE index is case-insensitive uniqueness.
    R"sql(
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  external_id TEXT NOT NULL DEFAULT '',
  username TEXT NOT NULL DEFAULT '',
  first_name TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
  last_name TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
  image_url TEXT NOT NULL DEFAULT '',
  primary_email_address_id TEXT NOT NULL DEFAULT '',
  primary_phone_number_id TEXT NOT NULL DEFAULT '',
  primary_email_address TEXT NOT NULL DEFAULT '',
  primary_phone_number TEXT NOT NULL DEFAULT '',
  public_metadata TEXT NOT NULL DEFAULT '{}',
  private_metadata TEXT NOT NULL DEFAULT '{}',
  unsafe_metadata TEXT NOT NULL DEFAULT '{}',
  password_hash TEXT NOT NULL DEFAULT '',
  banned INTEGER NOT NULL DEFAULT 0,
  two_factor_enabled INTEGER NOT NULL DEFAULT 0,
  delete_self_enabled INTEGER NOT NULL DEFAULT 1,
  failed_password_attempts INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0,
  last_sign_in_at INTEGER NOT NULL DEFAULT 0,
  last_active_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_external_id_unique ON users(external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX users_username_unique ON users(username) WHERE username <> '';
CREATE INDEX users_by_external_id ON users(external_id, id);
CREATE INDEX users_by_created_at ON users(created_at, id);
CREATE INDEX users_by_updated_at ON users(updated_at, id);
CREATE INDEX users_by_last_sign_in_at ON users(last_sign_in_at, id);
CREATE INDEX users_by_last_active_at ON users(last_active_at, id);
CREATE INDEX users_by_username ON users(username, id);
CREATE INDEX users_by_first_name ON users(first_name, id);
CREATE INDEX users_by_last_name ON users(last_name, id);
CREATE INDEX users_by_primary_email_address ON users(primary_email_address, id);
CREATE INDEX users_by_primary_phone_number ON users(primary_phone_number, id);

CREATE TABLE email_addresses (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  email_address TEXT NOT NULL UNIQUE,
  verification_status INTEGER NOT NULL,
  verification_strategy TEXT NOT NULL,
  verification_attempts INTEGER NOT NULL DEFAULT 0,
  verification_expire_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX email_addresses_by_user ON email_addresses(user_id, created_at, id);

CREATE TABLE phone_numbers (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  phone_number TEXT NOT NULL UNIQUE,
  verification_status INTEGER NOT NULL,
  verification_strategy TEXT NOT NULL,
  verification_attempts INTEGER NOT NULL DEFAULT 0,
  verification_expire_at INTEGER NOT NULL DEFAULT 0,
  reserved_for_second_factor INTEGER NOT NULL DEFAULT 0,
  default_second_factor INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX phone_numbers_by_user ON phone_numbers(user_id, created_at, id);

CREATE TABLE external_accounts (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  provider_user_id TEXT NOT NULL,
  email_address TEXT NOT NULL DEFAULT '',
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  username TEXT NOT NULL DEFAULT '',
  image_url TEXT NOT NULL DEFAULT '',
  approved_scopes TEXT NOT NULL DEFAULT '',
  public_metadata TEXT NOT NULL DEFAULT '{}',
  verification_status INTEGER NOT NULL,
  verification_strategy TEXT NOT NULL,
  verification_attempts INTEGER NOT NULL DEFAULT 0,
  verification_expire_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (provider, provider_user_id)
) STRICT;
CREATE INDEX external_accounts_by_user ON external_accounts(user_id, created_at, id);

CREATE TABLE idempotency_keys (
  request_id TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys(created_at);
)sql",
    // 2: the events outbox. AUTOINCREMENT never reuses a sequence, even after
    // retention has
    // deleted every row; with one writer the sequence is also gap-free in
    // commit order.
    // event_log.pruned_through remembers how far retention has deleted.
    R"sql(
CREATE TABLE events (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  user_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  payload BLOB NOT NULL,
  request_id TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX events_by_user ON events(user_id, sequence);
CREATE INDEX events_by_type ON events(type, sequence);
CREATE INDEX events_by_created_at ON events(created_at);
CREATE TABLE event_log (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pruned_through INTEGER NOT NULL
) STRICT;
INSERT INTO event_log (id, pruned_through) VALUES (1, 0);
)sql",
    // 3: sessions. The secret is stored as a digest only.
    R"sql(
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  secret_digest TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_active_at INTEGER NOT NULL,
  expire_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user_id, created_at, id);
)sql",
    // 4: verification codes and profile images. Email addresses and phone
    // numbers are rebuilt so that only a *verified* value is unique across
    // users (several users may claim one unverified; the first to verify it
    // wins and the others' claims are removed), while one user holds a value
    // at most once. The code is kept only as a salted digest.
    // verification_sends counts codes sent per address per window, so
    // re-creating an identifier cannot reset the rate limit.
    R"sql(
CREATE TABLE email_addresses_v4 (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  email_address TEXT NOT NULL,
  verification_status INTEGER NOT NULL,
  verification_strategy TEXT NOT NULL,
  verification_attempts INTEGER NOT NULL DEFAULT 0,
  verification_expire_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  verification_code_digest TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO email_addresses_v4 (id, user_id, email_address, verification_status,
  verification_strategy, verification_attempts, verification_expire_at, created_at, updated_at)
  SELECT id, user_id, email_address, verification_status, verification_strategy,
    verification_attempts, verification_expire_at, created_at, updated_at FROM email_addresses;
DROP TABLE email_addresses;
ALTER TABLE email_addresses_v4 RENAME TO email_addresses;
CREATE INDEX email_addresses_by_user ON email_addresses(user_id, created_at, id);
CREATE UNIQUE INDEX email_addresses_verified_unique ON email_addresses(email_address)
  WHERE verification_status = 2;
CREATE UNIQUE INDEX email_addresses_per_user_unique ON email_addresses(email_address, user_id);

CREATE TABLE phone_numbers_v4 (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  phone_number TEXT NOT NULL,
  verification_status INTEGER NOT NULL,
  verification_strategy TEXT NOT NULL,
  verification_attempts INTEGER NOT NULL DEFAULT 0,
  verification_expire_at INTEGER NOT NULL DEFAULT 0,
  reserved_for_second_factor INTEGER NOT NULL DEFAULT 0,
  default_second_factor INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  verification_code_digest TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO phone_numbers_v4 (id, user_id, phone_number, verification_status,
  verification_strategy, verification_attempts, verification_expire_at,
  reserved_for_second_factor, default_second_factor, created_at, updated_at)
  SELECT id, user_id, phone_number, verification_status, verification_strategy,
    verification_attempts, verification_expire_at, reserved_for_second_factor,
    default_second_factor, created_at, updated_at FROM phone_numbers;
DROP TABLE phone_numbers;
ALTER TABLE phone_numbers_v4 RENAME TO phone_numbers;
CREATE INDEX phone_numbers_by_user ON phone_numbers(user_id, created_at, id);
CREATE UNIQUE INDEX phone_numbers_verified_unique ON phone_numbers(phone_number)
  WHERE verification_status = 2;
CREATE UNIQUE INDEX phone_numbers_per_user_unique ON phone_numbers(phone_number, user_id);

CREATE TABLE verification_sends (
  address TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  sends INTEGER NOT NULL
) STRICT;
CREATE INDEX verification_sends_by_window_start ON verification_sends(window_start);

CREATE TABLE images (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  content_type TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX images_by_user ON images(user_id);
)sql",
    // 5: the number of users, kept by triggers, so an unfiltered ListUsers or
    // CountUsers reads one row instead of counting a million (COUNT(*) walks a
    // whole index: 34 ms of CPU per page at 1,000,000 users). Users are only
    // ever inserted and deleted (never REPLACEd), so the two triggers see
    // every change; a rolled-back write rolls its count back with it.
    R"sql(
CREATE TABLE user_count (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n INTEGER NOT NULL
) STRICT;
INSERT INTO user_count (id, n) SELECT 1, COUNT(*) FROM users;
CREATE TRIGGER users_counted_on_insert AFTER INSERT ON users
BEGIN
  UPDATE user_count SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER users_counted_on_delete AFTER DELETE ON users
BEGIN
  UPDATE user_count SET n = n - 1 WHERE id = 1;
END;
)sql",
    // 6: each user's identifiers copied into its own row (see
    // identifier_column.h), so that reading a user is one b-tree search
    // instead of four (the user row, then each identifier table's by-user
    // index and row). Filled here from the tables; NULL would mean "not kept,
    // read the tables". Rewrites every users row once.
    R"sql(
ALTER TABLE users ADD COLUMN identifiers TEXT;
UPDATE users SET identifiers =
  coalesce((SELECT group_concat(
    'e' ||
    length(CAST(id AS BLOB)) || ':' || id ||
    length(CAST(email_address AS BLOB)) || ':' || email_address ||
    length(CAST(verification_status AS BLOB)) || ':' || verification_status ||
    length(CAST(verification_strategy AS BLOB)) || ':' || verification_strategy ||
    length(CAST(verification_attempts AS BLOB)) || ':' || verification_attempts ||
    length(CAST(verification_expire_at AS BLOB)) || ':' || verification_expire_at ||
    length(CAST(created_at AS BLOB)) || ':' || created_at ||
    length(CAST(updated_at AS BLOB)) || ':' || updated_at ||
    length(CAST(verification_code_digest AS BLOB)) || ':' || verification_code_digest, '')
    FROM email_addresses WHERE user_id = users.id), '') ||
  coalesce((SELECT group_concat(
    'p' ||
    length(CAST(id AS BLOB)) || ':' || id ||
    length(CAST(phone_number AS BLOB)) || ':' || phone_number ||
    length(CAST(verification_status AS BLOB)) || ':' || verification_status ||
    length(CAST(verification_strategy AS BLOB)) || ':' || verification_strategy ||
    length(CAST(verification_attempts AS BLOB)) || ':' || verification_attempts ||
    length(CAST(verification_expire_at AS BLOB)) || ':' || verification_expire_at ||
    length(CAST(created_at AS BLOB)) || ':' || created_at ||
    length(CAST(updated_at AS BLOB)) || ':' || updated_at ||
    length(CAST(verification_code_digest AS BLOB)) || ':' || verification_code_digest ||
    length(CAST(reserved_for_second_factor AS BLOB)) || ':' || reserved_for_second_factor ||
    length(CAST(default_second_factor AS BLOB)) || ':' || default_second_factor, '')
    FROM phone_numbers WHERE user_id = users.id), '') ||
  coalesce((SELECT group_concat(
    'x' ||
    length(CAST(id AS BLOB)) || ':' || id ||
    length(CAST(provider_user_id AS BLOB)) || ':' || provider_user_id ||
    length(CAST(verification_status AS BLOB)) || ':' || verification_status ||
    length(CAST(verification_strategy AS BLOB)) || ':' || verification_strategy ||
    length(CAST(verification_attempts AS BLOB)) || ':' || verification_attempts ||
    length(CAST(verification_expire_at AS BLOB)) || ':' || verification_expire_at ||
    length(CAST(created_at AS BLOB)) || ':' || created_at ||
    length(CAST(updated_at AS BLOB)) || ':' || updated_at ||
    length(CAST(provider AS BLOB)) || ':' || provider ||
    length(CAST(email_address AS BLOB)) || ':' || email_address ||
    length(CAST(first_name AS BLOB)) || ':' || first_name ||
    length(CAST(last_name AS BLOB)) || ':' || last_name ||
    length(CAST(username AS BLOB)) || ':' || username ||
    length(CAST(image_url AS BLOB)) || ':' || image_url ||
    length(CAST(approved_scopes AS BLOB)) || ':' || approved_scopes ||
    length(CAST(public_metadata AS BLOB)) || ':' || public_metadata, '')
    FROM external_accounts WHERE user_id = users.id), '');
)sql",
    // 7: a user's locale (BCP 47) and when they accepted the legal terms.
    R"sql(
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN legal_accepted_at INTEGER NOT NULL DEFAULT 0;
)sql",
    // 8: sign-ups (DESIGN §10), before any user exists. No foreign keys: the
    // user and session they created may be deleted while the row lives on.
    R"sql(
CREATE TABLE sign_ups (
  id TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  email_address TEXT NOT NULL,
  email_verification_status INTEGER NOT NULL,
  email_verification_strategy TEXT NOT NULL,
  email_verification_attempts INTEGER NOT NULL,
  email_verification_expire_at INTEGER NOT NULL,
  email_verification_code_digest TEXT NOT NULL,
  phone_number TEXT NOT NULL,
  phone_verification_status INTEGER NOT NULL,
  phone_verification_strategy TEXT NOT NULL,
  phone_verification_attempts INTEGER NOT NULL,
  phone_verification_expire_at INTEGER NOT NULL,
  phone_verification_code_digest TEXT NOT NULL,
  username TEXT NOT NULL,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  unsafe_metadata TEXT NOT NULL,
  public_metadata TEXT NOT NULL,
  invitation_id TEXT NOT NULL,
  legal_accepted_at INTEGER NOT NULL,
  created_user_id TEXT NOT NULL,
  created_session_id TEXT NOT NULL,
  expire_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_ups_by_expire_at ON sign_ups(expire_at);
)sql",
    // 9: invitations (DESIGN §10). The ticket is kept as a digest only.
    R"sql(
CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  email_address TEXT NOT NULL,
  status INTEGER NOT NULL,
  public_metadata TEXT NOT NULL,
  redirect_url TEXT NOT NULL,
  ticket_digest TEXT NOT NULL UNIQUE,
  accepted_user_id TEXT NOT NULL,
  expire_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX invitations_by_email_address ON invitations(email_address);
CREATE INDEX invitations_by_created_at ON invitations(created_at, id);
)sql",
    // 10: sign-in attempts (DESIGN §10), kept a day past their 10 minutes.
    R"sql(
CREATE TABLE sign_in_attempts (
  id TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  identifier TEXT NOT NULL,
  user_id TEXT NOT NULL,
  code_strategy TEXT NOT NULL,
  code_digest TEXT NOT NULL,
  code_expire_at INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  created_session_id TEXT NOT NULL,
  expire_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_attempts_by_expire_at ON sign_in_attempts(expire_at);
)sql",
    // 11: second factors (DESIGN §10). The partial index answers "which data
    // keys seal a secret here" at start-up without a scan.
    R"sql(
ALTER TABLE users ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN backup_codes TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN mfa_enabled_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_disabled_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_by_totp_key_id ON users(totp_key_id) WHERE totp_key_id != '';
)sql",
    // 12: sign-in tickets (DESIGN §10–12), kept as digests until used or an
    // hour past their expiry.
    R"sql(
CREATE TABLE sign_in_tickets (
  digest TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  expire_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_tickets_by_expire_at ON sign_in_tickets(expire_at);
)sql",
    // 13: the code deliverer's cursor and lease (one row) and its retries
    // (DESIGN §13).
    R"sql(
CREATE TABLE delivery_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  cursor INTEGER NOT NULL,
  in_flight INTEGER NOT NULL,
  lease_owner TEXT NOT NULL,
  lease_until INTEGER NOT NULL
) STRICT;
INSERT INTO delivery_state VALUES (1, -1, 0, '', 0);
CREATE TABLE delivery_retries (
  sequence INTEGER PRIMARY KEY,
  recipient TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
)sql",
    // 14: social sign-ins in progress (DESIGN §11), kept as digests until the
    // callback takes them or an hour past their expiry.
    R"sql(
CREATE TABLE oauth_states (
  digest TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  action TEXT NOT NULL,
  user_id TEXT NOT NULL,
  redirect_url TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expire_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_states_by_expire_at ON oauth_states(expire_at);
)sql",
    // 15: providers' tokens, sealed, one row per external account; gone with
    // the user (the account's own rows are rewritten on every change, so they
    // cannot carry the cascade).
    R"sql(
CREATE TABLE oauth_tokens (
  external_account_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sealed TEXT NOT NULL,
  key_id TEXT NOT NULL,
  expire_at INTEGER NOT NULL,
  scopes TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_tokens_by_user ON oauth_tokens(user_id);
CREATE INDEX oauth_tokens_by_key_id ON oauth_tokens(key_id);
)sql",
    // 16: the metadata index (storage/metadata_index.h), filled from every
    // user's metadata by BackfillMetadataIndex in the same step.
    R"sql(
CREATE TABLE user_metadata_values (
  tier INTEGER NOT NULL,
  path TEXT NOT NULL,
  value TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (tier, path, value, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_metadata_values_by_user ON user_metadata_values(user_id);
)sql",
    // 17: whether the person accepted the terms when starting a social
    // sign-in, for the user it may create.
    R"sql(
ALTER TABLE oauth_states ADD COLUMN legal_accepted INTEGER NOT NULL DEFAULT 0;
)sql",
    // 18: failures are forgotten after a quiet --lockout_duration, so a user's
    // count needs its last failure's time; and an identifier that names no
    // user counts its own, so that its lockout looks like a user's.
    R"sql(
ALTER TABLE users ADD COLUMN last_failed_password_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE sign_in_failures (
  identifier_key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  last_failed_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sign_in_failures_by_last_failed_at
  ON sign_in_failures(last_failed_at);
)sql",
    // 19: a social sign-up that still needs fields keeps the provider's
    // account (and its sealed tokens) until it completes.
    R"sql(
ALTER TABLE sign_ups ADD COLUMN external_account TEXT NOT NULL DEFAULT '';
)sql",
    // 20: one replica at a time refreshes a provider's tokens.
    R"sql(
ALTER TABLE oauth_tokens ADD COLUMN refresh_lease_until INTEGER NOT NULL DEFAULT 0;
)sql",
};

constexpr int kMetadataIndexVersion = 16;

// Indexes the metadata of every user written before the index existed.
void BackfillMetadataIndex(SqliteConnection& connection) {
  SQLite::Statement users(
      connection.db(),
      "SELECT id, public_metadata, private_metadata, unsafe_metadata FROM "
      "users WHERE public_metadata <> '{}' OR private_metadata <> '{}' OR "
      "unsafe_metadata <> '{}'");
  while (users.executeStep()) {
    UserRecord user;
    user.id = users.getColumn(0).getString();
    user.public_metadata = users.getColumn(1).getString();
    user.private_metadata = users.getColumn(2).getString();
    user.unsafe_metadata = users.getColumn(3).getString();
    WriteMetadataIndex(connection, user.id, FirstMetadataIndex(user));
  }
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

absl::Status Migrate(SqliteConnection& connection) {
  return MigrateTo(connection, LatestSchemaVersion());
}

absl::Status MigrateTo(SqliteConnection& connection, int target_version) {
  try {
    // Each step re-reads the version under the write lock, so two processes
    // starting on one file apply every migration exactly once.
    while (true) {
      connection.Exec("BEGIN IMMEDIATE");
      try {
        const int current =
            connection.db().execAndGet("PRAGMA user_version").getInt();
        if (current > LatestSchemaVersion()) {
          connection.Exec("ROLLBACK");
          return NewerSchemaError(current, LatestSchemaVersion());
        }
        if (current >= target_version) {
          connection.Exec("COMMIT");
          return absl::OkStatus();
        }
        connection.Exec(kMigrations[static_cast<size_t>(current)]);
        if (current + 1 == kMetadataIndexVersion) {
          BackfillMetadataIndex(connection);
        }
        connection.Exec(
            absl::StrCat("PRAGMA user_version = ", current + 1).c_str());
        connection.Exec("COMMIT");
      } catch (...) {
        connection.Exec("ROLLBACK");
        throw;
      }
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, "migrating the schema");
  }
}

}  // namespace roster::storage

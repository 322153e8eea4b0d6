#include "storage/postgres/pg_migrations.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "storage/postgres/pg_rows.h"
#include "storage/user_store.h"

namespace roster::storage {
namespace {

// An arbitrary constant naming Roster's migration lock among a database's
// advisory locks.
constexpr char kMigrationLock[] = "SELECT pg_advisory_xact_lock(7290146531)";

// Never edit a shipped migration; append a new one. The schema mirrors
// SQLite's (storage/sqlite/sqlite_migrations.cc) at its version 4, with these
// differences: times are BIGINT microseconds; text that pages sort by is
// COLLATE "C" (byte order, as in SQLite, whatever the database's locale); names
// sort by lower() where SQLite uses NOCASE; bytes are BYTEA; and the event
// sequence is allocated from event_log.last_sequence inside the committing
// transaction (see PgUserStore), not by an identity column, so that sequence
// order is commit order across replicas.
constexpr std::array<const char*, 16> kPgMigrations = {
    R"sql(
CREATE TABLE users (
  id TEXT COLLATE "C" PRIMARY KEY,
  external_id TEXT NOT NULL DEFAULT '',
  username TEXT COLLATE "C" NOT NULL DEFAULT '',
  first_name TEXT COLLATE "C" NOT NULL DEFAULT '',
  last_name TEXT COLLATE "C" NOT NULL DEFAULT '',
  image_url TEXT NOT NULL DEFAULT '',
  primary_email_address_id TEXT NOT NULL DEFAULT '',
  primary_phone_number_id TEXT NOT NULL DEFAULT '',
  primary_email_address TEXT COLLATE "C" NOT NULL DEFAULT '',
  primary_phone_number TEXT COLLATE "C" NOT NULL DEFAULT '',
  public_metadata TEXT NOT NULL DEFAULT '{}',
  private_metadata TEXT NOT NULL DEFAULT '{}',
  unsafe_metadata TEXT NOT NULL DEFAULT '{}',
  password_hash TEXT NOT NULL DEFAULT '',
  banned INTEGER NOT NULL DEFAULT 0,
  two_factor_enabled INTEGER NOT NULL DEFAULT 0,
  delete_self_enabled INTEGER NOT NULL DEFAULT 1,
  failed_password_attempts INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT NOT NULL DEFAULT 0,
  last_sign_in_at BIGINT NOT NULL DEFAULT 0,
  last_active_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_external_id_unique ON users(external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX users_username_unique ON users(username) WHERE username <> '';
CREATE INDEX users_by_external_id ON users(external_id, id);
CREATE INDEX users_by_created_at ON users(created_at, id);
CREATE INDEX users_by_updated_at ON users(updated_at, id);
CREATE INDEX users_by_last_sign_in_at ON users(last_sign_in_at, id);
CREATE INDEX users_by_last_active_at ON users(last_active_at, id);
CREATE INDEX users_by_username ON users(username, id);
CREATE INDEX users_by_first_name ON users(lower(first_name), id);
CREATE INDEX users_by_last_name ON users(lower(last_name), id);
CREATE INDEX users_by_primary_email_address ON users(primary_email_address, id);
CREATE INDEX users_by_primary_phone_number ON users(primary_phone_number, id);

CREATE TABLE email_addresses (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  email_address TEXT NOT NULL,
  verification_status INTEGER NOT NULL,
  verification_strategy TEXT NOT NULL,
  verification_attempts INTEGER NOT NULL DEFAULT 0,
  verification_expire_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  verification_code_digest TEXT NOT NULL DEFAULT ''
);
CREATE INDEX email_addresses_by_user ON email_addresses(user_id, created_at, id);
CREATE UNIQUE INDEX email_addresses_verified_unique ON email_addresses(email_address)
  WHERE verification_status = 2;
CREATE UNIQUE INDEX email_addresses_per_user_unique ON email_addresses(email_address, user_id);

CREATE TABLE phone_numbers (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  phone_number TEXT NOT NULL,
  verification_status INTEGER NOT NULL,
  verification_strategy TEXT NOT NULL,
  verification_attempts INTEGER NOT NULL DEFAULT 0,
  verification_expire_at BIGINT NOT NULL DEFAULT 0,
  reserved_for_second_factor INTEGER NOT NULL DEFAULT 0,
  default_second_factor INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  verification_code_digest TEXT NOT NULL DEFAULT ''
);
CREATE INDEX phone_numbers_by_user ON phone_numbers(user_id, created_at, id);
CREATE UNIQUE INDEX phone_numbers_verified_unique ON phone_numbers(phone_number)
  WHERE verification_status = 2;
CREATE UNIQUE INDEX phone_numbers_per_user_unique ON phone_numbers(phone_number, user_id);

CREATE TABLE external_accounts (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
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
  verification_expire_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (provider, provider_user_id)
);
CREATE INDEX external_accounts_by_user ON external_accounts(user_id, created_at, id);

CREATE TABLE idempotency_keys (
  request_id TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys(created_at);

CREATE TABLE events (
  sequence BIGINT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  user_id TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  payload BYTEA NOT NULL,
  request_id TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_by_user ON events(user_id, sequence);
CREATE INDEX events_by_type ON events(type, sequence);
CREATE INDEX events_by_created_at ON events(created_at);
CREATE TABLE event_log (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pruned_through BIGINT NOT NULL,
  last_sequence BIGINT NOT NULL
);
INSERT INTO event_log (id, pruned_through, last_sequence) VALUES (1, 0, 0);

CREATE TABLE sessions (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  secret_digest TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  last_active_at BIGINT NOT NULL,
  expire_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id, created_at, id);

CREATE TABLE verification_sends (
  address TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  sends INTEGER NOT NULL
);
CREATE INDEX verification_sends_by_window_start ON verification_sends(window_start);

CREATE TABLE images (
  id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  content_type TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  data BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX images_by_user ON images(user_id);
)sql",
    // 2: the number of users, kept by a trigger, as SQLite's migration 5: an
    // unfiltered count reads one row. Every write already serialises on the
    // event_log row, so this row adds no new contention between replicas.
    R"sql(
CREATE TABLE user_count (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n BIGINT NOT NULL
);
INSERT INTO user_count (id, n) SELECT 1, COUNT(*) FROM users;
CREATE FUNCTION roster_count_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE user_count SET n = n + 1 WHERE id = 1;
  ELSE
    UPDATE user_count SET n = n - 1 WHERE id = 1;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER users_counted AFTER INSERT OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION roster_count_users();
)sql",
    // 3: as SQLite's migration 7.
    R"sql(
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN legal_accepted_at BIGINT NOT NULL DEFAULT 0;
)sql",
    // 4: as SQLite's migration 8.
    R"sql(
CREATE TABLE sign_ups (
  id TEXT COLLATE "C" PRIMARY KEY,
  status INTEGER NOT NULL,
  email_address TEXT NOT NULL,
  email_verification_status INTEGER NOT NULL,
  email_verification_strategy TEXT NOT NULL,
  email_verification_attempts INTEGER NOT NULL,
  email_verification_expire_at BIGINT NOT NULL,
  email_verification_code_digest TEXT NOT NULL,
  phone_number TEXT NOT NULL,
  phone_verification_status INTEGER NOT NULL,
  phone_verification_strategy TEXT NOT NULL,
  phone_verification_attempts INTEGER NOT NULL,
  phone_verification_expire_at BIGINT NOT NULL,
  phone_verification_code_digest TEXT NOT NULL,
  username TEXT NOT NULL,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  unsafe_metadata TEXT NOT NULL,
  public_metadata TEXT NOT NULL,
  invitation_id TEXT NOT NULL,
  legal_accepted_at BIGINT NOT NULL,
  created_user_id TEXT NOT NULL,
  created_session_id TEXT NOT NULL,
  expire_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX sign_ups_by_expire_at ON sign_ups(expire_at);
)sql",
    // 5: as SQLite's migration 9.
    R"sql(
CREATE TABLE invitations (
  id TEXT COLLATE "C" PRIMARY KEY,
  email_address TEXT COLLATE "C" NOT NULL,
  status INTEGER NOT NULL,
  public_metadata TEXT NOT NULL,
  redirect_url TEXT NOT NULL,
  ticket_digest TEXT COLLATE "C" NOT NULL UNIQUE,
  accepted_user_id TEXT NOT NULL,
  expire_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX invitations_by_email_address ON invitations(email_address);
CREATE INDEX invitations_by_created_at ON invitations(created_at, id);
)sql",
    // 6: as SQLite's migration 10.
    R"sql(
CREATE TABLE sign_in_attempts (
  id TEXT COLLATE "C" PRIMARY KEY,
  status INTEGER NOT NULL,
  identifier TEXT NOT NULL,
  user_id TEXT NOT NULL,
  code_strategy TEXT NOT NULL,
  code_digest TEXT NOT NULL,
  code_expire_at BIGINT NOT NULL,
  failures INTEGER NOT NULL,
  created_session_id TEXT NOT NULL,
  expire_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX sign_in_attempts_by_expire_at ON sign_in_attempts(expire_at);
)sql",
    // 7: as SQLite's migration 11.
    R"sql(
ALTER TABLE users ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN backup_codes TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN mfa_enabled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN mfa_disabled_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_by_totp_key_id ON users(totp_key_id) WHERE totp_key_id <> '';
)sql",
    // 8: as SQLite's migration 12.
    R"sql(
CREATE TABLE sign_in_tickets (
  digest TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT NOT NULL,
  expire_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX sign_in_tickets_by_expire_at ON sign_in_tickets(expire_at);
)sql",
    // 9: as SQLite's migration 13.
    R"sql(
CREATE TABLE delivery_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  cursor BIGINT NOT NULL,
  in_flight BIGINT NOT NULL,
  lease_owner TEXT NOT NULL,
  lease_until BIGINT NOT NULL
);
INSERT INTO delivery_state VALUES (1, -1, 0, '', 0);
CREATE TABLE delivery_retries (
  sequence BIGINT PRIMARY KEY,
  recipient TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
)sql",
    // 10: as SQLite's migration 14.
    R"sql(
CREATE TABLE oauth_states (
  digest TEXT COLLATE "C" PRIMARY KEY,
  provider TEXT NOT NULL,
  action TEXT NOT NULL,
  user_id TEXT NOT NULL,
  redirect_url TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expire_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_by_expire_at ON oauth_states(expire_at);
)sql",
    // 11: as SQLite's migration 15.
    R"sql(
CREATE TABLE oauth_tokens (
  external_account_id TEXT COLLATE "C" PRIMARY KEY,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sealed TEXT NOT NULL,
  key_id TEXT NOT NULL,
  expire_at BIGINT NOT NULL,
  scopes TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX oauth_tokens_by_user ON oauth_tokens(user_id);
CREATE INDEX oauth_tokens_by_key_id ON oauth_tokens(key_id);
)sql",
    // 12: as SQLite's migration 16, filled by BackfillPgMetadataIndex.
    R"sql(
CREATE TABLE user_metadata_values (
  tier INTEGER NOT NULL,
  path TEXT COLLATE "C" NOT NULL,
  value TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (tier, path, value, user_id)
);
CREATE INDEX user_metadata_values_by_user ON user_metadata_values(user_id);
)sql",
    // 13: as SQLite's migration 17.
    R"sql(
ALTER TABLE oauth_states ADD COLUMN legal_accepted INTEGER NOT NULL DEFAULT 0;
)sql",
    // 14: as SQLite's migration 18.
    R"sql(
ALTER TABLE users ADD COLUMN last_failed_password_at BIGINT NOT NULL DEFAULT 0;
CREATE TABLE sign_in_failures (
  identifier_key TEXT COLLATE "C" PRIMARY KEY,
  failures INTEGER NOT NULL,
  locked_until BIGINT NOT NULL,
  last_failed_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_by_last_failed_at
  ON sign_in_failures(last_failed_at);
)sql",
    // 15: as SQLite's migration 19.
    R"sql(
ALTER TABLE sign_ups ADD COLUMN external_account TEXT NOT NULL DEFAULT '';
)sql",
    // 16: one replica at a time refreshes a provider's tokens.
    R"sql(
ALTER TABLE oauth_tokens ADD COLUMN refresh_lease_until BIGINT NOT NULL DEFAULT 0;
)sql",
};

constexpr int kPgMetadataIndexVersion = 12;

}  // namespace

int LatestPgSchemaVersion() { return static_cast<int>(kPgMigrations.size()); }

absl::Status MigratePg(PgConnection& c) {
  return PgGuarded("migrating the schema", [&]() -> absl::Status {
    c.Exec("BEGIN");
    try {
      c.Exec(kMigrationLock);
      c.Exec(
          "CREATE TABLE IF NOT EXISTS roster_schema (id INTEGER PRIMARY KEY "
          "CHECK (id = 1), version INTEGER NOT NULL)");
      PgResult row = c.Exec("SELECT version FROM roster_schema WHERE id = 1");
      const int current = row.rows() == 0 ? 0 : static_cast<int>(row.Int(0, 0));
      if (current > LatestPgSchemaVersion()) {
        c.Exec("ROLLBACK");
        return NewerSchemaError(current, LatestPgSchemaVersion());
      }
      for (int v = current; v < LatestPgSchemaVersion(); ++v) {
        c.Exec(kPgMigrations[static_cast<size_t>(v)]);
        if (v + 1 == kPgMetadataIndexVersion) {
          BackfillPgMetadataIndex(c);
        }
      }
      c.Exec(absl::StrCat(
          "INSERT INTO roster_schema (id, version) VALUES (1, ",
          LatestPgSchemaVersion(),
          ") ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version"));
      c.Exec("COMMIT");
      return absl::OkStatus();
    } catch (...) {
      if (c.ok()) {
        c.Exec("ROLLBACK");
      }
      throw;
    }
  });
}

}  // namespace roster::storage

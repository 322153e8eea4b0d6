// Plain record structs that storage reads and writes. No gRPC, no protobuf:
// metadata is JSON text, times are microseconds since the Unix epoch (0 means
// "never" / unset), and strings that may be unset are empty when unset.
#ifndef ROSTER_STORAGE_RECORDS_H_
#define ROSTER_STORAGE_RECORDS_H_

#include <array>
#include <cstdint>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace roster::storage {

// Microseconds since the Unix epoch, UTC. 0 means unset.
using Micros = int64_t;

enum class VerificationStatus : int {
  kUnverified = 1,
  kVerified = 2,
  kFailed = 3,
  kExpired = 4
};

struct VerificationRecord {
  VerificationStatus status = VerificationStatus::kUnverified;
  std::string strategy;  // "admin", "email_code", "phone_code",
                         // "from_oauth_<provider>".
  int32_t attempts = 0;
  Micros expire_at = 0;
  // Salted digest of the pending one-time code; empty when none is pending.
  // Stored for email addresses and phone numbers only.
  std::string code_digest;
};

struct EmailAddressRecord {
  std::string id;
  std::string user_id;
  std::string email_address;  // Normalised: trimmed, lower-case.
  VerificationRecord verification;
  Micros created_at = 0;
  Micros updated_at = 0;
};

struct PhoneNumberRecord {
  std::string id;
  std::string user_id;
  std::string phone_number;  // E.164.
  VerificationRecord verification;
  bool reserved_for_second_factor = false;
  bool default_second_factor = false;
  Micros created_at = 0;
  Micros updated_at = 0;
};

struct ExternalAccountRecord {
  std::string id;
  std::string user_id;
  std::string provider;
  std::string provider_user_id;
  std::string email_address;
  std::string first_name;
  std::string last_name;
  std::string username;
  std::string image_url;
  std::vector<std::string> approved_scopes;
  std::string public_metadata = "{}";
  VerificationRecord verification;
  Micros created_at = 0;
  Micros updated_at = 0;
};

struct UserRecord {
  std::string id;
  std::string external_id;  // Empty when unset.
  std::string username;     // Lower-case; empty when unset.
  std::string first_name;
  std::string last_name;
  std::string image_url;
  std::string primary_email_address_id;  // Empty when none.
  std::string primary_phone_number_id;   // Empty when none.
  std::string public_metadata = "{}";    // Compact JSON objects.
  std::string private_metadata = "{}";
  std::string unsafe_metadata = "{}";
  std::string password_hash;  // Empty when the user has no password.
  bool banned = false;
  bool two_factor_enabled = false;
  bool delete_self_enabled = true;
  int32_t failed_password_attempts = 0;
  Micros locked_until = 0;             // Locked while now < locked_until.
  Micros last_failed_password_at = 0;  // When the last one counted.
  Micros last_sign_in_at = 0;
  Micros last_active_at = 0;
  Micros created_at = 0;
  Micros updated_at = 0;
  int64_t version =
      0;               // Bumped by every mutation; the etag is derived from it.
  std::string locale;  // A BCP 47 tag; empty when unset.
  Micros legal_accepted_at = 0;
  // Second factors (DESIGN §10). The TOTP secret is sealed by the server's
  // data keys; totp_key_id names the key, so start-up can tell a lost key.
  std::string totp_secret;  // Sealed; empty when none (enrolled or not).
  std::string totp_key_id;
  bool totp_enabled = false;   // The secret was verified by a code.
  int64_t totp_last_step = 0;  // The last step whose code was accepted.
  std::string backup_codes;    // Space-separated code digests; empty: none.
  Micros mfa_enabled_at = 0;
  Micros mfa_disabled_at = 0;

  // Oldest first.
  std::vector<EmailAddressRecord> email_addresses;
  std::vector<PhoneNumberRecord> phone_numbers;
  std::vector<ExternalAccountRecord> external_accounts;
};

// One column of the users row: its name in every adapter's schema and the
// UserRecord member it holds.
struct UserColumn {
  using Member = std::variant<std::string UserRecord::*, bool UserRecord::*,
                              int32_t UserRecord::*, int64_t UserRecord::*>;
  const char* name;
  Member member;
};

// The users row, said once. Both adapters' column lists, row readers, writers
// and update diffs, and UserRecord's equality, are generated from it, so a new
// field is its member above, its line here, one migration per adapter and its
// mapping (docs/architecture.md, "Adding a user field"). The order is the
// SELECT order; each adapter's schema may order its columns differently.
inline constexpr std::array<UserColumn, 32> kUserRow = {{
    {"id", &UserRecord::id},
    {"external_id", &UserRecord::external_id},
    {"username", &UserRecord::username},
    {"first_name", &UserRecord::first_name},
    {"last_name", &UserRecord::last_name},
    {"image_url", &UserRecord::image_url},
    {"primary_email_address_id", &UserRecord::primary_email_address_id},
    {"primary_phone_number_id", &UserRecord::primary_phone_number_id},
    {"public_metadata", &UserRecord::public_metadata},
    {"private_metadata", &UserRecord::private_metadata},
    {"unsafe_metadata", &UserRecord::unsafe_metadata},
    {"password_hash", &UserRecord::password_hash},
    {"banned", &UserRecord::banned},
    {"two_factor_enabled", &UserRecord::two_factor_enabled},
    {"delete_self_enabled", &UserRecord::delete_self_enabled},
    {"failed_password_attempts", &UserRecord::failed_password_attempts},
    {"locked_until", &UserRecord::locked_until},
    {"last_sign_in_at", &UserRecord::last_sign_in_at},
    {"last_active_at", &UserRecord::last_active_at},
    {"created_at", &UserRecord::created_at},
    {"updated_at", &UserRecord::updated_at},
    {"version", &UserRecord::version},
    {"locale", &UserRecord::locale},
    {"legal_accepted_at", &UserRecord::legal_accepted_at},
    {"totp_secret", &UserRecord::totp_secret},
    {"totp_key_id", &UserRecord::totp_key_id},
    {"totp_enabled", &UserRecord::totp_enabled},
    {"totp_last_step", &UserRecord::totp_last_step},
    {"backup_codes", &UserRecord::backup_codes},
    {"mfa_enabled_at", &UserRecord::mfa_enabled_at},
    {"mfa_disabled_at", &UserRecord::mfa_disabled_at},
    {"last_failed_password_at", &UserRecord::last_failed_password_at},
}};

// The failed sign-ins at an identifier that names no user (keyed by its
// digest), counted by the rules a user's are, so that the two lock alike.
struct SignInFailuresRecord {
  std::string key;
  int32_t failures = 0;
  Micros locked_until = 0;
  Micros last_failed_at = 0;
};

// A user's sign-in bookkeeping, which is not a change to the user.
struct SignInState {
  int32_t failed_password_attempts = 0;
  Micros locked_until = 0;
  Micros last_failed_password_at = 0;
  Micros last_sign_in_at = 0;
  Micros last_active_at = 0;
};

// A sign-in ticket (DESIGN §10–12): minted by a flow that proved who the user
// is (social sign-in, the portal), exchanged once by SignInWithTicket. Only
// its digest is kept.
struct SignInTicketRecord {
  std::string digest;  // Hex BLAKE2b of the ticket.
  std::string user_id;
  Micros expire_at = 0;
  Micros created_at = 0;
};

// A social sign-in in progress (DESIGN §11): made by StartOAuth, taken once by
// the provider's callback within 10 minutes. The state itself travels through
// the browser; only its digest is kept. The PKCE verifier and the nonce are
// kept as they are: the callback needs them, and deriving them from the state
// would hand them to whoever sees the callback's URL.
struct OAuthStateRecord {
  std::string digest;  // Hex BLAKE2b of the state.
  std::string provider;
  std::string action;   // "sign_in" or "connect".
  std::string user_id;  // connect: the signed-in caller; sign_in: empty.
  std::string redirect_url;
  std::string code_verifier;
  std::string nonce;
  Micros expire_at = 0;
  Micros created_at = 0;
  // sign_in: the person accepted the terms, for a user it may create.
  bool legal_accepted = false;
};

// A provider's tokens for one external account (DESIGN §11), sealed with the
// data keys. Kept apart from the account, so a refresh is no change to the
// user (no version, no event); deleted with the user or the account.
struct OAuthTokenRecord {
  std::string external_account_id;
  std::string user_id;
  std::string sealed;    // DataKeys::Seal of the access and refresh tokens.
  std::string key_id;    // The data key that sealed them.
  Micros expire_at = 0;  // The access token's; 0 when the provider said none.
  std::string scopes;    // Space-separated.
  Micros updated_at = 0;
  // Until when one replica holds the right to refresh them (0: none): a
  // provider that rotates refresh tokens refuses the second of two refreshes.
  Micros refresh_lease_until = 0;
};

// The code deliverer's shared state (DESIGN §13): one row that every replica
// reads, so one replica at a time (the lease holder) sends.
struct DeliveryStateRecord {
  // Every code event at or below this was sent, given up or queued for a
  // retry; -1 until the deliverer first runs.
  int64_t cursor = -1;
  // The event the holder was sending when it last wrote (0: none). A holder
  // that finds one above `cursor` sends it again: a possible duplicate.
  int64_t in_flight = 0;
  std::string lease_owner;
  Micros lease_until = 0;
};

// A code message that failed and waits for another try, or waits behind an
// earlier one to the same recipient.
struct DeliveryRetryRecord {
  int64_t sequence = 0;  // The event's.
  std::string recipient;
  int32_t attempts = 0;
  Micros next_attempt_at = 0;
  Micros created_at = 0;  // The event's, for the queue's age.
};

// An uploaded profile image. `sha256` (hex) is its strong HTTP ETag.
struct ImageRecord {
  std::string id;  // img_…
  std::string user_id;
  std::string content_type;  // image/png, image/jpeg, image/gif, image/webp.
  std::string sha256;
  std::string data;
  Micros created_at = 0;
};

// Remembers which user a CreateUser request id produced (AIP-155).
struct IdempotencyRecord {
  std::string request_id;
  std::string
      request_hash;  // Fingerprint of the request, to refuse a reused id.
  std::string user_id;
  Micros created_at = 0;
};

enum class SessionStatus : int {
  kActive = 1,
  kRevoked = 2,
  kExpired = 3,
  kEnded = 4
};

// A signed-in session. Its secret is kept only as a digest.
struct SessionRecord {
  std::string id;  // sess_…
  std::string user_id;
  std::string secret_digest;  // Hex BLAKE2b of the session secret.
  SessionStatus status = SessionStatus::kActive;
  Micros created_at = 0;
  Micros last_active_at = 0;
  Micros expire_at = 0;
  Micros updated_at = 0;
};

// A session with its user, read together: what checking a session token needs.
struct SessionAndUser {
  SessionRecord session;
  UserRecord user;
};

enum class SignUpStatus : int { kMissingRequirements = 1, kComplete = 2 };

// A sign-up in progress (DESIGN §10): the fields given so far, before any user
// exists. Its id is the capability for the calls that name it. Past expire_at
// it reads as abandoned; it is deleted a day later.
struct SignUpRecord {
  std::string id;  // su_…
  SignUpStatus status = SignUpStatus::kMissingRequirements;
  std::string email_address;  // Normalised; empty when not given.
  VerificationRecord email_verification;
  std::string phone_number;  // E.164; empty when not given.
  VerificationRecord phone_verification;
  std::string username;  // Lower-case; empty when not given.
  std::string first_name;
  std::string last_name;
  std::string password_hash;    // argon2id; empty when not given.
  std::string unsafe_metadata;  // Compact JSON; empty when not given.
  std::string public_metadata;  // From the invitation; empty when none.
  std::string invitation_id;
  Micros legal_accepted_at = 0;
  std::string created_user_id;  // Set when complete.
  std::string created_session_id;
  Micros expire_at = 0;
  Micros created_at = 0;
  Micros updated_at = 0;
  // A social sign-up's provider account, to link when it completes: opaque
  // text of the domain's (JSON, its tokens sealed); empty for other sign-ups.
  std::string external_account;
};

enum class SignInAttemptStatus : int {
  kNeedsFirstFactor = 1,
  kNeedsNewPassword = 2,
  kNeedsSecondFactor = 3,
  kComplete = 4
};

// A sign-in in steps (DESIGN §10). `user_id` is empty for an identifier no
// user holds: the attempt then behaves as a known one whose factors all fail.
struct SignInAttemptRecord {
  std::string id;  // sia_…
  SignInAttemptStatus status = SignInAttemptStatus::kNeedsFirstFactor;
  std::string identifier;  // Normalised.
  std::string user_id;
  std::string code_strategy;  // Of the pending code; empty when none.
  std::string code_digest;
  Micros code_expire_at = 0;
  // Failed factors, counted before each check (a reservation), so parallel
  // guesses cannot pass the limit.
  int32_t failures = 0;
  std::string created_session_id;
  Micros expire_at = 0;
  Micros created_at = 0;
  Micros updated_at = 0;
};

enum class InvitationStatus : int { kPending = 1, kAccepted = 2, kRevoked = 3 };

// An invitation to sign up (DESIGN §10). Its ticket is kept only as a digest;
// a pending invitation past expire_at reads as expired.
struct InvitationRecord {
  std::string id;             // inv_…
  std::string email_address;  // Normalised.
  InvitationStatus status = InvitationStatus::kPending;
  std::string public_metadata = "{}";
  std::string redirect_url;
  std::string ticket_digest;
  std::string accepted_user_id;  // Set when accepted.
  Micros expire_at = 0;
  Micros created_at = 0;
  Micros updated_at = 0;
};

// A page of invitations, newest first. `status` 0 means any; kPending
// matches only unexpired ones and `expired` only pending ones past expiry.
struct InvitationQuery {
  int status = 0;
  bool expired = false;
  std::string email_contains;  // Lower-case; empty: any.
  Micros now = 0;
  int64_t limit = 10;
  int64_t offset = 0;
};

struct InvitationPage {
  std::vector<InvitationRecord> invitations;
  int64_t total_count = 0;
};

// One entry of the transactional outbox. Appended in the same transaction as
// the change it describes; `sequence` is assigned at append time, 1, 2, 3, … in
// commit order, never reused.
struct EventRecord {
  int64_t sequence = 0;
  std::string id;       // evt_…
  std::string type;     // user.created, user.updated, …
  std::string user_id;  // The user it is about.
  Micros created_at = 0;
  std::string payload;  // Opaque bytes, encoded by the caller.
  std::string request_id;
  std::string actor;
};

// Which stored events to read: those after `after_sequence`, optionally of some
// types or about one user, oldest first.
struct EventQuery {
  int64_t after_sequence = 0;
  std::vector<std::string> types;  // Empty: all.
  std::string user_id;             // Empty: all.
  int32_t limit = 100;
  int64_t offset = 0;
};

// Events read in one snapshot, with the log's bounds at that moment.
struct EventBatch {
  std::vector<EventRecord> events;
  // Every event with a sequence at or below this was deleted by retention.
  int64_t pruned_through = 0;
  // The newest sequence ever assigned (0 when none).
  int64_t latest = 0;
};

// Field-by-field equality of identifier records, so that an update can tell
// which identifier tables it must rewrite.
inline bool operator==(const VerificationRecord& a,
                       const VerificationRecord& b) {
  return std::tie(a.status, a.strategy, a.attempts, a.expire_at,
                  a.code_digest) ==
         std::tie(b.status, b.strategy, b.attempts, b.expire_at, b.code_digest);
}
inline bool operator==(const EmailAddressRecord& a,
                       const EmailAddressRecord& b) {
  return std::tie(a.id, a.user_id, a.email_address, a.verification,
                  a.created_at, a.updated_at) ==
         std::tie(b.id, b.user_id, b.email_address, b.verification,
                  b.created_at, b.updated_at);
}
inline bool operator==(const PhoneNumberRecord& a, const PhoneNumberRecord& b) {
  return std::tie(a.id, a.user_id, a.phone_number, a.verification,
                  a.reserved_for_second_factor, a.default_second_factor,
                  a.created_at, a.updated_at) ==
         std::tie(b.id, b.user_id, b.phone_number, b.verification,
                  b.reserved_for_second_factor, b.default_second_factor,
                  b.created_at, b.updated_at);
}
inline bool operator==(const ExternalAccountRecord& a,
                       const ExternalAccountRecord& b) {
  return std::tie(a.id, a.user_id, a.provider, a.provider_user_id,
                  a.email_address, a.first_name, a.last_name, a.username,
                  a.image_url, a.approved_scopes, a.public_metadata,
                  a.verification, a.created_at, a.updated_at) ==
         std::tie(b.id, b.user_id, b.provider, b.provider_user_id,
                  b.email_address, b.first_name, b.last_name, b.username,
                  b.image_url, b.approved_scopes, b.public_metadata,
                  b.verification, b.created_at, b.updated_at);
}

// Every column of kUserRow equal.
inline bool SameUserRow(const UserRecord& a, const UserRecord& b) {
  for (const UserColumn& column : kUserRow) {
    const bool same = std::visit(
        [&](auto member) { return a.*member == b.*member; }, column.member);
    if (!same) {
      return false;
    }
  }
  return true;
}

// The row and every identifier equal.
inline bool operator==(const UserRecord& a, const UserRecord& b) {
  return SameUserRow(a, b) && a.email_addresses == b.email_addresses &&
         a.phone_numbers == b.phone_numbers &&
         a.external_accounts == b.external_accounts;
}
inline bool operator!=(const UserRecord& a, const UserRecord& b) {
  return !(a == b);
}

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_RECORDS_H_

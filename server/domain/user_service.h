// The user operations of DESIGN §3–§4, transport-free, one service per kind of
// change: UserService (the user itself), PasswordService, IdentifierService
// (email addresses, phone numbers, verification codes), ImageService and
// ExternalAccountService, gathered in UserServices. Each is a UserOperations,
// whose MutateUser is the one path every change to an existing user takes.
// BackendUsers calls them directly; FrontendUsers calls the same operations
// with fewer permitted fields.
//
// Every operation validates its whole input first (INVALID_ARGUMENT with every
// invalid field), then runs in one storage transaction: it either applies
// completely or not at all. Every change to an existing user goes through one
// path that checks the etag, bumps it and sets updated_at. Errors carry a
// reason (server/domain/errors.h): NOT_FOUND, IDENTIFIER_EXISTS
// (ALREADY_EXISTS), ETAG_MISMATCH (ABORTED), PRIMARY_MUST_BE_VERIFIED
// (FAILED_PRECONDITION), and storage failures as the store reports them.
//
// Thread-safe: reads run concurrently; writes are serialised by the store.
#ifndef ROSTER_SERVER_DOMAIN_USER_SERVICE_H_
#define ROSTER_SERVER_DOMAIN_USER_SERVICE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/clock.h"
#include "server/domain/events.h"
#include "server/domain/ids.h"
#include "server/domain/user_operations.h"
#include "server/domain/user_view.h"
#include "storage/user_store.h"

namespace roster::domain {

struct CreateUserParams {
  std::optional<std::string> external_id;
  std::vector<std::string> email_addresses;
  std::vector<std::string> phone_numbers;
  std::optional<std::string> username;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  // JSON objects; nullopt leaves the tier empty.
  std::optional<std::string> public_metadata;
  std::optional<std::string> private_metadata;
  std::optional<std::string> unsafe_metadata;
  std::optional<bool> delete_self_enabled;
  std::optional<absl::Time> created_at;
  std::optional<absl::Time> legal_accepted_at;
  std::string request_id;  // Empty: not idempotent.
  // Plaintext; checked and hashed (see HashPasswordForNewUser). Never stored.
  std::optional<std::string> password;
  bool skip_password_checks = false;
  // The argon2id hash of `password` when the caller computed it beforehand.
  std::string password_hash;
  // A digest from another system instead of `password` (see
  // password_digests.h).
  std::optional<std::string> password_digest;
  std::string password_hasher;
};

// Presence-based: only fields that are set change.
struct UpdateUserParams {
  std::string user_id;
  std::optional<std::string> external_id;
  std::optional<std::string> username;
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  std::optional<std::string> primary_email_address_id;
  std::optional<std::string> primary_phone_number_id;
  std::optional<bool> delete_self_enabled;
  std::optional<std::string> locale;  // BCP 47; empty clears it.
  std::optional<absl::Time> legal_accepted_at;
  std::string etag;  // Empty: unconditional.
  // Plaintext; as in CreateUserParams.
  std::optional<std::string> password;
  bool skip_password_checks = false;
  std::string password_hash;  // Computed beforehand by HashPasswordForUser.
  std::optional<std::string> password_digest;  // As in CreateUserParams.
  std::string password_hasher;
  // Revokes the user's active sessions, except `keep_session_id` (the caller's
  // own, for a signed-in user).
  bool sign_out_of_other_sessions = false;
  std::string keep_session_id;
};

// A reserved password attempt: the user and the hash to check against ("" when
// the user has no password, which matches nothing).
struct PasswordAttempt {
  std::string user_id;
  std::string password_hash;
  // The lockout the reservation set when it took the last attempt, else 0.
  int64_t locked_until = 0;
  // A right password does not sign this user in by itself: the session (and
  // the sign-in time) waits for the second factor.
  bool two_factor_enabled = false;
  // The user is banned (reserved with `refuse_banned` false): the caller says
  // so only to a right answer.
  bool banned = false;
};

// JSON objects per tier; nullopt leaves the tier untouched.
struct MetadataChange {
  std::optional<std::string> public_metadata;
  std::optional<std::string> private_metadata;
  std::optional<std::string> unsafe_metadata;
};

enum class MetadataMode { kMerge, kReplace };

// Filters arrive raw (as the client sent them) and are validated and normalised
// here.
struct ListUsersParams {
  storage::UserFilter filter;
  std::string order_by;
  int32_t limit = 0;
  int32_t offset = 0;
  std::string page_token;
};

struct UserListPage {
  std::vector<UserView> users;
  int64_t total_count = 0;
  std::string next_page_token;
};

enum class IdentifierType { kEmailAddress, kPhoneNumber };

struct CreateIdentifierParams {
  std::string user_id;
  std::string value;  // The address or number as given.
  bool verified = false;
  bool primary = false;
  bool reserved_for_second_factor = false;  // Phones only.
};

struct UpdateIdentifierParams {
  std::string identifier_id;
  std::optional<bool> verified;
  std::optional<bool> primary;
  std::optional<bool> reserved_for_second_factor;  // Phones only.
};

// A user and one of their identifiers (by id).
struct IdentifierView {
  UserView user;
  std::string identifier_id;
};

struct CreateExternalAccountParams {
  std::string user_id;
  std::string provider;          // oauth_<name>
  std::string provider_user_id;  // The user's id at the provider.
  std::string email_address;     // Optional.
  bool email_verified = false;   // The provider vouches for the email.
  std::string first_name, last_name, username, image_url;
  std::vector<std::string> approved_scopes;
  std::optional<std::string> public_metadata;  // JSON object.
};

// The user itself: create, read, list, update, metadata, ban, lock, delete
// (user_service.cc, user_creation.cc). Thread-safe.
class UserService final : public UserOperations {
 public:
  using UserOperations::UserOperations;

  // Mutations take the Caller, recorded on the event each one appends.
  // With `validate_only`, runs every check (uniqueness included) in a
  // transaction that is rolled back, and returns the user it would create.
  absl::StatusOr<UserView> CreateUser(const Caller& caller,
                                      const CreateUserParams& params,
                                      bool validate_only = false);
  // CreateUser for a batch (ImportUsers): each item is checked as CreateUser
  // checks it, then all are written in order through UserStore::WriteEach, so
  // one durable commit can cover many. Each item succeeds or fails on its own.
  // Inside item i's write, `admit(i)` runs first and can refuse the item with
  // its error; `admitted(i)` runs once the item is written (or, with
  // validate_only, would have been).
  std::vector<absl::StatusOr<UserView>> CreateUsers(
      const Caller& caller, const std::vector<CreateUserParams>& items,
      bool validate_only, absl::FunctionRef<absl::Status(size_t)> admit,
      absl::FunctionRef<void(size_t)> admitted);
  absl::StatusOr<UserView> UpdateUser(const Caller& caller,
                                      const UpdateUserParams& params);
  absl::StatusOr<UserView> ChangeMetadata(const Caller& caller,
                                          absl::string_view user_id,
                                          const MetadataChange& change,
                                          MetadataMode mode,
                                          absl::string_view etag);
  // With `self_service`, refused (PERMISSION_DENIED DELETE_SELF_DISABLED)
  // unless the user has delete_self_enabled.
  absl::StatusOr<DeletedUser> DeleteUser(const Caller& caller,
                                         absl::string_view user_id,
                                         absl::string_view etag,
                                         bool self_service = false);
  // Removes the password. FAILED_PRECONDITION (LAST_IDENTIFIER) when the user
  // would be left with no verified identifier and no external account.
  absl::StatusOr<UserView> RemovePassword(const Caller& caller,
                                          absl::string_view user_id);
  // Banning also revokes every active session of the user, in the same
  // transaction.
  absl::StatusOr<UserView> SetBanned(const Caller& caller,
                                     absl::string_view user_id, bool banned,
                                     absl::string_view etag);
  // Locks for options.lockout_duration and uses up the remaining attempts.
  absl::StatusOr<UserView> LockUser(const Caller& caller,
                                    absl::string_view user_id,
                                    absl::string_view etag);
  // Ends any lockout and resets the failed-attempt count.
  absl::StatusOr<UserView> UnlockUser(const Caller& caller,
                                      absl::string_view user_id,
                                      absl::string_view etag);

  absl::StatusOr<UserView> GetUser(absl::string_view user_id);
  // GetUser's answer for a user the caller has already read (a frontend
  // call's session check, SessionService::ActiveUserAsync).
  UserView ViewOf(storage::UserRecord user) const {
    return View(std::move(user));
  }
  // GetUser without blocking (ReadUserAsync).
  void GetUserAsync(absl::string_view user_id, ReadUserDone done) {
    ReadUserAsync(user_id, std::move(done));
  }
  absl::StatusOr<UserListPage> ListUsers(const ListUsersParams& params);
  // ListUsers without blocking: `done` runs once with its result, inline or
  // on the store's thread (UserStore::ListUsersAsync).
  using ListUsersDone =
      absl::AnyInvocable<void(absl::StatusOr<UserListPage>) &&>;
  void ListUsersAsync(const ListUsersParams& params, ListUsersDone done);
  absl::StatusOr<int64_t> CountUsers(const storage::UserFilter& filter);

 private:
  // CreateUser in three steps: the checks that need no transaction and the
  // record they build; the write (uniqueness, insert, event, idempotency key);
  // and the result from the write's status.
  struct NewUser;
  // A ListUsers request checked and made the store's query; the fingerprint
  // is computed only when a page token needed it.
  struct ListQuery {
    storage::UserPageQuery query;
    std::string fingerprint;
  };
  static absl::StatusOr<ListQuery> CheckListUsers(
      const ListUsersParams& params);
  absl::StatusOr<UserListPage> ListPageOf(
      const ListQuery& list, absl::StatusOr<storage::UserPage> page) const;
  absl::StatusOr<NewUser> PrepareNewUser(const CreateUserParams& params) const;
  absl::Status InsertNewUser(storage::WriteTransaction& txn,
                             const Caller& caller, const NewUser& created,
                             bool validate_only, storage::UserRecord& result);
  absl::StatusOr<UserView> FinishNewUser(const absl::Status& written,
                                         bool validate_only,
                                         storage::UserRecord result) const;
};

// Password hashing and checks against lockout (user_passwords.cc).
// Thread-safe.
class PasswordService final : public UserOperations {
 public:
  using UserOperations::UserOperations;

  // Checks params.password against the new user's identifiers and hashes it.
  // Slow (argon2id): callers run it off the gRPC and write threads, then pass
  // the result as params.password_hash.
  absl::StatusOr<std::string> HashPasswordForNewUser(
      const CreateUserParams& params) const;
  // The same for an existing user's new password (reads its identifiers).
  absl::StatusOr<std::string> HashPasswordForUser(absl::string_view user_id,
                                                  absl::string_view password,
                                                  bool skip_checks);

  // Reserves one of the user's password attempts before the (slow) check, so
  // parallel guesses can never exceed --lockout_attempts: PERMISSION_DENIED
  // USER_LOCKED while locked, and USER_BANNED for a banned user unless
  // `refuse_banned` is false (an unauthenticated sign-in, where a wrong answer
  // must not learn that the account exists): then the attempt is reserved
  // like any other and marked `banned`. The reservation counts as a
  // failure until finished, and the one taking the last attempt locks the
  // user at once for --lockout_duration (a user.updated event): a crash
  // mid-check leaves a lockout that runs out, never an attempt held forever.
  absl::StatusOr<PasswordAttempt> BeginPasswordAttempt(
      const Caller& caller, absl::string_view user_id,
      bool refuse_banned = true);
  // What a sign-in at an identifier that names no user does in place of the
  // reservation: counts its failure by the same rules (lockout.h) in its own
  // row, and answers PERMISSION_DENIED (USER_LOCKED) when a user would be
  // locked, so that neither the answer nor the commit it pays tells the
  // two apart.
  absl::Status CountUnknownIdentifierAttempt(storage::IdentifierKind kind,
                                             absl::string_view value);
  // Records the verdict of a reserved attempt: success resets the count, lifts
  // the lockout its own reservation set (a user.updated event) and, with
  // `sign_in`, sets last_sign_in_at; a failure keeps both, reads nothing and
  // returns an empty view. `upgraded_hash`, when set on success, replaces the
  // checked hash (an imported digest becomes argon2id). The user as written
  // on success.
  absl::StatusOr<UserView> FinishPasswordAttempt(
      const Caller& caller, absl::string_view user_id, bool verified,
      bool sign_in, const PasswordAttempt& attempt = {},
      const std::string& upgraded_hash = "");

 private:
  // Writes `user` as a change (version, updated_at, a user.updated event):
  // how a lockout begins and ends.
  absl::Status WriteLockChange(storage::WriteTransaction& txn,
                               const Caller& caller,
                               storage::UserRecord& user) const;
};

// Email addresses and phone numbers, and their verification codes
// (user_identifiers.cc, user_verification.cc). Thread-safe.
class IdentifierService final : public UserOperations {
 public:
  using UserOperations::UserOperations;

  // Email addresses and phone numbers (user_identifiers.cc). Each change is a
  // change to the user (etag, updated_at, user.updated). Errors: NOT_FOUND;
  // INVALID_ARGUMENT for a malformed value; ALREADY_EXISTS
  // (IDENTIFIER_EXISTS) when any user holds it; FAILED_PRECONDITION
  // (PRIMARY_MUST_BE_VERIFIED) for an unverified primary, (LAST_IDENTIFIER)
  // when a deletion would leave the user no way to sign in.
  absl::StatusOr<IdentifierView> CreateIdentifier(
      const Caller& caller, IdentifierType type,
      const CreateIdentifierParams& params);
  absl::StatusOr<IdentifierView> GetIdentifier(IdentifierType type,
                                               absl::string_view id);
  absl::StatusOr<IdentifierView> UpdateIdentifier(
      const Caller& caller, IdentifierType type,
      const UpdateIdentifierParams& params);
  // Deleting the primary promotes `promote_id` if set (a verified identifier
  // of the same kind and user), else the oldest other verified one. With
  // `owner_user_id`, an identifier of another user is NOT_FOUND.
  absl::StatusOr<UserView> DeleteIdentifier(
      const Caller& caller, IdentifierType type, absl::string_view id,
      absl::string_view promote_id, absl::string_view owner_user_id = "");

  // One-time codes (user_verification.cc) for `user_id`'s own identifier
  // (another user's is NOT_FOUND). Prepare issues a new code, voiding any
  // earlier one, and appends email.created / sms.created with it:
  // FAILED_PRECONDITION (ALREADY_VERIFIED), RESOURCE_EXHAUSTED
  // (TOO_MANY_ATTEMPTS) past verification_codes_per_hour for the address.
  // Attempt checks a code: INVALID_ARGUMENT (VERIFICATION_FAILED) for a wrong
  // one, the last allowed wrong guess marking it FAILED; RESOURCE_EXHAUSTED
  // (TOO_MANY_ATTEMPTS) once FAILED; FAILED_PRECONDITION
  // (VERIFICATION_EXPIRED, NO_VERIFICATION_PENDING). Failed attempts are
  // recorded (they commit) before the error returns. A correct code verifies
  // it, makes it primary if the user has none, and removes other users'
  // unverified claims on the same value.
  absl::StatusOr<IdentifierView> PrepareVerification(
      const Caller& caller, IdentifierType type, absl::string_view user_id,
      absl::string_view identifier_id);
  absl::StatusOr<IdentifierView> AttemptVerification(
      const Caller& caller, IdentifierType type, absl::string_view user_id,
      absl::string_view identifier_id, absl::string_view code);

  // The user holding a normalised identifier (for email addresses and phone
  // numbers: verified), or nullopt.
  absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      storage::IdentifierKind kind, absl::string_view value);
};

// Profile images (user_images.cc). Thread-safe.
class ImageService final : public UserOperations {
 public:
  using UserOperations::UserOperations;

  // Profile images (user_images.cc): PNG, JPEG, GIF or WebP by content, at
  // most kMaxProfileImageBytes, else INVALID_ARGUMENT on `image`. Replacing
  // or deleting the image removes the old one.
  absl::StatusOr<UserView> SetProfileImage(const Caller& caller,
                                           absl::string_view user_id,
                                           std::string image,
                                           absl::string_view etag);
  absl::StatusOr<UserView> DeleteProfileImage(const Caller& caller,
                                              absl::string_view user_id,
                                              absl::string_view etag);
  // An image by id (img_…), for the HTTP listener; NOT_FOUND when unknown.
  absl::StatusOr<storage::ImageRecord> GetImage(absl::string_view image_id);
};

// Linked OAuth identities (user_external_accounts.cc). Thread-safe.
class ExternalAccountService final : public UserOperations {
 public:
  using UserOperations::UserOperations;

  // Links an OAuth identity (user_external_accounts.cc). (provider,
  // provider_user_id) is unique: ALREADY_EXISTS (IDENTIFIER_EXISTS).
  absl::StatusOr<IdentifierView> CreateExternalAccount(
      const Caller& caller, const CreateExternalAccountParams& params);
  // Unlinks it; LAST_IDENTIFIER and `owner_user_id` as DeleteIdentifier.
  absl::StatusOr<UserView> DeleteExternalAccount(
      const Caller& caller, absl::string_view id,
      absl::string_view owner_user_id = "");
};

// The user operations over one store, built together. Thread-safe.
struct UserServices {
  // None is owned; all must outlive the services.
  UserServices(storage::UserStore* store, const Clock* clock,
               const IdGenerator* ids, const EventEncoder* events,
               const UserServiceOptions& options)
      : users(store, clock, ids, events, options),
        passwords(store, clock, ids, events, options),
        identifiers(store, clock, ids, events, options),
        images(store, clock, ids, events, options),
        external_accounts(store, clock, ids, events, options) {}

  UserService users;
  PasswordService passwords;
  IdentifierService identifiers;
  ImageService images;
  ExternalAccountService external_accounts;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_USER_SERVICE_H_

// SignUpService: self-service sign-up (DESIGN §10), Clerk's SignUp object. A
// sign-up collects fields and verifies its email address and phone number by
// code; only when every requirement is met does a user exist. The call that
// meets the last one creates the user (user.created) and a session
// (session.created) in the transaction that marks the sign-up complete, so a
// crash leaves either no user or a complete sign-up with its user.
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_SIGN_UP_H_
#define ROSTER_SERVER_DOMAIN_SIGN_UP_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/session_service.h"
#include "server/domain/user_operations.h"

namespace roster::domain {

inline constexpr char kSignUpIdPrefix[] = "su_";

enum class SignUpMode { kPublic, kRestricted, kDisabled };

struct SignUpOptions {
  // Field names as SignUp.required_fields spells them.
  std::vector<std::string> required_fields = {"email_address", "password"};
  SignUpMode mode = SignUpMode::kPublic;
  // Past this a sign-up is abandoned; a day later it is pruned.
  absl::Duration lifetime = absl::Hours(24);
};

// The fields a sign-up may hold, as parsed from --sign_up_required.
// INVALID_ARGUMENT naming an unknown field, or a list with no way to sign in
// (an email address, a phone number or a username).
absl::StatusOr<std::vector<std::string>> ParseSignUpRequiredFields(
    absl::string_view list);
absl::StatusOr<SignUpMode> ParseSignUpMode(absl::string_view mode);

// Presence-based: a set field changes, an empty string clears it.
struct SignUpParams {
  std::optional<std::string> email_address;
  std::optional<std::string> phone_number;
  std::optional<std::string> username;
  std::optional<std::string> password;       // Plaintext.
  std::optional<std::string> password_hash;  // HashSignUpPassword's.
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  std::optional<std::string> unsafe_metadata;  // JSON object text.
  std::optional<bool> legal_accepted;
  std::string ticket;
};

enum class SignUpStrategy { kEmailCode, kPhoneCode };

// A sign-up as the API presents it.
struct SignUpView {
  storage::SignUpRecord record;
  bool abandoned = false;
  std::vector<std::string> required_fields;
  std::vector<std::string> missing_fields;
  std::vector<std::string> unverified_fields;
  // A social sign-up's provider account: how the provider verified it.
  std::optional<storage::VerificationRecord> external_account_verification;
};

// `record` as the API presents it under `required` (--sign_up_required): the
// fields it still needs, and those it holds unverified. A social sign-up (one
// holding a provider account) needs no password: the provider is its way in.
SignUpView ViewOfSignUp(storage::SignUpRecord record,
                        const std::vector<std::string>& required,
                        absl::Time now);

// What a sign-up call returns: the sign-up and, from the call that completed
// it, the new user and session.
struct SignUpResult {
  SignUpView sign_up;
  std::optional<NewSession> session;
  std::optional<UserView> user;
};

class SignUpService final : public UserOperations {
 public:
  // None is owned; all must outlive the service.
  SignUpService(storage::UserStore* store, const Clock* clock,
                const IdGenerator* ids, const EventEncoder* events,
                UserServiceOptions user_options, SessionService* sessions,
                SignUpOptions options);

  // Checks `params.password` (when set) without the store and hashes it into
  // `params.password_hash`: the slow part, which callers run on the hash pool
  // before Create or Update. INVALID_ARGUMENT on `password`.
  absl::Status HashPassword(SignUpParams& params) const;

  // A new sign-up with `params` (DESIGN §10). PERMISSION_DENIED
  // (SIGN_UP_RESTRICTED) unless the mode allows it; INVALID_ARGUMENT per field;
  // ALREADY_EXISTS (IDENTIFIER_EXISTS) for an identifier a user holds.
  absl::StatusOr<SignUpResult> Create(const Caller& caller,
                                      const SignUpParams& params);
  // Changes the fields set in `params`. NOT_FOUND; FAILED_PRECONDITION
  // (ATTEMPT_STATE) once complete or abandoned.
  absl::StatusOr<SignUpResult> Update(const Caller& caller,
                                      absl::string_view sign_up_id,
                                      const SignUpParams& params);
  // Sends a code to the sign-up's address (purpose sign_up).
  absl::StatusOr<SignUpResult> PrepareVerification(const Caller& caller,
                                                   absl::string_view sign_up_id,
                                                   SignUpStrategy strategy);
  // Checks a code; completes the sign-up when that was the last requirement.
  absl::StatusOr<SignUpResult> AttemptVerification(const Caller& caller,
                                                   absl::string_view sign_up_id,
                                                   SignUpStrategy strategy,
                                                   absl::string_view code);

  // Deletes up to `max_rows` sign-ups abandoned more than a day ago.
  absl::StatusOr<int64_t> Prune(int64_t max_rows);

 private:
  SignUpView ViewOf(storage::SignUpRecord record, absl::Time now) const;
  // Applies the fields set in `params` to `sign_up`: INVALID_ARGUMENT naming
  // every bad field, else ALREADY_EXISTS (IDENTIFIER_EXISTS) naming every
  // identifier a user holds.
  absl::Status Apply(storage::WriteTransaction& txn, const SignUpParams& params,
                     absl::Time now, storage::SignUpRecord& sign_up) const;
  // The sign-up to change: NOT_FOUND, or ATTEMPT_STATE once it is over.
  absl::StatusOr<storage::SignUpRecord> LoadOpen(storage::WriteTransaction& txn,
                                                 absl::string_view sign_up_id,
                                                 absl::Time now) const;
  // Stores `sign_up`, first completing it when it meets every requirement:
  // the user and session are created in `txn` and returned in `result`.
  absl::Status SaveOrComplete(storage::WriteTransaction& txn,
                              const Caller& caller, absl::Time now,
                              storage::SignUpRecord& sign_up,
                              SignUpResult& result);

  // Links a social sign-up's provider account to `user` (not yet inserted):
  // its sealed tokens, for the caller to store once the user is.
  // ALREADY_EXISTS (IDENTIFIER_EXISTS) when a user holds the account now.
  absl::StatusOr<std::optional<storage::OAuthTokenRecord>> LinkPendingAccount(
      storage::WriteTransaction& txn, const storage::SignUpRecord& sign_up,
      storage::UserRecord& user) const;

  SessionService* sessions_;  // Not owned.
  const SignUpOptions sign_up_options_;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_SIGN_UP_H_

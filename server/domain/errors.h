// Domain errors: an absl::Status plus a stable `reason` (DESIGN §7) and field
// violations, carried as status payloads so the API layer can turn them into
// ErrorInfo and BadRequest details in one place. Descriptions never echo the
// offending value (it may be personal data).
#ifndef ROSTER_SERVER_DOMAIN_ERRORS_H_
#define ROSTER_SERVER_DOMAIN_ERRORS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace roster::domain {

namespace reason {
inline constexpr char kInvalidArgumentFormat[] = "INVALID_ARGUMENT_FORMAT";
inline constexpr char kUsernameInvalid[] = "USERNAME_INVALID";
inline constexpr char kMetadataTooLarge[] = "METADATA_TOO_LARGE";
inline constexpr char kIdentifierExists[] = "IDENTIFIER_EXISTS";
inline constexpr char kNotFound[] = "NOT_FOUND";
inline constexpr char kEtagMismatch[] = "ETAG_MISMATCH";
inline constexpr char kPrimaryMustBeVerified[] = "PRIMARY_MUST_BE_VERIFIED";
inline constexpr char kUserBanned[] = "USER_BANNED";
inline constexpr char kUserLocked[] = "USER_LOCKED";
inline constexpr char kPasswordIncorrect[] = "PASSWORD_INCORRECT";
inline constexpr char kSessionInvalid[] = "SESSION_INVALID";
inline constexpr char kDeleteSelfDisabled[] = "DELETE_SELF_DISABLED";
inline constexpr char kOverloaded[] = "OVERLOADED";
inline constexpr char kUnauthenticated[] = "UNAUTHENTICATED";
inline constexpr char kLastIdentifier[] = "LAST_IDENTIFIER";
inline constexpr char kVerificationFailed[] = "VERIFICATION_FAILED";
inline constexpr char kVerificationExpired[] = "VERIFICATION_EXPIRED";
inline constexpr char kNoVerificationPending[] = "NO_VERIFICATION_PENDING";
inline constexpr char kTooManyAttempts[] = "TOO_MANY_ATTEMPTS";
// Not in DESIGN §7's table: preparing a code for an identifier that is
// already verified.
inline constexpr char kAlreadyVerified[] = "ALREADY_VERIFIED";
inline constexpr char kRequestTooLarge[] = "REQUEST_TOO_LARGE";
// DESIGN §10.
inline constexpr char kSignUpRestricted[] = "SIGN_UP_RESTRICTED";
// A sign-up lacks what the call needs (a code for an address it has not got).
inline constexpr char kSignUpIncomplete[] = "SIGN_UP_INCOMPLETE";
inline constexpr char kAttemptState[] = "ATTEMPT_STATE";
inline constexpr char kTicketInvalid[] = "TICKET_INVALID";
inline constexpr char kTotpExists[] = "TOTP_EXISTS";
inline constexpr char kSecondFactorRequired[] = "SECOND_FACTOR_REQUIRED";
// DESIGN §11.
inline constexpr char kRedirectUrlNotAllowed[] = "REDIRECT_URL_NOT_ALLOWED";
inline constexpr char kProviderNotConfigured[] = "PROVIDER_NOT_CONFIGURED";
inline constexpr char kOAuthStateInvalid[] = "OAUTH_STATE_INVALID";
inline constexpr char kOAuthProviderError[] = "OAUTH_PROVIDER_ERROR";
// Not in DESIGN: a feature that stores a secret, on a server without
// --data_keys_file (FAILED_PRECONDITION).
inline constexpr char kDataKeysMissing[] = "DATA_KEYS_MISSING";
// Not in DESIGN: marking an unverified phone as a second factor
// (FAILED_PRECONDITION).
inline constexpr char kIdentifierNotVerified[] = "IDENTIFIER_NOT_VERIFIED";
}  // namespace reason

struct FieldViolation {
  std::string field;  // Request field path, e.g. `email_addresses[1]`.
  std::string description;
};

// A status with `code`, `reason` and optional field violations.
absl::Status Error(absl::StatusCode code, absl::string_view reason,
                   absl::string_view message,
                   const std::vector<FieldViolation>& violations = {});

// RESOURCE_EXHAUSTED (TOO_MANY_ATTEMPTS) that may be retried after
// `retry_after` (clients see it as google.rpc.RetryInfo).
absl::Status TooManyAttempts(absl::string_view message,
                             absl::Duration retry_after);

// The retry delay attached by TooManyAttempts(), if any.
std::optional<absl::Duration> RetryAfterOf(const absl::Status& status);

// `status` carrying `key` = `value` for its ErrorInfo's metadata: what a
// client needs to go on (an id), never personal data.
absl::Status WithErrorMetadata(absl::Status status, absl::string_view key,
                               absl::string_view value);
// The metadata attached by WithErrorMetadata(), ordered by key.
std::vector<std::pair<std::string, std::string>> ErrorMetadataOf(
    const absl::Status& status);

// The reason attached by Error(), or "" when there is none.
std::string ReasonOf(const absl::Status& status);

// The field violations attached by Error(), in order.
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

// Collects every invalid field of a request, so the caller hears about all of
// them at once. Thread-compatible.
class Violations {
 public:
  void Add(std::string field, std::string description,
           absl::string_view reason = reason::kInvalidArgumentFormat);
  bool empty() const { return violations_.empty(); }
  // OK when nothing was added; otherwise `code` with the first violation's
  // reason.
  absl::Status ToStatus(
      absl::StatusCode code = absl::StatusCode::kInvalidArgument) const;

 private:
  std::vector<FieldViolation> violations_;
  std::string first_reason_;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_ERRORS_H_

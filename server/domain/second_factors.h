// SecondFactorService: a user's second factors (DESIGN §10) — an
// authenticator app (TOTP, its secret sealed by DataKeys) and single-use
// backup codes (kept as salted digests) — enrolled and removed by the user,
// removed by backends, and checked during sign-in. Every change goes through
// MutateUser, so it is one transaction with its user.updated event, and
// `two_factor_enabled` and the mfa times follow the factors held.
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_SECOND_FACTORS_H_
#define ROSTER_SERVER_DOMAIN_SECOND_FACTORS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/data_keys.h"
#include "server/domain/user_service.h"

namespace roster::domain {

inline constexpr char kTotpStrategy[] = "totp";
inline constexpr char kBackupCodeStrategy[] = "backup_code";
inline constexpr char kPhoneCodeStrategy[] = "phone_code";

// An authenticator-app enrollment as the API presents it. `secret` (base32),
// `uri` and `qr_code_svg` are set only when it is created.
struct TotpView {
  std::string secret;
  std::string uri;
  std::string qr_code_svg;
  bool verified = false;
};

// The second-factor strategies `user` can sign in with, in DESIGN's names:
// totp, phone_code (a verified phone reserved for second factors),
// backup_code.
std::vector<std::string> SecondFactorsOf(const storage::UserRecord& user);
// The phone a phone_code second factor goes to: the default one among the
// verified phones reserved for second factors, else the first; null if none.
const storage::PhoneNumberRecord* SecondFactorPhone(
    const storage::UserRecord& user);
// Whether `user` has a factor that backup codes can stand in for: a verified
// authenticator app or a second-factor phone.
bool HasFactorBeyondBackupCodes(const storage::UserRecord& user);
// Sets `two_factor_enabled` from the factors held, and mfa_enabled_at or
// mfa_disabled_at when that changes. MutateUser calls it after every change.
void RefreshTwoFactor(storage::UserRecord& user, storage::Micros now);

class SecondFactorService final : public UserOperations {
 public:
  // None is owned; all must outlive the service. `totp_issuer` names the
  // service in authenticator apps.
  SecondFactorService(storage::UserStore* store, const Clock* clock,
                      const IdGenerator* ids, const EventEncoder* events,
                      UserServiceOptions options, const DataKeys* keys,
                      std::string totp_issuer, PasswordService* passwords);

  // A new unverified secret, replacing an unverified one. TOTP_EXISTS when a
  // verified one exists; DATA_KEYS_MISSING without data keys.
  absl::StatusOr<TotpView> CreateTotp(const Caller& caller,
                                      absl::string_view user_id);
  // Verifies the pending secret with a current code: two-factor is on.
  absl::StatusOr<TotpView> VerifyTotp(const Caller& caller,
                                      absl::string_view user_id,
                                      absl::string_view code);
  // Removes the app, given a current TOTP code or an unused backup code
  // (which is used up). A wrong code counts toward the lockout.
  absl::StatusOr<UserView> DeleteTotp(const Caller& caller,
                                      absl::string_view user_id,
                                      absl::string_view code);
  // Marks one of the user's phone numbers as a second factor (or not), and
  // as the default one. NOT_FOUND for another user's phone;
  // FAILED_PRECONDITION (IDENTIFIER_NOT_VERIFIED) to mark an unverified one.
  absl::StatusOr<IdentifierView> UpdatePhone(
      const Caller& caller, absl::string_view user_id,
      absl::string_view phone_number_id,
      std::optional<bool> reserved_for_second_factor,
      std::optional<bool> default_second_factor);
  // kBackupCodeCount new codes replacing the old; SECOND_FACTOR_REQUIRED
  // unless the user has a verified app or second-factor phone.
  absl::StatusOr<std::vector<std::string>> CreateBackupCodes(
      const Caller& caller, absl::string_view user_id);

  // Backends: remove what a user lost. `RemoveAll` also clears phone
  // numbers' second-factor marks.
  absl::StatusOr<UserView> RemoveTotp(const Caller& caller,
                                      absl::string_view user_id);
  absl::StatusOr<UserView> RemoveBackupCodes(const Caller& caller,
                                             absl::string_view user_id);
  absl::StatusOr<UserView> RemoveAll(const Caller& caller,
                                     absl::string_view user_id);

  // Whether `code` is a current factor of `user` for `strategy` (totp or
  // backup_code); when it is, marks it used in `user` (the caller stores
  // it). INVALID_ARGUMENT for a malformed code.
  absl::StatusOr<bool> UseFactor(storage::UserRecord& user,
                                 absl::string_view strategy,
                                 absl::string_view code, absl::Time now) const;

 private:
  absl::Status CheckKeys() const;

  const DataKeys* keys_;  // Not owned.
  const std::string totp_issuer_;
  PasswordService* passwords_;  // Not owned.
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_SECOND_FACTORS_H_

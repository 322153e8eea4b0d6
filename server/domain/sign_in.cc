#include "server/domain/sign_in.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "server/domain/errors.h"
#include "server/domain/password_digests.h"
#include "server/domain/passwords.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

absl::Status UserBanned() {
  return Error(absl::StatusCode::kPermissionDenied, reason::kUserBanned,
               "the user is banned");
}

absl::Status PasswordIncorrect() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kPasswordIncorrect,
               "the identifier or the password is incorrect");
}

}  // namespace

absl::StatusOr<SignInIdentifier> ParseSignInIdentifier(
    absl::string_view identifier) {
  using Kind = storage::IdentifierKind;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(identifier);
  SignInIdentifier parsed;
  absl::StatusOr<std::string> value = std::string();
  if (absl::StrContains(trimmed, '@')) {
    parsed.kind = Kind::kEmailAddress;
    value = NormalizeEmailAddress(trimmed);
  } else if (!trimmed.empty() &&
             (trimmed.front() == '+' ||
              absl::ascii_isdigit(
                  static_cast<unsigned char>(trimmed.front())))) {
    parsed.kind = Kind::kPhoneNumber;
    value = NormalizePhoneNumber(trimmed);
    if (!value.ok()) {  // All-digit usernames are invalid anyway.
      parsed.kind = Kind::kUsername;
      value = NormalizeUsername(trimmed);
    }
  } else {
    parsed.kind = Kind::kUsername;
    value = NormalizeUsername(trimmed);
  }
  if (!value.ok()) {
    return value.status();
  }
  parsed.value = *std::move(value);
  return parsed;
}

absl::StatusOr<std::string> FindSignInUser(UserServices& users,
                                           const SignInIdentifier& identifier) {
  auto holder = users.identifiers.FindUserIdByIdentifier(identifier.kind,
                                                         identifier.value);
  if (!holder.ok()) {
    return holder.status();
  }
  return holder->value_or("");
}

absl::StatusOr<bool> CheckPasswordAttempt(UserServices& users,
                                          const Caller& caller,
                                          absl::string_view user_id,
                                          absl::string_view password,
                                          bool sign_in) {
  auto attempt = users.passwords.BeginPasswordAttempt(
      caller, user_id, /*refuse_banned=*/!sign_in);
  if (!attempt.ok()) {
    return attempt.status();
  }
  bool verified = false;
  if (attempt->password_hash.empty()) {
    VerifyNothing(password);
  } else {
    verified = VerifyStoredPassword(attempt->password_hash, password);
  }
  if (attempt->banned) {
    // Only the right password learns that the user is banned; a wrong one
    // reads as any wrong password, or an unknown identifier.
    auto recorded = users.passwords.FinishPasswordAttempt(
        caller, user_id, verified, /*sign_in=*/false, *attempt);
    if (!recorded.ok()) {
      return recorded.status();
    }
    if (verified) {
      return UserBanned();
    }
    return false;
  }
  std::string upgraded;
  if (verified && NeedsRehash(attempt->password_hash)) {
    auto hashed = HashPassword(password);
    if (hashed.ok()) {
      upgraded = *std::move(hashed);
    }
  }
  auto recorded = users.passwords.FinishPasswordAttempt(
      caller, user_id, verified, sign_in && !attempt->two_factor_enabled,
      *attempt, upgraded);
  if (!recorded.ok()) {
    return recorded.status();
  }
  return verified;
}

absl::StatusOr<std::string> CheckSignInPassword(UserServices& users,
                                                const Caller& caller,
                                                absl::string_view identifier,
                                                absl::string_view password) {
  if (identifier.size() > kMaxEmailAddressBytes ||
      password.size() > kMaxPasswordBytes) {
    VerifyNothing(password.substr(0, kMaxPasswordBytes));
    return PasswordIncorrect();
  }
  // Only a verified email address or phone number signs in: an unverified
  // claim reads as unknown, and can never hide the verified holder. A
  // malformed identifier names no user, and counts as it was typed.
  auto parsed = ParseSignInIdentifier(identifier);
  absl::StatusOr<std::string> user_id = std::string();
  if (parsed.ok()) {
    user_id = FindSignInUser(users, *parsed);
  } else {
    parsed =
        SignInIdentifier{storage::IdentifierKind::kUsername,
                         std::string(absl::StripAsciiWhitespace(identifier))};
  }
  if (!user_id.ok()) {
    return user_id.status();
  }
  if (user_id->empty()) {
    // A count of failures, its lockout and a hash, as a known user's wrong
    // password has: no user enumeration by answer or by timing.
    absl::Status counted = users.passwords.CountUnknownIdentifierAttempt(
        parsed->kind, parsed->value);
    if (!counted.ok()) {
      return counted;
    }
    VerifyNothing(password);
    return PasswordIncorrect();
  }
  auto verified =
      CheckPasswordAttempt(users, caller, *user_id, password, /*sign_in=*/true);
  if (!verified.ok()) {
    return verified.status();
  }
  if (!*verified) {
    return PasswordIncorrect();
  }
  return user_id;
}

absl::Status CheckCurrentPassword(UserServices& users, const Caller& caller,
                                  absl::string_view user_id,
                                  absl::string_view password) {
  auto user = users.users.GetUser(user_id);
  if (!user.ok()) {
    return user.status();
  }
  if (user->record.password_hash.empty() && password.empty()) {
    return absl::OkStatus();
  }
  if (password.size() > kMaxPasswordBytes) {
    return PasswordIncorrect();
  }
  auto verified =
      CheckPasswordAttempt(users, caller, user_id, password, /*sign_in=*/false);
  if (!verified.ok()) {
    return verified.status();
  }
  return *verified ? absl::OkStatus() : PasswordIncorrect();
}

}  // namespace roster::domain

#include "server/domain/sign_in.h"

#include "absl/strings/ascii.h"
#include "server/domain/errors.h"
#include "server/domain/password_digests.h"
#include "server/domain/passwords.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

absl::Status PasswordIncorrect() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kPasswordIncorrect,
               "the identifier or the password is incorrect");
}

// The id of the user holding `identifier`, or "" when there is none (or it is
// malformed).
absl::StatusOr<std::string> FindUser(UserService& users,
                                     absl::string_view identifier) {
  ListUsersParams params;
  params.limit = 1;
  const absl::string_view trimmed = absl::StripAsciiWhitespace(identifier);
  if (trimmed.find('@') != absl::string_view::npos) {
    auto email = NormalizeEmailAddress(trimmed);
    if (!email.ok()) return std::string();
    params.filter.email_addresses = {*email};
  } else if (!trimmed.empty() &&
             (trimmed.front() == '+' ||
              absl::ascii_isdigit(
                  static_cast<unsigned char>(trimmed.front())))) {
    auto phone = NormalizePhoneNumber(trimmed);
    if (phone.ok()) {
      params.filter.phone_numbers = {*phone};
    } else {
      auto username = NormalizeUsername(
          trimmed);  // All-digit usernames are invalid anyway.
      if (!username.ok()) return std::string();
      params.filter.usernames = {*username};
    }
  } else {
    auto username = NormalizeUsername(trimmed);
    if (!username.ok()) return std::string();
    params.filter.usernames = {*username};
  }
  auto page = users.ListUsers(params);
  if (!page.ok()) {
    return page.status();
  }
  if (page->users.empty()) {
    return std::string();
  }
  // Only a verified email address or phone number signs in; an unverified one
  // reads as unknown.
  const storage::UserRecord& user = page->users.front().record;
  constexpr auto kVerified = storage::VerificationStatus::kVerified;
  for (const auto& e : user.email_addresses) {
    if (!params.filter.email_addresses.empty() &&
        e.email_address == params.filter.email_addresses[0]) {
      return e.verification.status == kVerified ? user.id : std::string();
    }
  }
  for (const auto& p : user.phone_numbers) {
    if (!params.filter.phone_numbers.empty() &&
        p.phone_number == params.filter.phone_numbers[0]) {
      return p.verification.status == kVerified ? user.id : std::string();
    }
  }
  return user.id;  // Matched by username.
}

}  // namespace

absl::StatusOr<bool> CheckPasswordAttempt(UserService& users,
                                          const Caller& caller,
                                          absl::string_view user_id,
                                          absl::string_view password,
                                          bool sign_in) {
  auto attempt = users.BeginPasswordAttempt(user_id);
  if (!attempt.ok()) {
    return attempt.status();
  }
  bool verified = false;
  if (attempt->password_hash.empty()) {
    VerifyNothing(password);
  } else {
    verified = VerifyStoredPassword(attempt->password_hash, password);
  }
  std::string upgraded;
  if (verified && NeedsRehash(attempt->password_hash)) {
    auto hashed = HashPassword(password);
    if (hashed.ok()) {
      upgraded = *std::move(hashed);
    }
  }
  auto recorded = users.FinishPasswordAttempt(caller, user_id, verified,
                                              sign_in, *attempt, upgraded);
  if (!recorded.ok()) {
    return recorded.status();
  }
  return verified;
}

absl::StatusOr<NewSession> SignIn(UserService& users, SessionService& sessions,
                                  const Caller& caller,
                                  absl::string_view identifier,
                                  absl::string_view password) {
  if (identifier.size() > kMaxEmailAddressBytes ||
      password.size() > kMaxPasswordBytes) {
    VerifyNothing(password.substr(0, kMaxPasswordBytes));
    return PasswordIncorrect();
  }
  auto user_id = FindUser(users, identifier);
  if (!user_id.ok()) {
    return user_id.status();
  }
  if (user_id->empty()) {
    VerifyNothing(
        password);  // As long as a real check: no user enumeration by timing.
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
  return sessions.CreateSession(caller, *user_id);
}

absl::Status CheckCurrentPassword(UserService& users, const Caller& caller,
                                  absl::string_view user_id,
                                  absl::string_view password) {
  auto user = users.GetUser(user_id);
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

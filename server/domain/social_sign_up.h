// A social sign-up that still needs fields (DESIGN §10–11): when
// --sign_up_required asks for what a provider cannot give (a username, a
// phone number, a name it did not send), the provider's callback starts a
// sign-up instead of a user, and the sign-up keeps the provider's account
// until the person completes it with UpdateSignUp. This is that account as
// the sign-up row holds it.
#ifndef ROSTER_SERVER_DOMAIN_SOCIAL_SIGN_UP_H_
#define ROSTER_SERVER_DOMAIN_SOCIAL_SIGN_UP_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/records.h"

namespace roster::domain {

struct PendingProviderAccount {
  // Its id is chosen when the sign-up starts (the tokens are sealed to it);
  // user_id is empty until the sign-up completes.
  storage::ExternalAccountRecord account;
  std::optional<storage::OAuthTokenRecord> tokens;  // Sealed; no user_id.
};

// As SignUpRecord::external_account holds it (JSON).
std::string EncodePendingAccount(const PendingProviderAccount& pending);
// INTERNAL when `text` is not what EncodePendingAccount wrote.
absl::StatusOr<PendingProviderAccount> DecodePendingAccount(
    absl::string_view text);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_SOCIAL_SIGN_UP_H_

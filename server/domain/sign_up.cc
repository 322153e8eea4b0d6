#include "server/domain/sign_up.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/invitations.h"
#include "server/domain/passwords.h"
#include "server/domain/social_sign_up.h"
#include "server/domain/user_checks.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

using internal::CheckMetadata;
using internal::CheckText;
using internal::CheckUnique;
using internal::CheckUsername;
using storage::SignUpRecord;
using storage::VerificationRecord;
using storage::VerificationStatus;

constexpr const char* kSignUpFields[] = {
    "email_address", "phone_number", "username",      "password",
    "first_name",    "last_name",    "legal_accepted"};

// Abandoned sign-ups stay readable (as ABANDONED) this long before pruning.
constexpr absl::Duration kAbandonedKept = absl::Hours(24);

bool Given(const SignUpRecord& r, absl::string_view field) {
  if (field == "email_address") {
    return !r.email_address.empty();
  }
  if (field == "phone_number") {
    return !r.phone_number.empty();
  }
  if (field == "username") {
    return !r.username.empty();
  }
  if (field == "password") {
    return !r.password_hash.empty();
  }
  if (field == "first_name") {
    return !r.first_name.empty();
  }
  if (field == "last_name") {
    return !r.last_name.empty();
  }
  return r.legal_accepted_at != 0;  // legal_accepted
}

bool IsVerified(const VerificationRecord& v) {
  return v.status == VerificationStatus::kVerified;
}

absl::Status AttemptState(absl::string_view why) {
  return Error(absl::StatusCode::kFailedPrecondition, reason::kAttemptState,
               why);
}

// Sets an identifier given in a call: a changed value starts unverified.
void SetIdentifier(std::string value, std::string& stored,
                   VerificationRecord& verification) {
  if (value != stored) {
    stored = std::move(value);
    verification = VerificationRecord{};
  }
}

// A social sign-up's address changed and changed back to the one its provider
// verified is verified again, as it was when the sign-up started.
void RestoreProviderVerification(SignUpRecord& sign_up) {
  if (sign_up.external_account.empty() || sign_up.email_address.empty() ||
      IsVerified(sign_up.email_verification)) {
    return;
  }
  auto pending = DecodePendingAccount(sign_up.external_account);
  if (pending.ok() && pending->account.email_address == sign_up.email_address) {
    sign_up.email_verification = pending->account.verification;
  }
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseSignUpRequiredFields(
    absl::string_view list) {
  std::vector<std::string> fields;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    const std::string field(absl::StripAsciiWhitespace(part));
    if (field.empty() ||
        std::find(fields.begin(), fields.end(), field) != fields.end()) {
      continue;
    }
    if (std::none_of(std::begin(kSignUpFields), std::end(kSignUpFields),
                     [&](const char* known) { return field == known; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("--sign_up_required: unknown field \"", field,
                       "\"; known: email_address, phone_number, username, "
                       "password, first_name, last_name, legal_accepted"));
    }
    fields.push_back(field);
  }
  auto has = [&](const char* f) {
    return std::find(fields.begin(), fields.end(), f) != fields.end();
  };
  if (!has("email_address") && !has("phone_number") &&
      !(has("username") && has("password"))) {
    return absl::InvalidArgumentError(
        "--sign_up_required must include email_address, phone_number, or "
        "username and password: a new user needs a way to sign in");
  }
  return fields;
}

absl::StatusOr<SignUpMode> ParseSignUpMode(absl::string_view mode) {
  if (mode == "public") {
    return SignUpMode::kPublic;
  }
  if (mode == "restricted") {
    return SignUpMode::kRestricted;
  }
  if (mode == "disabled") {
    return SignUpMode::kDisabled;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--sign_up_mode must be public, restricted or disabled, "
                   "not \"",
                   mode, "\""));
}

SignUpService::SignUpService(storage::UserStore* store, const Clock* clock,
                             const IdGenerator* ids, const EventEncoder* events,
                             UserServiceOptions user_options,
                             SessionService* sessions, SignUpOptions options)
    : UserOperations(store, clock, ids, events, std::move(user_options)),
      sessions_(sessions),
      sign_up_options_(std::move(options)) {}

absl::Status SignUpService::HashPassword(SignUpParams& params) const {
  if (!params.password.has_value() || params.password->empty()) {
    return absl::OkStatus();
  }
  std::vector<std::string> identifiers;
  for (const auto* given :
       {&params.email_address, &params.phone_number, &params.username}) {
    if (given->has_value()) {
      identifiers.push_back(absl::AsciiStrToLower(**given));
    }
  }
  absl::Status allowed = CheckNewPassword(*params.password, false, identifiers);
  if (!allowed.ok()) {
    return allowed;
  }
  auto hash = ::roster::domain::HashPassword(*params.password);
  if (!hash.ok()) {
    return hash.status();
  }
  params.password_hash = *std::move(hash);
  return absl::OkStatus();
}

SignUpView ViewOfSignUp(SignUpRecord record,
                        const std::vector<std::string>& required,
                        absl::Time now) {
  SignUpView view;
  view.abandoned = record.status != storage::SignUpStatus::kComplete &&
                   ToMicros(now) >= record.expire_at;
  for (const std::string& field : required) {
    if (field != "password" || record.external_account.empty()) {
      view.required_fields.push_back(field);
    }
  }
  for (const std::string& field : view.required_fields) {
    if (!Given(record, field)) {
      view.missing_fields.push_back(field);
    }
  }
  if (!record.email_address.empty() && !IsVerified(record.email_verification)) {
    view.unverified_fields.emplace_back("email_address");
  }
  if (!record.phone_number.empty() && !IsVerified(record.phone_verification)) {
    view.unverified_fields.emplace_back("phone_number");
  }
  if (!record.external_account.empty()) {
    // Unreadable (or the callback's "{}" stand-in): the sign-up still works
    // and completing it reports the error; the view just says less.
    auto pending = DecodePendingAccount(record.external_account);
    if (pending.ok()) {
      view.external_account_verification = pending->account.verification;
    }
  }
  view.record = std::move(record);
  return view;
}

SignUpView SignUpService::ViewOf(SignUpRecord record, absl::Time now) const {
  return ViewOfSignUp(std::move(record), sign_up_options_.required_fields, now);
}

absl::Status SignUpService::Apply(storage::WriteTransaction& txn,
                                  const SignUpParams& params, absl::Time now,
                                  SignUpRecord& sign_up) const {
  Violations violations;
  Violations clashes;
  auto identifier = [&](const std::optional<std::string>& given,
                        const char* field, auto normalize,
                        storage::IdentifierKind kind, std::string& stored,
                        VerificationRecord& verification) -> absl::Status {
    if (!given.has_value()) {
      return absl::OkStatus();
    }
    if (given->empty()) {
      SetIdentifier("", stored, verification);
      return absl::OkStatus();
    }
    auto normalized = normalize(*given);
    if (!normalized.ok()) {
      violations.Add(field, std::string(normalized.status().message()));
      return absl::OkStatus();
    }
    SetIdentifier(*normalized, stored, verification);
    return CheckUnique(txn, kind, stored, "", field, clashes);
  };
  absl::Status checked =
      identifier(params.email_address, "email_address", NormalizeEmailAddress,
                 storage::IdentifierKind::kEmailAddress, sign_up.email_address,
                 sign_up.email_verification);
  RestoreProviderVerification(sign_up);
  if (checked.ok()) {
    checked =
        identifier(params.phone_number, "phone_number", NormalizePhoneNumber,
                   storage::IdentifierKind::kPhoneNumber, sign_up.phone_number,
                   sign_up.phone_verification);
  }
  if (!checked.ok()) {
    return checked;
  }
  const auto username = CheckUsername(params.username, violations);
  if (username.has_value()) {
    sign_up.username = *username;
    if (!username->empty()) {
      checked = CheckUnique(txn, storage::IdentifierKind::kUsername, *username,
                            "", "username", clashes);
      if (!checked.ok()) {
        return checked;
      }
    }
  }
  CheckText("first_name", params.first_name, kMaxNameBytes, violations);
  CheckText("last_name", params.last_name, kMaxNameBytes, violations);
  if (params.first_name.has_value()) {
    sign_up.first_name = *params.first_name;
  }
  if (params.last_name.has_value()) {
    sign_up.last_name = *params.last_name;
  }
  const auto metadata =
      CheckMetadata("unsafe_metadata", params.unsafe_metadata, violations);
  if (metadata.has_value()) {
    sign_up.unsafe_metadata = *metadata;
  }
  if (params.legal_accepted.has_value()) {
    sign_up.legal_accepted_at = *params.legal_accepted ? ToMicros(now) : 0;
  }
  if (params.password.has_value()) {
    if (params.password->empty()) {
      sign_up.password_hash.clear();
    } else {
      // Checked again against every identifier the sign-up now holds.
      internal::AddPasswordViolation(
          CheckNewPassword(
              *params.password, false,
              {sign_up.email_address, sign_up.phone_number, sign_up.username}),
          violations);
      sign_up.password_hash = params.password_hash.value_or("");
    }
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return clashes.ToStatus(absl::StatusCode::kAlreadyExists);
}

absl::StatusOr<SignUpRecord> SignUpService::LoadOpen(
    storage::WriteTransaction& txn, absl::string_view sign_up_id,
    absl::Time now) const {
  if (!IsWellFormedId(sign_up_id, kSignUpIdPrefix)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat, "sign_up_id is malformed",
                 {{"sign_up_id", "must be a sign-up id (su_…)"}});
  }
  auto sign_up = txn.GetSignUp(sign_up_id);
  if (absl::IsNotFound(sign_up.status())) {
    return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                 "sign-up not found");
  }
  if (!sign_up.ok()) {
    return sign_up.status();
  }
  if (sign_up->status == storage::SignUpStatus::kComplete) {
    return AttemptState("the sign-up is complete; sign in instead");
  }
  if (ToMicros(now) >= sign_up->expire_at) {
    return AttemptState("the sign-up was abandoned; start a new one");
  }
  return sign_up;
}

absl::Status SignUpService::SaveOrComplete(storage::WriteTransaction& txn,
                                           const Caller& caller, absl::Time now,
                                           SignUpRecord& sign_up,
                                           SignUpResult& result) {
  const storage::Micros now_micros = ToMicros(now);
  sign_up.updated_at = now_micros;
  SignUpView view = ViewOf(sign_up, now);
  if (!view.missing_fields.empty() || !view.unverified_fields.empty()) {
    result.sign_up = std::move(view);
    return txn.PutSignUp(sign_up);
  }
  // Every requirement is met: the user and its session, in this transaction.
  // Identifiers are checked again: another sign-up or a user may have taken
  // one since it was given (the first to complete wins).
  Violations clashes;
  for (const auto& [kind, value, field] :
       {std::tuple{storage::IdentifierKind::kEmailAddress,
                   &sign_up.email_address, "email_address"},
        std::tuple{storage::IdentifierKind::kPhoneNumber, &sign_up.phone_number,
                   "phone_number"},
        std::tuple{storage::IdentifierKind::kUsername, &sign_up.username,
                   "username"}}) {
    if (value->empty()) {
      continue;
    }
    absl::Status checked = CheckUnique(txn, kind, *value, "", field, clashes);
    if (!checked.ok()) {
      return checked;
    }
  }
  if (!clashes.empty()) {
    return clashes.ToStatus(absl::StatusCode::kAlreadyExists);
  }
  storage::UserRecord user;
  user.id = ids_->New(kUserIdPrefix);
  if (!sign_up.invitation_id.empty()) {
    // Accepted with the user, only while it is still pending: a revoked or
    // expired invitation no longer vouches for the address.
    auto invitation = txn.GetInvitation(sign_up.invitation_id);
    if (!invitation.ok() && !absl::IsNotFound(invitation.status())) {
      return invitation.status();
    }
    if (!invitation.ok() ||
        StateOf(*invitation, now) != InvitationState::kPending) {
      return Error(absl::StatusCode::kUnauthenticated, reason::kTicketInvalid,
                   "the invitation was revoked or has expired");
    }
    invitation->status = storage::InvitationStatus::kAccepted;
    invitation->accepted_user_id = user.id;
    invitation->updated_at = now_micros;
    absl::Status accepted = txn.PutInvitation(*invitation);
    if (!accepted.ok()) {
      return accepted;
    }
  }
  user.username = sign_up.username;
  user.first_name = sign_up.first_name;
  user.last_name = sign_up.last_name;
  user.password_hash = sign_up.password_hash;
  if (!sign_up.unsafe_metadata.empty()) {
    user.unsafe_metadata = sign_up.unsafe_metadata;
  }
  if (!sign_up.public_metadata.empty()) {
    user.public_metadata = sign_up.public_metadata;
  }
  user.legal_accepted_at = sign_up.legal_accepted_at;
  user.created_at = user.updated_at = now_micros;
  user.version = 1;
  // Verified by the sign-up's code (ViewOf found nothing unverified).
  auto verified = [](const VerificationRecord& v) {
    return VerificationRecord{VerificationStatus::kVerified, v.strategy, 0, 0,
                              ""};
  };
  if (!sign_up.email_address.empty()) {
    user.email_addresses.push_back(
        {ids_->New(kIdentifierIdPrefix), user.id, sign_up.email_address,
         verified(sign_up.email_verification), now_micros, now_micros});
    user.primary_email_address_id = user.email_addresses.front().id;
  }
  if (!sign_up.phone_number.empty()) {
    storage::PhoneNumberRecord phone;
    phone.id = ids_->New(kIdentifierIdPrefix);
    phone.user_id = user.id;
    phone.phone_number = sign_up.phone_number;
    phone.verification = verified(sign_up.phone_verification);
    phone.created_at = phone.updated_at = now_micros;
    user.primary_phone_number_id = phone.id;
    user.phone_numbers.push_back(std::move(phone));
  }
  std::optional<storage::OAuthTokenRecord> tokens;
  if (!sign_up.external_account.empty()) {
    auto linked = LinkPendingAccount(txn, sign_up, user);
    if (!linked.ok()) {
      return linked.status();
    }
    tokens = *std::move(linked);
  }
  absl::Status released =
      ReleaseClaims(txn, caller, storage::UserRecord{}, user);
  if (!released.ok()) {
    return released;
  }
  absl::Status inserted =
      txn.InsertUser(user, NewEvent(caller, event_type::kUserCreated, user.id,
                                    events_->EncodeUser(View(user))));
  if (!inserted.ok()) {
    return inserted;
  }
  if (tokens.has_value()) {
    absl::Status kept = txn.PutOAuthToken(*tokens);
    if (!kept.ok()) {
      return kept;
    }
  }
  auto session = sessions_->CreateSessionIn(txn, caller, user, now);
  if (!session.ok()) {
    return session.status();
  }
  sign_up.status = storage::SignUpStatus::kComplete;
  sign_up.created_user_id = user.id;
  sign_up.created_session_id = session->session.id;
  absl::Status saved = txn.PutSignUp(sign_up);
  if (!saved.ok()) {
    return saved;
  }
  result.sign_up = ViewOf(sign_up, now);
  result.session = *std::move(session);
  result.user = View(std::move(user));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<storage::OAuthTokenRecord>>
SignUpService::LinkPendingAccount(storage::WriteTransaction& txn,
                                  const SignUpRecord& sign_up,
                                  storage::UserRecord& user) const {
  auto pending = DecodePendingAccount(sign_up.external_account);
  if (!pending.ok()) {
    return pending.status();
  }
  storage::ExternalAccountRecord& account = pending->account;
  // The person may have signed up or connected the account another way
  // since: the first to complete wins, as with an address.
  auto holder = txn.FindUserIdByExternalAccount(account.provider,
                                                account.provider_user_id);
  if (!holder.ok()) {
    return holder.status();
  }
  if (holder->has_value()) {
    return Error(absl::StatusCode::kAlreadyExists, reason::kIdentifierExists,
                 "this provider account belongs to a user now; sign in with "
                 "it instead");
  }
  account.user_id = user.id;
  // As a social sign-up that needed nothing more: the provider's picture.
  user.image_url = account.image_url;
  user.external_accounts.push_back(std::move(account));
  if (pending->tokens.has_value()) {
    pending->tokens->user_id = user.id;
  }
  return std::move(pending->tokens);
}

absl::StatusOr<SignUpResult> SignUpService::Create(const Caller& caller,
                                                   const SignUpParams& params) {
  if (sign_up_options_.mode == SignUpMode::kDisabled ||
      (sign_up_options_.mode == SignUpMode::kRestricted &&
       params.ticket.empty())) {
    return Error(absl::StatusCode::kPermissionDenied, reason::kSignUpRestricted,
                 sign_up_options_.mode == SignUpMode::kDisabled
                     ? "sign-ups are disabled"
                     : "sign-ups need an invitation");
  }
  const absl::Time now = clock_->Now();
  SignUpRecord sign_up;
  sign_up.id = ids_->New(kSignUpIdPrefix);
  sign_up.created_at = ToMicros(now);
  sign_up.expire_at = ToMicros(now + sign_up_options_.lifetime);
  SignUpResult result;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        if (!params.ticket.empty()) {
          // The invited address arrives verified, with the invitation's
          // public metadata; a different address given below is not.
          auto invitation = RedeemableInvitation(txn, params.ticket, now);
          if (!invitation.ok()) {
            return invitation.status();
          }
          sign_up.invitation_id = invitation->id;
          sign_up.public_metadata = invitation->public_metadata;
          sign_up.email_address = invitation->email_address;
          sign_up.email_verification = {VerificationStatus::kVerified, "ticket",
                                        0, 0, ""};
        }
        absl::Status applied = Apply(txn, params, now, sign_up);
        if (!applied.ok()) {
          return applied;
        }
        return SaveOrComplete(txn, caller, now, sign_up, result);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return result;
}

absl::StatusOr<SignUpResult> SignUpService::Update(const Caller& caller,
                                                   absl::string_view sign_up_id,
                                                   const SignUpParams& params) {
  const absl::Time now = clock_->Now();
  SignUpResult result;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto sign_up = LoadOpen(txn, sign_up_id, now);
        if (!sign_up.ok()) {
          return sign_up.status();
        }
        absl::Status applied = Apply(txn, params, now, *sign_up);
        if (!applied.ok()) {
          return applied;
        }
        return SaveOrComplete(txn, caller, now, *sign_up, result);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return result;
}

absl::StatusOr<int64_t> SignUpService::Prune(int64_t max_rows) {
  const storage::Micros cutoff = ToMicros(clock_->Now() - kAbandonedKept);
  return PruneBatch([&](storage::WriteTransaction& txn) {
    return txn.PruneSignUps(cutoff, max_rows);
  });
}

}  // namespace roster::domain

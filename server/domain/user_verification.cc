// UserService's one-time verification codes (DESIGN §5). A code lives in its
// identifier's verification record: strategy email_code / phone_code, the
// attempts made, the expiry and a salted digest. Every prepare and every
// attempt is a change to the user (etag, updated_at, user.updated); a failed
// attempt commits before its error returns, so guesses are always counted.
#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/identifier_kind.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_service.h"
#include "server/domain/verification_codes.h"

namespace roster::domain {
namespace {

using internal::Find;
using internal::Kind;
using storage::VerificationStatus;

absl::Status NotFound() {
  return Error(absl::StatusCode::kNotFound, reason::kNotFound,
               "identifier not found");
}

absl::Status CheckIdentifierId(const char* field, absl::string_view id) {
  if (IsWellFormedId(id, kIdentifierIdPrefix)) {
    return absl::OkStatus();
  }
  return Error(absl::StatusCode::kInvalidArgument,
               reason::kInvalidArgumentFormat,
               absl::StrCat(field, " is malformed"),
               {{field, "must be an identifier id (idn_…)"}});
}

// How an attempt ended, decided inside the transaction and reported after it
// commits.
enum class Outcome { kVerified, kWrongCode, kExpired };

}  // namespace

absl::StatusOr<IdentifierView> IdentifierService::PrepareVerification(
    const Caller& caller, IdentifierType type, absl::string_view user_id,
    absl::string_view identifier_id) {
  auto prepare = [&](auto tag) -> absl::StatusOr<IdentifierView> {
    using Record = decltype(tag);
    using K = Kind<Record>;
    absl::Status valid = CheckIdentifierId(K::kIdField, identifier_id);
    if (!valid.ok()) {
      return valid;
    }
    const storage::Micros now = ToMicros(clock_->Now());
    const std::string code = NewVerificationCode();
    auto user = MutateUser(
        caller, user_id, "",
        [&](storage::WriteTransaction& txn,
            storage::UserRecord& u) -> absl::Status {
          Record* record = Find<Record>(u, identifier_id);
          if (record == nullptr) {
            return NotFound();
          }
          if (record->verification.status == VerificationStatus::kVerified) {
            return Error(absl::StatusCode::kFailedPrecondition,
                         reason::kAlreadyVerified,
                         absl::StrCat(K::kField, " is already verified"),
                         {{K::kIdField, "is already verified"}});
          }
          // Counted per address, not per identifier id: deleting and adding
          // the address again does not buy more codes. Then per user (many
          // addresses of one account: toll fraud) and for the whole service
          // (the operator's SMS and mail budget), in the same durable windows.
          absl::Status counted = CountCodeSend(
              txn, absl::StrCat(K::kField, ":", K::Value(*record)), u.id, now);
          if (!counted.ok()) {
            return counted;
          }
          storage::VerificationRecord& v = record->verification;
          v.status = VerificationStatus::kUnverified;
          v.strategy = K::kCodeStrategy;
          v.attempts = 0;
          v.expire_at = now + absl::ToInt64Microseconds(
                                  options_.verification_code_lifetime);
          v.code_digest = DigestVerificationCode(code);
          record->updated_at = now;
          const bool email =
              std::is_same_v<Record, storage::EmailAddressRecord>;
          VerificationMessage message;
          message.identifier_id = record->id;
          message.address = K::Value(*record);
          message.user_id = u.id;
          message.code = code;
          message.expire_at = v.expire_at;
          message.purpose =
              email ? "verify_email_address" : "verify_phone_number";
          return txn.AppendEvent(NewEvent(
              caller,
              email ? event_type::kEmailCreated : event_type::kSmsCreated, u.id,
              email ? events_->EncodeEmailMessage(message)
                    : events_->EncodeSmsMessage(message)));
        });
    if (!user.ok()) {
      return user.status();
    }
    return IdentifierView{*std::move(user), std::string(identifier_id)};
  };
  return type == IdentifierType::kEmailAddress
             ? prepare(storage::EmailAddressRecord{})
             : prepare(storage::PhoneNumberRecord{});
}

absl::StatusOr<IdentifierView> IdentifierService::AttemptVerification(
    const Caller& caller, IdentifierType type, absl::string_view user_id,
    absl::string_view identifier_id, absl::string_view code) {
  auto attempt = [&](auto tag) -> absl::StatusOr<IdentifierView> {
    using Record = decltype(tag);
    using K = Kind<Record>;
    absl::Status valid = CheckIdentifierId(K::kIdField, identifier_id);
    if (!valid.ok()) {
      return valid;
    }
    if (!IsWellFormedVerificationCode(code)) {
      return Error(absl::StatusCode::kInvalidArgument,
                   reason::kInvalidArgumentFormat, "code is malformed",
                   {{"code", "must be 6 digits"}});
    }
    const storage::Micros now = ToMicros(clock_->Now());
    Outcome outcome = Outcome::kVerified;
    int32_t attempts_left = 0;
    auto user = MutateUser(
        caller, user_id, "",
        [&](storage::WriteTransaction&,
            storage::UserRecord& u) -> absl::Status {
          Record* record = Find<Record>(u, identifier_id);
          if (record == nullptr) {
            return NotFound();
          }
          storage::VerificationRecord& v = record->verification;
          if (v.status == VerificationStatus::kFailed) {
            return Error(absl::StatusCode::kResourceExhausted,
                         reason::kTooManyAttempts,
                         "too many wrong codes; prepare a new one");
          }
          if (v.status != VerificationStatus::kUnverified ||
              v.code_digest.empty()) {
            return Error(absl::StatusCode::kFailedPrecondition,
                         reason::kNoVerificationPending,
                         "no code is pending; prepare one first");
          }
          record->updated_at = now;
          if (now >= v.expire_at) {
            v.status = VerificationStatus::kExpired;
            v.code_digest.clear();
            outcome = Outcome::kExpired;
            return absl::OkStatus();
          }
          if (VerificationCodeMatches(code, v.code_digest)) {
            v.status = VerificationStatus::kVerified;
            v.code_digest.clear();
            if (K::Primary(u).empty()) {
              K::Primary(u) = record->id;
            }
            outcome = Outcome::kVerified;
            return absl::OkStatus();
          }
          v.attempts += 1;  // Wrong codes only, as the API documents.
          attempts_left = options_.verification_max_attempts - v.attempts;
          if (attempts_left <= 0) {
            v.status = VerificationStatus::kFailed;
            v.code_digest.clear();
          }
          outcome = Outcome::kWrongCode;
          return absl::OkStatus();
        });
    if (!user.ok()) {
      return user.status();
    }
    switch (outcome) {
      case Outcome::kVerified:
        break;
      case Outcome::kExpired:
        return VerificationCodeExpired();
      case Outcome::kWrongCode:
        return VerificationCodeIncorrect(attempts_left);
    }
    return IdentifierView{*std::move(user), std::string(identifier_id)};
  };
  return type == IdentifierType::kEmailAddress
             ? attempt(storage::EmailAddressRecord{})
             : attempt(storage::PhoneNumberRecord{});
}

}  // namespace roster::domain

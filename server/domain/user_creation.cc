// UserService's creation paths: CreateUser, and CreateUsers for ImportUsers,
// which share one validation step (PrepareNewUser) and one write body
// (InsertNewUser), so a user imported is checked and stored exactly as one
// created alone.
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/passwords.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_service.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

// Marks the deliberate rollback of a validate_only create.
constexpr char kValidateOnly[] = "validate_only";

// True for the status InsertNewUser returns to roll back a validate_only
// create that passed every check.
bool IsValidateOnlyRollback(const absl::Status& status) {
  return absl::IsCancelled(status) && status.message() == kValidateOnly;
}

using internal::AddPasswordViolation;
using internal::CheckDigest;
using internal::CheckIdentifiers;
using internal::CheckMetadata;
using internal::CheckPastTime;
using internal::CheckText;
using internal::CheckUnique;
using internal::CheckUsername;
using internal::FromStore;

// The request fields that decide CreateUser's result, for detecting a reused
// request_id.
std::string CreateRequestFingerprint(const storage::UserRecord& user,
                                     const std::vector<std::string>& emails,
                                     const std::vector<std::string>& phones,
                                     bool backdated) {
  std::string canonical;
  auto add = [&](absl::string_view v) {
    absl::StrAppend(&canonical, v.size(), ":", v, ";");
  };
  for (const auto& v :
       {user.external_id, user.username, user.first_name, user.last_name,
        user.public_metadata, user.private_metadata, user.unsafe_metadata}) {
    add(v);
  }
  add(absl::StrCat(user.delete_self_enabled, backdated ? user.created_at : 0));
  if (user.legal_accepted_at != 0) {  // Only when set: older keys stay valid.
    add(absl::StrCat("legal_accepted_at=", user.legal_accepted_at));
  }
  for (const auto* list : {&emails, &phones}) {
    add(absl::StrCat(list->size()));
    for (const auto& v : *list) {
      add(v);
    }
  }
  return Fingerprint(canonical);
}

}  // namespace

// A new user that passed every check that needs no transaction.
struct UserService::NewUser {
  storage::UserRecord user;
  std::vector<std::string> emails;  // Normalised, in request order.
  std::vector<std::string> phones;
  std::string request_id;
  std::string request_hash;
  storage::Micros now_micros = 0;
};

absl::StatusOr<UserService::NewUser> UserService::PrepareNewUser(
    const CreateUserParams& params) const {
  const absl::Time now = clock_->Now();
  Violations violations;
  CheckText("external_id", params.external_id, kMaxExternalIdBytes, violations);
  CheckText("first_name", params.first_name, kMaxNameBytes, violations);
  CheckText("last_name", params.last_name, kMaxNameBytes, violations);
  const auto username = CheckUsername(params.username, violations);
  const auto emails =
      CheckIdentifiers("email_addresses", params.email_addresses, violations,
                       NormalizeEmailAddress);
  const auto phones = CheckIdentifiers("phone_numbers", params.phone_numbers,
                                       violations, NormalizePhoneNumber);
  const auto public_metadata =
      CheckMetadata("public_metadata", params.public_metadata, violations);
  const auto private_metadata =
      CheckMetadata("private_metadata", params.private_metadata, violations);
  const auto unsafe_metadata =
      CheckMetadata("unsafe_metadata", params.unsafe_metadata, violations);
  if (params.created_at.has_value() &&
      (*params.created_at > now || *params.created_at < absl::UnixEpoch())) {
    violations.Add("created_at", "must be between 1970 and now");
  }
  const auto legal_accepted_at = CheckPastTime(
      "legal_accepted_at", params.legal_accepted_at, now, violations);
  if (!params.request_id.empty()) {
    auto valid = ValidateRequestId(params.request_id);
    if (!valid.ok()) {
      violations.Add("request_id", std::string(valid.status().message()));
    }
  }
  const auto imported =
      CheckDigest(params.password_digest, params.password_hasher,
                  params.password.has_value(), violations);
  const bool hash_here =
      params.password.has_value() && params.password_hash.empty();
  if (hash_here) {
    std::vector<std::string> identifiers = emails;
    identifiers.insert(identifiers.end(), phones.begin(), phones.end());
    identifiers.push_back(username.value_or(""));
    AddPasswordViolation(
        CheckNewPassword(*params.password, params.skip_password_checks,
                         identifiers),
        violations);
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  std::string password_hash = params.password_hash;
  if (hash_here) {
    auto hashed = HashPassword(*params.password);
    if (!hashed.ok()) {
      return hashed.status();
    }
    password_hash = *std::move(hashed);
  }

  NewUser created;
  created.request_id = params.request_id;
  const storage::Micros now_micros = ToMicros(now);
  created.now_micros = now_micros;
  storage::UserRecord& user = created.user;
  user.id = ids_->New(kUserIdPrefix);
  user.external_id = params.external_id.value_or("");
  user.username = username.value_or("");
  user.first_name = params.first_name.value_or("");
  user.last_name = params.last_name.value_or("");
  user.public_metadata = public_metadata.value_or("{}");
  user.private_metadata = private_metadata.value_or("{}");
  user.unsafe_metadata = unsafe_metadata.value_or("{}");
  user.delete_self_enabled = params.delete_self_enabled.value_or(true);
  user.created_at =
      params.created_at.has_value() ? ToMicros(*params.created_at) : now_micros;
  user.updated_at = now_micros;
  user.version = 1;
  user.legal_accepted_at = legal_accepted_at.value_or(0);
  user.password_hash = imported.has_value() ? *imported : password_hash;
  const storage::VerificationRecord admin_verified{
      storage::VerificationStatus::kVerified, "admin", 0, 0, ""};
  // Identifiers keep the request's order: each is a microsecond younger than
  // the previous.
  storage::Micros identifier_time = now_micros;
  for (const auto& email : emails) {
    user.email_addresses.push_back({ids_->New(kIdentifierIdPrefix), user.id,
                                    email, admin_verified, identifier_time,
                                    identifier_time});
    ++identifier_time;
  }
  for (const auto& phone : phones) {
    storage::PhoneNumberRecord record;
    record.id = ids_->New(kIdentifierIdPrefix);
    record.user_id = user.id;
    record.phone_number = phone;
    record.verification = admin_verified;
    record.created_at = record.updated_at = identifier_time++;
    user.phone_numbers.push_back(std::move(record));
  }
  if (!user.email_addresses.empty()) {
    user.primary_email_address_id = user.email_addresses.front().id;
  }
  if (!user.phone_numbers.empty()) {
    user.primary_phone_number_id = user.phone_numbers.front().id;
  }
  created.request_hash = CreateRequestFingerprint(
      user, emails, phones, params.created_at.has_value());
  created.emails = emails;
  created.phones = phones;
  return created;
}

absl::Status UserService::InsertNewUser(storage::WriteTransaction& txn,
                                        const Caller& caller,
                                        const NewUser& created,
                                        bool validate_only,
                                        storage::UserRecord& result) {
  if (!created.request_id.empty()) {
    auto previous = txn.GetIdempotencyKey(created.request_id);
    if (!previous.ok()) {
      return previous.status();
    }
    if (previous->has_value()) {
      if ((*previous)->request_hash != created.request_hash) {
        return Error(
            absl::StatusCode::kInvalidArgument, reason::kInvalidArgumentFormat,
            "request_id was already used for a different request",
            {{"request_id", "was already used for a different request"}});
      }
      auto first = txn.GetUser((*previous)->user_id);
      if (!first.ok()) {
        return first.status();
      }
      result = *std::move(first);
      return absl::OkStatus();
    }
  }
  Violations clashes;
  for (size_t i = 0; i < created.emails.size(); ++i) {
    auto s = CheckUnique(txn, storage::IdentifierKind::kEmailAddress,
                         created.emails[i], created.user.id,
                         absl::StrCat("email_addresses[", i, "]"), clashes);
    if (!s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < created.phones.size(); ++i) {
    auto s = CheckUnique(txn, storage::IdentifierKind::kPhoneNumber,
                         created.phones[i], created.user.id,
                         absl::StrCat("phone_numbers[", i, "]"), clashes);
    if (!s.ok()) {
      return s;
    }
  }
  if (!created.user.username.empty()) {
    auto s = CheckUnique(txn, storage::IdentifierKind::kUsername,
                         created.user.username, created.user.id, "username",
                         clashes);
    if (!s.ok()) {
      return s;
    }
  }
  if (!created.user.external_id.empty()) {
    auto s = CheckUnique(txn, storage::IdentifierKind::kExternalId,
                         created.user.external_id, created.user.id,
                         "external_id", clashes);
    if (!s.ok()) {
      return s;
    }
  }
  if (!clashes.empty()) {
    return clashes.ToStatus(absl::StatusCode::kAlreadyExists);
  }
  absl::Status released =
      ReleaseClaims(txn, caller, storage::UserRecord{}, created.user);
  if (!released.ok()) {
    return released;
  }
  absl::Status inserted = txn.InsertUser(
      created.user, NewEvent(caller, event_type::kUserCreated, created.user.id,
                             events_->EncodeUser(View(created.user))));
  if (!inserted.ok()) {
    return inserted;
  }
  if (validate_only) {
    result = created.user;
    return absl::CancelledError(kValidateOnly);  // Rolls everything back.
  }
  if (!created.request_id.empty()) {
    absl::Status remembered =
        txn.PutIdempotencyKey({created.request_id, created.request_hash,
                               created.user.id, created.now_micros});
    if (!remembered.ok()) {
      return remembered;
    }
  }
  result = created.user;
  return absl::OkStatus();
}

absl::StatusOr<UserView> UserService::FinishNewUser(
    const absl::Status& written, bool validate_only,
    storage::UserRecord result) const {
  if (validate_only && IsValidateOnlyRollback(written)) {
    return View(std::move(result));
  }
  if (!written.ok()) {
    return FromStore(written);
  }
  return View(std::move(result));
}

absl::StatusOr<UserView> UserService::CreateUser(const Caller& caller,
                                                 const CreateUserParams& params,
                                                 bool validate_only) {
  absl::StatusOr<NewUser> created = PrepareNewUser(params);
  if (!created.ok()) {
    return created.status();
  }
  storage::UserRecord result;
  const absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) {
        return InsertNewUser(txn, caller, *created, validate_only, result);
      });
  return FinishNewUser(written, validate_only, std::move(result));
}

std::vector<absl::StatusOr<UserView>> UserService::CreateUsers(
    const Caller& caller, const std::vector<CreateUserParams>& items,
    bool validate_only, absl::FunctionRef<absl::Status(size_t)> admit,
    absl::FunctionRef<void(size_t)> admitted) {
  std::vector<absl::StatusOr<UserView>> views(items.size(),
                                              absl::UnknownError(""));
  std::vector<absl::StatusOr<NewUser>> prepared;
  prepared.reserve(items.size());
  for (const CreateUserParams& item : items) {
    prepared.push_back(PrepareNewUser(item));
  }
  std::vector<storage::UserRecord> results(items.size());
  // One body per item that passed its checks, in item order; `bodies` holds
  // references to `writers`, so `writers` is complete before `bodies` is built.
  std::vector<size_t> written_items;
  std::vector<std::function<absl::Status(storage::WriteTransaction&)>> writers;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!prepared[i].ok()) {
      views[i] = prepared[i].status();
      continue;
    }
    written_items.push_back(i);
    writers.push_back([&, i](storage::WriteTransaction& txn) -> absl::Status {
      absl::Status admitted_here = admit(i);
      if (!admitted_here.ok()) {
        return admitted_here;
      }
      absl::Status inserted =
          InsertNewUser(txn, caller, *prepared[i], validate_only, results[i]);
      if (inserted.ok() ||
          (validate_only && IsValidateOnlyRollback(inserted))) {
        admitted(i);
      }
      return inserted;
    });
  }
  std::vector<absl::FunctionRef<absl::Status(storage::WriteTransaction&)>>
      bodies(writers.begin(), writers.end());
  const std::vector<absl::Status> written = store_->WriteEach(bodies);
  for (size_t k = 0; k < written_items.size(); ++k) {
    const size_t i = written_items[k];
    views[i] = FinishNewUser(written[k], validate_only, std::move(results[i]));
  }
  return views;
}

}  // namespace roster::domain

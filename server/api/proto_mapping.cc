#include "server/api/proto_mapping.h"

#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/domain/session_service.h"

namespace roster::api {
namespace {

using roster::v1::MetadataFilter;

// -62135596800 is 0001-01-01T00:00:00Z and 253402300799 is 9999-12-31T23:59:59Z
// (RFC 3339).
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

void SetTime(storage::Micros micros, google::protobuf::Timestamp* out) {
  ToProto(domain::FromMicros(micros), *out);
}

// Fills the filter fields shared by ListUsersRequest and CountUsersRequest.
template <typename Request>
absl::StatusOr<storage::UserFilter> FilterFromProto(const Request& request) {
  domain::Violations violations;
  storage::UserFilter filter;
  filter.email_addresses.assign(request.email_addresses().begin(),
                                request.email_addresses().end());
  filter.phone_numbers.assign(request.phone_numbers().begin(),
                              request.phone_numbers().end());
  filter.usernames.assign(request.usernames().begin(),
                          request.usernames().end());
  filter.external_ids.assign(request.external_ids().begin(),
                             request.external_ids().end());
  filter.user_ids.assign(request.user_ids().begin(), request.user_ids().end());
  filter.query = request.query();
  filter.email_address_query = request.email_address_query();
  filter.phone_number_query = request.phone_number_query();
  filter.username_query = request.username_query();
  filter.name_query = request.name_query();
  if (request.has_banned()) {
    filter.banned = request.banned();
  }
  auto bound = [&](bool has, const google::protobuf::Timestamp& t,
                   const char* field, std::optional<storage::Micros>& out) {
    if (!has) {
      return;
    }
    auto time = FromProto(t, field, violations);
    if (time.has_value()) {
      out = domain::ToMicros(*time);
    }
  };
  bound(request.has_created_at_before(), request.created_at_before(),
        "created_at_before", filter.created_at_before);
  bound(request.has_created_at_after(), request.created_at_after(),
        "created_at_after", filter.created_at_after);
  bound(request.has_last_sign_in_at_before(), request.last_sign_in_at_before(),
        "last_sign_in_at_before", filter.last_sign_in_at_before);
  bound(request.has_last_sign_in_at_after(), request.last_sign_in_at_after(),
        "last_sign_in_at_after", filter.last_sign_in_at_after);
  bound(request.has_last_active_at_before(), request.last_active_at_before(),
        "last_active_at_before", filter.last_active_at_before);
  bound(request.has_last_active_at_after(), request.last_active_at_after(),
        "last_active_at_after", filter.last_active_at_after);
  for (int i = 0; i < request.metadata_filters_size(); ++i) {
    const MetadataFilter& in = request.metadata_filters(i);
    storage::MetadataFilter out;
    switch (in.tier()) {
      case MetadataFilter::TIER_PUBLIC:
        out.tier = storage::MetadataTier::kPublic;
        break;
      case MetadataFilter::TIER_PRIVATE:
        out.tier = storage::MetadataTier::kPrivate;
        break;
      case MetadataFilter::TIER_UNSAFE:
        out.tier = storage::MetadataTier::kUnsafe;
        break;
      default:
        violations.Add(absl::StrCat("metadata_filters[", i, "].tier"),
                       "must be TIER_PUBLIC, TIER_PRIVATE or TIER_UNSAFE");
    }
    out.path = absl::StrSplit(in.path(), '.');
    const auto& value = in.value();
    switch (value.kind_case()) {
      case google::protobuf::Value::kNullValue:
        out.value.kind = storage::JsonScalar::Kind::kNull;
        break;
      case google::protobuf::Value::kBoolValue:
        out.value.kind = storage::JsonScalar::Kind::kBool;
        out.value.bool_value = value.bool_value();
        break;
      case google::protobuf::Value::kNumberValue:
        out.value.kind = storage::JsonScalar::Kind::kNumber;
        out.value.number_value = value.number_value();
        if (!std::isfinite(value.number_value())) {
          violations.Add(absl::StrCat("metadata_filters[", i, "].value"),
                         "must be finite");
        }
        break;
      case google::protobuf::Value::kStringValue:
        out.value.kind = storage::JsonScalar::Kind::kString;
        out.value.string_value = value.string_value();
        break;
      default:
        violations.Add(absl::StrCat("metadata_filters[", i, "].value"),
                       "must be a string, number, bool or null");
    }
    filter.metadata_filters.push_back(std::move(out));
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return filter;
}

}  // namespace

std::optional<absl::Time> FromProto(
    const google::protobuf::Timestamp& timestamp, const std::string& field,
    domain::Violations& violations) {
  if (timestamp.seconds() < kMinTimestampSeconds ||
      timestamp.seconds() > kMaxTimestampSeconds || timestamp.nanos() < 0 ||
      timestamp.nanos() > 999'999'999) {
    violations.Add(
        field, "must be a valid timestamp between 0001-01-01 and 9999-12-31");
    return std::nullopt;
  }
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

void ToProto(const storage::VerificationRecord& in,
             roster::v1::Verification& out) {
  out.set_status(static_cast<roster::v1::Verification::Status>(
      static_cast<int>(in.status)));
  out.set_strategy(in.strategy);
  out.set_attempts(in.attempts);
  if (in.expire_at != 0) {
    ToProto(domain::FromMicros(in.expire_at), *out.mutable_expire_at());
  }
}

void ToProto(absl::Time time, google::protobuf::Timestamp& out) {
  const int64_t micros = absl::ToUnixMicros(time);
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    seconds -= 1;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(rest * 1000));
}

// Everything both views share; private metadata is added by the backend
// overload only, so it cannot leak into a FrontendUser by accident.
template <typename Message>
void FillUser(const domain::UserView& view, Message& out) {
  const storage::UserRecord& u = view.record;
  out.set_id(u.id);
  if (!u.external_id.empty()) {
    out.set_external_id(u.external_id);
  }
  if (!u.username.empty()) {
    out.set_username(u.username);
  }
  if (!u.first_name.empty()) {
    out.set_first_name(u.first_name);
  }
  if (!u.last_name.empty()) {
    out.set_last_name(u.last_name);
  }
  out.set_image_url(u.image_url);
  out.set_has_image(!u.image_url.empty());
  if (!u.primary_email_address_id.empty()) {
    out.set_primary_email_address_id(u.primary_email_address_id);
  }
  if (!u.primary_phone_number_id.empty()) {
    out.set_primary_phone_number_id(u.primary_phone_number_id);
  }
  for (const auto& e : u.email_addresses) {
    auto* email = out.add_email_addresses();
    email->set_id(e.id);
    email->set_email_address(e.email_address);
    ToProto(e.verification, *email->mutable_verification());
    for (const auto& account : u.external_accounts) {
      if (account.email_address == e.email_address &&
          account.verification.status ==
              storage::VerificationStatus::kVerified) {
        email->add_linked_to(account.id);
      }
    }
    SetTime(e.created_at, email->mutable_created_at());
    SetTime(e.updated_at, email->mutable_updated_at());
  }
  for (const auto& p : u.phone_numbers) {
    auto* phone = out.add_phone_numbers();
    phone->set_id(p.id);
    phone->set_phone_number(p.phone_number);
    ToProto(p.verification, *phone->mutable_verification());
    phone->set_reserved_for_second_factor(p.reserved_for_second_factor);
    phone->set_default_second_factor(p.default_second_factor);
    SetTime(p.created_at, phone->mutable_created_at());
    SetTime(p.updated_at, phone->mutable_updated_at());
  }
  for (const auto& a : u.external_accounts) {
    auto* account = out.add_external_accounts();
    account->set_id(a.id);
    account->set_provider(a.provider);
    account->set_provider_user_id(a.provider_user_id);
    account->set_email_address(a.email_address);
    account->set_first_name(a.first_name);
    account->set_last_name(a.last_name);
    account->set_username(a.username);
    account->set_image_url(a.image_url);
    for (const auto& scope : a.approved_scopes) {
      account->add_approved_scopes(scope);
    }
    JsonToStruct(a.public_metadata, *account->mutable_public_metadata());
    ToProto(a.verification, *account->mutable_verification());
    SetTime(a.created_at, account->mutable_created_at());
    SetTime(a.updated_at, account->mutable_updated_at());
  }
  JsonToStruct(u.public_metadata, *out.mutable_public_metadata());
  JsonToStruct(u.unsafe_metadata, *out.mutable_unsafe_metadata());
  out.set_password_enabled(!u.password_hash.empty());
  out.set_two_factor_enabled(u.two_factor_enabled);
  out.set_banned(u.banned);
  out.set_locked(view.locked);
  if (view.lockout_expires_in_seconds.has_value()) {
    out.set_lockout_expires_in_seconds(*view.lockout_expires_in_seconds);
  }
  out.set_verification_attempts_remaining(view.verification_attempts_remaining);
  out.set_delete_self_enabled(u.delete_self_enabled);
  if (u.last_sign_in_at != 0) {
    SetTime(u.last_sign_in_at, out.mutable_last_sign_in_at());
  }
  if (u.last_active_at != 0) {
    SetTime(u.last_active_at, out.mutable_last_active_at());
  }
  SetTime(u.created_at, out.mutable_created_at());
  SetTime(u.updated_at, out.mutable_updated_at());
  out.set_etag(view.etag);
  if (!u.locale.empty()) {
    out.set_locale(u.locale);
  }
  if (u.legal_accepted_at != 0) {
    SetTime(u.legal_accepted_at, out.mutable_legal_accepted_at());
  }
  out.set_totp_enabled(u.totp_enabled);
  out.set_backup_code_enabled(!u.backup_codes.empty());
  if (u.mfa_enabled_at != 0) {
    SetTime(u.mfa_enabled_at, out.mutable_mfa_enabled_at());
  }
  if (u.mfa_disabled_at != 0) {
    SetTime(u.mfa_disabled_at, out.mutable_mfa_disabled_at());
  }
}

void ToProto(const domain::UserView& view, roster::v1::User& out) {
  FillUser(view, out);
  JsonToStruct(view.record.private_metadata, *out.mutable_private_metadata());
}

void ToProto(const domain::UserView& view, roster::v1::FrontendUser& out) {
  FillUser(view, out);
}

void ToProto(const storage::SessionRecord& session, absl::Time now,
             roster::v1::Session& out) {
  out.set_id(session.id);
  out.set_user_id(session.user_id);
  out.set_status(static_cast<roster::v1::Session::Status>(
      static_cast<int>(domain::EffectiveStatus(session, now))));
  SetTime(session.created_at, out.mutable_created_at());
  SetTime(session.last_active_at, out.mutable_last_active_at());
  SetTime(session.expire_at, out.mutable_expire_at());
}

void ToProto(const domain::TokenVerifier& verifier, roster::v1::Jwks& out) {
  for (const auto& key : verifier.keys()) {
    auto* jwk = out.add_keys();
    jwk->set_kty("OKP");
    jwk->set_crv("Ed25519");
    jwk->set_x(key.x());
    jwk->set_kid(key.kid);
    jwk->set_use("sig");
    jwk->set_alg("EdDSA");
  }
}

void ToProto(const domain::DeletedUser& deleted,
             roster::v1::DeletedObject& out) {
  out.set_id(deleted.id);
  out.set_deleted(true);
  if (!deleted.external_id.empty()) {
    out.set_external_id(deleted.external_id);
  }
}

absl::StatusOr<domain::CreateUserParams> FromProto(
    const roster::v1::CreateUserRequest& request) {
  domain::Violations violations;
  domain::CreateUserParams params;
  if (request.has_external_id()) {
    params.external_id = request.external_id();
  }
  params.email_addresses.assign(request.email_addresses().begin(),
                                request.email_addresses().end());
  params.phone_numbers.assign(request.phone_numbers().begin(),
                              request.phone_numbers().end());
  if (request.has_username()) {
    params.username = request.username();
  }
  if (request.has_first_name()) {
    params.first_name = request.first_name();
  }
  if (request.has_last_name()) {
    params.last_name = request.last_name();
  }
  if (request.has_public_metadata()) {
    params.public_metadata =
        StructToJson(request.public_metadata(), "public_metadata", violations);
  }
  if (request.has_private_metadata()) {
    params.private_metadata = StructToJson(request.private_metadata(),
                                           "private_metadata", violations);
  }
  if (request.has_unsafe_metadata()) {
    params.unsafe_metadata =
        StructToJson(request.unsafe_metadata(), "unsafe_metadata", violations);
  }
  if (request.has_delete_self_enabled()) {
    params.delete_self_enabled = request.delete_self_enabled();
  }
  if (request.has_created_at()) {
    params.created_at =
        FromProto(request.created_at(), "created_at", violations);
  }
  if (request.has_legal_accepted_at()) {
    params.legal_accepted_at =
        FromProto(request.legal_accepted_at(), "legal_accepted_at", violations);
  }
  params.request_id = request.request_id();
  if (request.has_password()) {
    params.password = request.password();
  }
  params.skip_password_checks = request.skip_password_checks();
  if (request.has_password_digest()) {
    params.password_digest = request.password_digest();
  }
  params.password_hasher = request.password_hasher();
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return params;
}

namespace {

// The fields UpdateUserRequest and UpdateMeRequest share.
template <typename Request>
void SelfEditableFromProto(const Request& request,
                           domain::UpdateUserParams& params) {
  if (request.has_username()) {
    params.username = request.username();
  }
  if (request.has_first_name()) {
    params.first_name = request.first_name();
  }
  if (request.has_last_name()) {
    params.last_name = request.last_name();
  }
  if (request.has_primary_email_address_id()) {
    params.primary_email_address_id = request.primary_email_address_id();
  }
  if (request.has_primary_phone_number_id()) {
    params.primary_phone_number_id = request.primary_phone_number_id();
  }
  if (request.has_locale()) {
    params.locale = request.locale();
  }
}

}  // namespace

domain::UpdateUserParams FromProto(const roster::v1::UpdateMeRequest& request,
                                   const std::string& user_id) {
  domain::UpdateUserParams params;
  params.user_id = user_id;
  SelfEditableFromProto(request, params);
  return params;
}

absl::StatusOr<domain::UpdateUserParams> FromProto(
    const roster::v1::UpdateUserRequest& request) {
  domain::Violations violations;
  domain::UpdateUserParams params;
  params.user_id = request.user_id();
  if (request.has_external_id()) {
    params.external_id = request.external_id();
  }
  SelfEditableFromProto(request, params);
  if (request.has_legal_accepted_at()) {
    params.legal_accepted_at =
        FromProto(request.legal_accepted_at(), "legal_accepted_at", violations);
  }
  if (request.has_delete_self_enabled()) {
    params.delete_self_enabled = request.delete_self_enabled();
  }
  params.etag = request.etag();
  if (request.has_password()) {
    params.password = request.password();
  }
  params.skip_password_checks = request.skip_password_checks();
  params.sign_out_of_other_sessions = request.sign_out_of_other_sessions();
  if (request.has_password_digest()) {
    params.password_digest = request.password_digest();
  }
  params.password_hasher = request.password_hasher();
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return params;
}

absl::StatusOr<domain::ListUsersParams> FromProto(
    const roster::v1::ListUsersRequest& request) {
  auto filter = FilterFromProto(request);
  if (!filter.ok()) {
    return filter.status();
  }
  domain::ListUsersParams params;
  params.filter = *std::move(filter);
  params.order_by = request.order_by();
  params.limit = request.limit();
  params.offset = request.offset();
  params.page_token = request.page_token();
  return params;
}

absl::StatusOr<storage::UserFilter> FromProto(
    const roster::v1::CountUsersRequest& request) {
  return FilterFromProto(request);
}

template <typename Request>
absl::StatusOr<domain::MetadataChange> MetadataChangeFromProto(
    const Request& request) {
  domain::Violations violations;
  domain::MetadataChange change;
  if (request.has_public_metadata()) {
    change.public_metadata =
        StructToJson(request.public_metadata(), "public_metadata", violations);
  }
  if (request.has_private_metadata()) {
    change.private_metadata = StructToJson(request.private_metadata(),
                                           "private_metadata", violations);
  }
  if (request.has_unsafe_metadata()) {
    change.unsafe_metadata =
        StructToJson(request.unsafe_metadata(), "unsafe_metadata", violations);
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return change;
}

template absl::StatusOr<domain::MetadataChange> MetadataChangeFromProto(
    const roster::v1::UpdateUserMetadataRequest&);
template absl::StatusOr<domain::MetadataChange> MetadataChangeFromProto(
    const roster::v1::ReplaceUserMetadataRequest&);

absl::Status RespondWithDeleted(const absl::Status& status,
                                const std::string& id,
                                roster::v1::DeletedObject* out) {
  if (status.ok()) {
    out->set_id(id);
    out->set_deleted(true);
  }
  return status;
}

namespace {

template <typename Request>
domain::CreateIdentifierParams CreateIdentifierFromProto(
    const Request& request, const std::string& value) {
  domain::CreateIdentifierParams params;
  params.user_id = request.user_id();
  params.value = value;
  params.verified = request.verified();
  params.primary = request.primary();
  return params;
}

template <typename Request>
domain::UpdateIdentifierParams UpdateIdentifierFromProto(
    const Request& request, const std::string& id) {
  domain::UpdateIdentifierParams params;
  params.identifier_id = id;
  if (request.has_verified()) {
    params.verified = request.verified();
  }
  if (request.has_primary()) {
    params.primary = request.primary();
  }
  return params;
}

}  // namespace

domain::CreateIdentifierParams FromProto(
    const roster::v1::CreateEmailAddressRequest& request) {
  return CreateIdentifierFromProto(request, request.email_address());
}

domain::CreateIdentifierParams FromProto(
    const roster::v1::CreatePhoneNumberRequest& request) {
  domain::CreateIdentifierParams params =
      CreateIdentifierFromProto(request, request.phone_number());
  params.reserved_for_second_factor = request.reserved_for_second_factor();
  return params;
}

domain::UpdateIdentifierParams FromProto(
    const roster::v1::UpdateEmailAddressRequest& request) {
  return UpdateIdentifierFromProto(request, request.email_address_id());
}

domain::UpdateIdentifierParams FromProto(
    const roster::v1::UpdatePhoneNumberRequest& request) {
  domain::UpdateIdentifierParams params =
      UpdateIdentifierFromProto(request, request.phone_number_id());
  if (request.has_reserved_for_second_factor()) {
    params.reserved_for_second_factor = request.reserved_for_second_factor();
  }
  return params;
}

absl::StatusOr<domain::CreateExternalAccountParams> FromProto(
    const roster::v1::CreateExternalAccountRequest& request) {
  domain::Violations violations;
  domain::CreateExternalAccountParams params;
  params.user_id = request.user_id();
  params.provider = request.provider();
  params.provider_user_id = request.provider_user_id();
  params.email_address = request.email_address();
  params.email_verified = request.email_verified();
  params.first_name = request.first_name();
  params.last_name = request.last_name();
  params.username = request.username();
  params.image_url = request.image_url();
  params.approved_scopes.assign(request.approved_scopes().begin(),
                                request.approved_scopes().end());
  if (request.has_public_metadata()) {
    params.public_metadata =
        StructToJson(request.public_metadata(), "public_metadata", violations);
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return params;
}

}  // namespace roster::api

// UserService's email address and phone number operations. Both kinds follow
// one set of rules, so each operation is written once over a small per-kind
// adapter.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/identifier_kind.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_service.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

using internal::Find;
using internal::Kind;

using storage::VerificationStatus;

constexpr size_t kMaxIdentifiersPerUser = 100;

absl::Status Invalid(const char* field, absl::string_view why) {
  return Error(absl::StatusCode::kInvalidArgument,
               reason::kInvalidArgumentFormat, absl::StrCat(field, " ", why),
               {{field, std::string(why)}});
}

absl::Status MustBeVerified(const char* field, absl::string_view why) {
  return Error(absl::StatusCode::kFailedPrecondition,
               reason::kPrimaryMustBeVerified, absl::StrCat(field, " ", why),
               {{field, std::string(why)}});
}

absl::Status IdentifierNotFound() {
  return Error(absl::StatusCode::kNotFound, reason::kNotFound,
               "identifier not found");
}

template <typename Record>
storage::VerificationRecord Verification(bool verified) {
  storage::VerificationRecord v;
  v.status = verified ? VerificationStatus::kVerified
                      : VerificationStatus::kUnverified;
  v.strategy = verified ? "admin" : "";
  return v;
}

}  // namespace

absl::StatusOr<IdentifierView> IdentifierService::CreateIdentifier(
    const Caller& caller, IdentifierType type,
    const CreateIdentifierParams& params) {
  auto create = [&](auto tag) -> absl::StatusOr<IdentifierView> {
    using Record = decltype(tag);
    using K = Kind<Record>;
    auto value = K::Normalize(params.value);
    if (!value.ok()) {
      return Invalid(K::kField, value.status().message());
    }
    if (params.primary && !params.verified) {
      return MustBeVerified("primary", "requires a verified identifier");
    }
    const storage::Micros now = ToMicros(clock_->Now());
    Record record;
    record.id = ids_->New(kIdentifierIdPrefix);
    record.user_id = params.user_id;
    K::Value(record) = *value;
    record.verification = Verification<Record>(params.verified);
    record.created_at = record.updated_at = now;
    if constexpr (std::is_same_v<Record, storage::PhoneNumberRecord>) {
      record.reserved_for_second_factor = params.reserved_for_second_factor;
    }
    auto user = MutateUser(
        caller, params.user_id, "",
        [&](storage::WriteTransaction& txn, storage::UserRecord& u) {
          auto holder = txn.FindUserIdByIdentifier(K::kStoreKind, *value);
          if (!holder.ok()) {
            return holder.status();
          }
          // A verified holder owns the value; an unverified claim by another
          // user does not block this one (the first to verify wins).
          auto& existing = K::List(u);
          const bool mine = std::any_of(
              existing.begin(), existing.end(),
              [&](const Record& r) { return K::Value(r) == *value; });
          if (holder->has_value() || mine) {
            return Error(absl::StatusCode::kAlreadyExists,
                         reason::kIdentifierExists,
                         absl::StrCat(K::kField, " is already taken"),
                         {{K::kField, "is already taken"}});
          }
          auto& list = K::List(u);
          if (list.size() >= kMaxIdentifiersPerUser) {
            return Invalid(K::kField, "the user has too many already");
          }
          // Keep oldest-first order even within one microsecond.
          if (!list.empty() && list.back().created_at >= record.created_at) {
            record.created_at = record.updated_at = list.back().created_at + 1;
          }
          list.push_back(record);
          if (params.primary || (K::Primary(u).empty() && params.verified)) {
            K::Primary(u) = record.id;
          }
          return absl::OkStatus();
        });
    if (!user.ok()) {
      return user.status();
    }
    return IdentifierView{*std::move(user), record.id};
  };
  return type == IdentifierType::kEmailAddress
             ? create(storage::EmailAddressRecord{})
             : create(storage::PhoneNumberRecord{});
}

absl::StatusOr<IdentifierView> IdentifierService::GetIdentifier(
    IdentifierType type, absl::string_view id) {
  if (!IsWellFormedId(id, kIdentifierIdPrefix)) {
    return Invalid(type == IdentifierType::kEmailAddress ? "email_address_id"
                                                         : "phone_number_id",
                   "must be an identifier id (idn_…)");
  }
  auto owner = store_->GetIdentifierOwner(id);
  if (!owner.ok()) {
    return absl::IsNotFound(owner.status()) ? IdentifierNotFound()
                                            : owner.status();
  }
  auto user = ReadUser(*owner);
  if (!user.ok()) {
    return user.status();
  }
  const bool found =
      type == IdentifierType::kEmailAddress
          ? Find<storage::EmailAddressRecord>(user->record, id) != nullptr
          : Find<storage::PhoneNumberRecord>(user->record, id) != nullptr;
  if (!found) {
    return IdentifierNotFound();  // An id of the other kind.
  }
  return IdentifierView{*std::move(user), std::string(id)};
}

absl::StatusOr<IdentifierView> IdentifierService::UpdateIdentifier(
    const Caller& caller, IdentifierType type,
    const UpdateIdentifierParams& params) {
  auto current = GetIdentifier(type, params.identifier_id);
  if (!current.ok()) {
    return current.status();
  }
  if (params.primary.has_value() && !*params.primary) {
    return Invalid("primary",
                   "can only be set to true: make another identifier primary");
  }
  auto update = [&](auto tag) -> absl::StatusOr<IdentifierView> {
    using Record = decltype(tag);
    using K = Kind<Record>;
    auto user = MutateUser(
        caller, current->user.record.id, "",
        [&](storage::WriteTransaction&,
            storage::UserRecord& u) -> absl::Status {
          Record* record = Find<Record>(u, params.identifier_id);
          if (record == nullptr) {
            return IdentifierNotFound();
          }
          const bool is_primary = K::Primary(u) == record->id;
          if (params.verified.has_value() &&
              *params.verified != (record->verification.status ==
                                   VerificationStatus::kVerified)) {
            if (!*params.verified && is_primary) {
              return MustBeVerified(
                  "verified",
                  "cannot be cleared on the primary: make another one primary");
            }
            record->verification = Verification<Record>(*params.verified);
            record->updated_at = ToMicros(clock_->Now());
            if (*params.verified && K::Primary(u).empty()) {
              K::Primary(u) =
                  record->id;  // The first verified one becomes primary.
            }
          }
          if (params.primary.has_value()) {
            if (record->verification.status != VerificationStatus::kVerified) {
              return MustBeVerified("primary",
                                    "requires a verified identifier");
            }
            K::Primary(u) = record->id;
          }
          if constexpr (std::is_same_v<Record, storage::PhoneNumberRecord>) {
            if (params.reserved_for_second_factor.has_value()) {
              record->reserved_for_second_factor =
                  *params.reserved_for_second_factor;
            }
          }
          return absl::OkStatus();
        });
    if (!user.ok()) {
      return user.status();
    }
    return IdentifierView{*std::move(user), params.identifier_id};
  };
  return type == IdentifierType::kEmailAddress
             ? update(storage::EmailAddressRecord{})
             : update(storage::PhoneNumberRecord{});
}

absl::StatusOr<UserView> IdentifierService::DeleteIdentifier(
    const Caller& caller, IdentifierType type, absl::string_view id,
    absl::string_view promote_id, absl::string_view owner_user_id) {
  auto current = GetIdentifier(type, id);
  if (!current.ok()) {
    return current.status();
  }
  // Identifier ids never move between users, so checking the owner before
  // the transaction is as good as inside it.
  if (!owner_user_id.empty() && current->user.record.id != owner_user_id) {
    return IdentifierNotFound();
  }
  auto remove = [&](auto tag) -> absl::StatusOr<UserView> {
    using Record = decltype(tag);
    using K = Kind<Record>;
    return MutateUser(
        caller, current->user.record.id, "",
        [&](storage::WriteTransaction&,
            storage::UserRecord& u) -> absl::Status {
          const int ways_before = internal::WaysIn(u);
          auto& list = K::List(u);
          auto it = std::find_if(list.begin(), list.end(),
                                 [&](const Record& r) { return r.id == id; });
          if (it == list.end()) {
            return IdentifierNotFound();
          }
          const bool was_primary = K::Primary(u) == it->id;
          list.erase(it);
          if (was_primary) {
            K::Primary(u).clear();
            for (auto& r : list) {  // Oldest first.
              const bool verified =
                  r.verification.status == VerificationStatus::kVerified;
              if (verified && (promote_id.empty() || r.id == promote_id)) {
                K::Primary(u) = r.id;
                break;
              }
            }
            if (!promote_id.empty() && K::Primary(u) != promote_id) {
              return MustBeVerified(
                  "promote_id",
                  "must be another verified identifier of this user");
            }
          }
          if (ways_before > 0 && internal::WaysIn(u) == 0) {
            return Error(absl::StatusCode::kFailedPrecondition,
                         reason::kLastIdentifier,
                         "the user would have no way left to sign in",
                         {{K::kIdField, "is the user's last way to sign in"}});
          }
          return absl::OkStatus();
        });
  };
  return type == IdentifierType::kEmailAddress
             ? remove(storage::EmailAddressRecord{})
             : remove(storage::PhoneNumberRecord{});
}

absl::StatusOr<std::optional<std::string>>
IdentifierService::FindUserIdByIdentifier(storage::IdentifierKind kind,
                                          absl::string_view value) {
  auto holder = store_->FindUserIdByIdentifier(kind, value);
  if (!holder.ok()) {
    return internal::FromStore(holder.status());
  }
  return holder;
}

}  // namespace roster::domain

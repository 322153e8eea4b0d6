#include "server/domain/user_service.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/metadata.h"
#include "server/domain/passwords.h"
#include "server/domain/session_service.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_query.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

using internal::CheckDigest;
using internal::CheckLocale;
using internal::CheckPastTime;
using internal::CheckText;
using internal::CheckUnique;
using internal::CheckUserId;
using internal::CheckUsername;
using internal::FromStore;
using internal::IdentifiersOf;
using internal::LoadForChange;

}  // namespace

absl::StatusOr<UserView> UserService::GetUser(absl::string_view user_id) {
  return ReadUser(user_id);
}

absl::StatusOr<UserService::ListQuery> UserService::CheckListUsers(
    const ListUsersParams& params) {
  Violations violations;
  ListQuery list;
  storage::UserPageQuery& query = list.query;
  query.filter = params.filter;
  NormalizeUserFilter(query.filter, violations);
  auto order = ParseOrderBy(params.order_by);
  if (order.ok()) {
    query.order = *order;
  } else {
    violations.Add("order_by", std::string(order.status().message()));
  }
  if (params.limit < 0 || params.limit > kMaxPageSize) {
    violations.Add("limit", absl::StrCat("must be 1-", kMaxPageSize,
                                         " (0 means ", kDefaultPageSize, ")"));
  }
  query.limit = params.limit == 0 ? kDefaultPageSize : params.limit;
  if (params.offset < 0 || params.offset > kMaxOffset) {
    violations.Add("offset", absl::StrCat("must be 0-", kMaxOffset));
  }
  query.offset = params.offset;
  // Only a page token needs it, and most lookups have none either way.
  if (!params.page_token.empty()) {
    list.fingerprint = QueryFingerprint(query.filter, query.order);
    if (params.offset != 0) {
      violations.Add("page_token", "cannot be combined with offset");
    } else if (order.ok()) {
      auto cursor =
          DecodePageToken(params.page_token, list.fingerprint, query.order);
      if (cursor.ok()) {
        query.after = *std::move(cursor);
      } else {
        violations.Add("page_token", std::string(cursor.status().message()));
      }
    }
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return list;
}

absl::StatusOr<UserListPage> UserService::ListPageOf(
    const ListQuery& list, absl::StatusOr<storage::UserPage> page) const {
  if (!page.ok()) {
    return FromStore(page.status());
  }
  UserListPage result;
  result.total_count = page->total_count;
  result.users.reserve(page->users.size());
  for (auto& user : page->users) {
    result.users.push_back(View(std::move(user)));
  }
  if (page->next.has_value()) {
    const storage::UserPageQuery& query = list.query;
    result.next_page_token = EncodePageToken(
        list.fingerprint.empty() ? QueryFingerprint(query.filter, query.order)
                                 : list.fingerprint,
        query.order, *page->next);
  }
  return result;
}

absl::StatusOr<UserListPage> UserService::ListUsers(
    const ListUsersParams& params) {
  auto list = CheckListUsers(params);
  if (!list.ok()) {
    return list.status();
  }
  return ListPageOf(*list, store_->ListUsers(list->query));
}

void UserService::ListUsersAsync(const ListUsersParams& params,
                                 ListUsersDone done) {
  auto list = CheckListUsers(params);
  if (!list.ok()) {
    std::move(done)(list.status());
    return;
  }
  // A copy: the callback below takes `list` before the store reads it.
  const storage::UserPageQuery query = list->query;
  store_->ListUsersAsync(
      query, [this, list = *std::move(list), done = std::move(done)](
                 absl::StatusOr<storage::UserPage> page) mutable {
        std::move(done)(ListPageOf(list, std::move(page)));
      });
}

absl::StatusOr<int64_t> UserService::CountUsers(
    const storage::UserFilter& filter) {
  Violations violations;
  storage::UserFilter normalized = filter;
  NormalizeUserFilter(normalized, violations);
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  auto count = store_->CountUsers(normalized);
  if (!count.ok()) {
    return FromStore(count.status());
  }
  return *count;
}

absl::StatusOr<UserView> UserService::UpdateUser(
    const Caller& caller, const UpdateUserParams& params) {
  Violations violations;
  CheckText("external_id", params.external_id, kMaxExternalIdBytes, violations);
  CheckText("first_name", params.first_name, kMaxNameBytes, violations);
  CheckText("last_name", params.last_name, kMaxNameBytes, violations);
  const auto imported =
      CheckDigest(params.password_digest, params.password_hasher,
                  params.password.has_value(), violations);
  const auto username = CheckUsername(params.username, violations);
  const auto locale = CheckLocale(params.locale, violations);
  const auto legal_accepted_at = CheckPastTime(
      "legal_accepted_at", params.legal_accepted_at, clock_->Now(), violations);
  if (params.primary_email_address_id.has_value() &&
      !IsWellFormedId(*params.primary_email_address_id, kIdentifierIdPrefix)) {
    violations.Add("primary_email_address_id",
                   "must be an email address id (idn_…)");
  }
  if (params.primary_phone_number_id.has_value() &&
      !IsWellFormedId(*params.primary_phone_number_id, kIdentifierIdPrefix)) {
    violations.Add("primary_phone_number_id",
                   "must be a phone number id (idn_…)");
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return MutateUser(
      caller, params.user_id, params.etag,
      [&](storage::WriteTransaction& txn, storage::UserRecord& user) {
        Violations clashes;
        if (params.external_id.has_value() && !params.external_id->empty()) {
          auto s =
              CheckUnique(txn, storage::IdentifierKind::kExternalId,
                          *params.external_id, user.id, "external_id", clashes);
          if (!s.ok()) {
            return s;
          }
        }
        if (username.has_value() && !username->empty()) {
          auto s = CheckUnique(txn, storage::IdentifierKind::kUsername,
                               *username, user.id, "username", clashes);
          if (!s.ok()) {
            return s;
          }
        }
        if (!clashes.empty()) {
          return clashes.ToStatus(absl::StatusCode::kAlreadyExists);
        }
        Violations not_primary;
        if (params.primary_email_address_id.has_value()) {
          bool ok = false;
          for (const auto& e : user.email_addresses) {
            ok = ok || (e.id == *params.primary_email_address_id &&
                        e.verification.status ==
                            storage::VerificationStatus::kVerified);
          }
          if (!ok) {
            not_primary.Add("primary_email_address_id",
                            "must be a verified email address of this user",
                            reason::kPrimaryMustBeVerified);
          }
        }
        if (params.primary_phone_number_id.has_value()) {
          bool ok = false;
          for (const auto& p : user.phone_numbers) {
            ok = ok || (p.id == *params.primary_phone_number_id &&
                        p.verification.status ==
                            storage::VerificationStatus::kVerified);
          }
          if (!ok) {
            not_primary.Add("primary_phone_number_id",
                            "must be a verified phone number of this user",
                            reason::kPrimaryMustBeVerified);
          }
        }
        if (!not_primary.empty()) {
          return not_primary.ToStatus(absl::StatusCode::kFailedPrecondition);
        }
        if (params.external_id.has_value()) {
          user.external_id = *params.external_id;
        }
        if (username.has_value()) {
          user.username = *username;
        }
        if (params.first_name.has_value()) {
          user.first_name = *params.first_name;
        }
        if (params.last_name.has_value()) {
          user.last_name = *params.last_name;
        }
        if (params.primary_email_address_id.has_value()) {
          user.primary_email_address_id = *params.primary_email_address_id;
        }
        if (params.primary_phone_number_id.has_value()) {
          user.primary_phone_number_id = *params.primary_phone_number_id;
        }
        if (params.delete_self_enabled.has_value()) {
          user.delete_self_enabled = *params.delete_self_enabled;
        }
        if (locale.has_value()) {
          user.locale = *locale;
        }
        if (legal_accepted_at.has_value()) {
          user.legal_accepted_at = *legal_accepted_at;
        }
        if (params.sign_out_of_other_sessions) {
          absl::Status revoked =
              RevokeSessions(txn, caller, user.id, params.keep_session_id,
                             clock_->Now(), *ids_, *events_);
          if (!revoked.ok()) {
            return revoked;
          }
        }
        if (imported.has_value()) {
          user.password_hash = *imported;
        }
        if (params.password.has_value()) {
          if (!params.password_hash.empty()) {
            user.password_hash = params.password_hash;
          } else {
            // Direct callers (tests) may leave hashing to us; the API never
            // does, since it would hold up the write thread.
            absl::Status ok =
                CheckNewPassword(*params.password, params.skip_password_checks,
                                 IdentifiersOf(user));
            if (!ok.ok()) {
              return ok;
            }
            auto hashed = HashPassword(*params.password);
            if (!hashed.ok()) {
              return hashed.status();
            }
            user.password_hash = *std::move(hashed);
          }
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<UserView> UserService::ChangeMetadata(
    const Caller& caller, absl::string_view user_id,
    const MetadataChange& change, MetadataMode mode, absl::string_view etag) {
  // Validate the input as objects and bound its size first; the tier's own
  // limit applies again after the merge.
  Violations violations;
  struct Tier {
    const char* field;
    const std::optional<std::string>* input;
    std::string storage::UserRecord::*column;
    std::optional<std::string> json;
  };
  Tier tiers[] = {
      {"public_metadata",
       &change.public_metadata,
       &storage::UserRecord::public_metadata,
       {}},
      {"private_metadata",
       &change.private_metadata,
       &storage::UserRecord::private_metadata,
       {}},
      {"unsafe_metadata",
       &change.unsafe_metadata,
       &storage::UserRecord::unsafe_metadata,
       {}},
  };
  bool any = false;
  for (auto& tier : tiers) {
    if (!tier.input->has_value()) {
      continue;
    }
    any = true;
    auto compact = CompactJsonObject(**tier.input);
    if (!compact.ok()) {
      violations.Add(tier.field, std::string(compact.status().message()));
      continue;
    }
    // Bounded before the writer sees it: a patch of nulls merges to almost
    // nothing, yet would cost its whole size on the single writer.
    const size_t limit =
        mode == MetadataMode::kMerge ? kMaxMergePatchBytes : kMaxMetadataBytes;
    if (compact->size() > limit) {
      violations.Add(
          tier.field,
          absl::StrCat(
              mode == MetadataMode::kMerge ? "a merge patch" : "a tier",
              " is at most ", limit, " bytes of compact JSON; this is ",
              compact->size()),
          reason::kMetadataTooLarge);
      continue;
    }
    tier.json = *std::move(compact);
  }
  if (!any) {
    violations.Add("public_metadata",
                   "supply at least one of public_metadata, private_metadata, "
                   "unsafe_metadata");
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  return MutateUser(
      caller, user_id, etag,
      [&](storage::WriteTransaction&, storage::UserRecord& user) {
        Violations too_large;
        for (const auto& tier : tiers) {
          if (!tier.json.has_value()) {
            continue;
          }
          std::string next = *tier.json;
          if (mode == MetadataMode::kMerge) {
            auto merged = ApplyMergePatch(user.*tier.column, *tier.json);
            if (!merged.ok()) {
              return merged.status();
            }
            next = *std::move(merged);
          }
          if (next.size() > kMaxMetadataBytes) {
            too_large.Add(tier.field,
                          absl::StrCat("would be ", next.size(),
                                       " bytes of compact JSON; at most ",
                                       kMaxMetadataBytes),
                          reason::kMetadataTooLarge);
            continue;
          }
          user.*tier.column = std::move(next);
        }
        return too_large.ToStatus();
      });
}

absl::StatusOr<UserView> UserService::RemovePassword(
    const Caller& caller, absl::string_view user_id) {
  return MutateUser(caller, user_id, "",
                    [&](storage::WriteTransaction&, storage::UserRecord& user) {
                      // Without the password a username no longer signs in;
                      // whatever is left must.
                      user.password_hash.clear();
                      if (internal::WaysIn(user) == 0) {
                        return Error(
                            absl::StatusCode::kFailedPrecondition,
                            reason::kLastIdentifier,
                            "the user would have no way left to sign in");
                      }
                      return absl::OkStatus();
                    });
}

absl::StatusOr<DeletedUser> UserService::DeleteUser(const Caller& caller,
                                                    absl::string_view user_id,
                                                    absl::string_view etag,
                                                    bool self_service) {
  absl::Status valid = CheckUserId(user_id);
  if (!valid.ok()) {
    return valid;
  }
  DeletedUser deleted;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto user = LoadForChange(txn, user_id, etag);
        if (!user.ok()) {
          return user.status();
        }
        if (self_service && !user->delete_self_enabled) {
          return Error(absl::StatusCode::kPermissionDenied,
                       reason::kDeleteSelfDisabled,
                       "deleting one's own account is disabled for this user");
        }
        deleted = {user->id, user->external_id};
        return txn.DeleteUser(
            user_id, NewEvent(caller, event_type::kUserDeleted, user->id,
                              events_->EncodeDeletedUser(deleted)));
      });
  if (!written.ok()) {
    return FromStore(written);
  }
  return deleted;
}

absl::StatusOr<UserView> UserService::SetBanned(const Caller& caller,
                                                absl::string_view user_id,
                                                bool banned,
                                                absl::string_view etag) {
  return MutateUser(
      caller, user_id, etag,
      [&](storage::WriteTransaction& txn, storage::UserRecord& user) {
        user.banned = banned;
        if (!banned) {
          return absl::OkStatus();
        }
        return RevokeSessions(txn, caller, user.id, "", clock_->Now(), *ids_,
                              *events_);
      });
}

absl::StatusOr<UserView> UserService::LockUser(const Caller& caller,
                                               absl::string_view user_id,
                                               absl::string_view etag) {
  const storage::Micros until =
      ToMicros(clock_->Now() + options_.lockout_duration);
  return MutateUser(caller, user_id, etag,
                    [&](storage::WriteTransaction&, storage::UserRecord& user) {
                      user.locked_until = until;
                      user.failed_password_attempts =
                          std::max(user.failed_password_attempts,
                                   options_.lockout_attempts);
                      return absl::OkStatus();
                    });
}

absl::StatusOr<UserView> UserService::UnlockUser(const Caller& caller,
                                                 absl::string_view user_id,
                                                 absl::string_view etag) {
  return MutateUser(caller, user_id, etag,
                    [&](storage::WriteTransaction&, storage::UserRecord& user) {
                      user.locked_until = 0;
                      user.failed_password_attempts = 0;
                      return absl::OkStatus();
                    });
}

}  // namespace roster::domain

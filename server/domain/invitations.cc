#include "server/domain/invitations.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/domain/errors.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_query.h"
#include "server/domain/validation.h"

namespace roster::domain {
namespace {

using storage::InvitationRecord;
using storage::InvitationStatus;

constexpr size_t kMaxRedirectUrlBytes = 2048;
constexpr int32_t kDefaultExpiresInDays = 30;
constexpr int32_t kMaxExpiresInDays = 365;

// Tickets carry 256 random bits; only their digest is stored.
constexpr char kTicketPrefix[] = "tkt_";
constexpr int kInvitationTicketLength = 43;

absl::Status InvitationTicketInvalid() {
  return Error(absl::StatusCode::kUnauthenticated, reason::kTicketInvalid,
               "the ticket is not valid");
}

// Whether `url` is an absolute http(s) URL of printable ASCII with a host.
bool IsRedirectUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "https://") &&
      !absl::ConsumePrefix(&rest, "http://")) {
    return false;
  }
  if (rest.empty() || rest.front() == '/') {
    return false;
  }
  for (char ch : url) {
    if (ch <= ' ' || ch > '~') {
      return false;
    }
  }
  return true;
}

// Where an invitation's link leads: `redirect_url` (the app's own page), else
// the account portal's sign-up page on `public_http_url` (as Clerk's link
// leads to its Account Portal), with `ticket=<ticket>` added to the query,
// before any fragment; empty when there is neither.
std::string InvitationUrl(absl::string_view redirect_url,
                          absl::string_view public_http_url,
                          absl::string_view ticket) {
  std::string target(redirect_url);
  if (target.empty() && !public_http_url.empty()) {
    absl::ConsumeSuffix(&public_http_url, "/");
    target = absl::StrCat(public_http_url, "/sign-up");
  }
  if (target.empty()) {
    return "";
  }
  const size_t hash = target.find('#');
  const absl::string_view base = absl::string_view(target).substr(0, hash);
  const absl::string_view fragment =
      hash == std::string::npos ? absl::string_view()
                                : absl::string_view(target).substr(hash);
  return absl::StrCat(base, absl::StrContains(base, '?') ? "&" : "?",
                      "ticket=", ticket, fragment);
}

// The page token of `params`' filter at `offset`: the filter's fingerprint
// binds it, so a token from another filter is refused.
std::string FilterFingerprint(const ListInvitationsParams& params) {
  return Fingerprint(absl::StrCat(
      params.state.has_value() ? static_cast<int>(*params.state) + 1 : 0, "|",
      absl::AsciiStrToLower(params.query)));
}

}  // namespace

InvitationState StateOf(const InvitationRecord& invitation, absl::Time now) {
  switch (invitation.status) {
    case InvitationStatus::kAccepted:
      return InvitationState::kAccepted;
    case InvitationStatus::kRevoked:
      return InvitationState::kRevoked;
    case InvitationStatus::kPending:
      break;
  }
  return ToMicros(now) >= invitation.expire_at ? InvitationState::kExpired
                                               : InvitationState::kPending;
}

absl::StatusOr<InvitationRecord> RedeemableInvitation(
    storage::WriteTransaction& txn, absl::string_view ticket, absl::Time now) {
  if (!absl::StartsWith(ticket, kTicketPrefix) || ticket.size() > 256) {
    return InvitationTicketInvalid();
  }
  auto found = txn.FindInvitationByTicket(Fingerprint(ticket));
  if (!found.ok()) {
    return found.status();
  }
  if (!found->has_value() ||
      StateOf(**found, now) != InvitationState::kPending) {
    return InvitationTicketInvalid();
  }
  return **found;
}

InvitationService::InvitationService(storage::UserStore* store,
                                     const Clock* clock, const IdGenerator* ids,
                                     RandomSource* random,
                                     const EventEncoder* events,
                                     UserServiceOptions options)
    : UserOperations(store, clock, ids, events, std::move(options)),
      random_(random) {}

absl::StatusOr<NewInvitation> InvitationService::Create(
    const Caller& caller, const CreateInvitationParams& params) {
  Violations violations;
  std::string email;
  if (params.email_address.empty()) {
    violations.Add("email_address", "is required");
  } else if (auto normalized = NormalizeEmailAddress(params.email_address);
             !normalized.ok()) {
    violations.Add("email_address", std::string(normalized.status().message()));
  } else {
    email = *std::move(normalized);
  }
  const auto metadata = internal::CheckMetadata(
      "public_metadata", params.public_metadata, violations);
  if (!params.redirect_url.empty() &&
      (params.redirect_url.size() > kMaxRedirectUrlBytes ||
       !IsRedirectUrl(params.redirect_url))) {
    violations.Add("redirect_url",
                   absl::StrCat("must be an absolute http(s) URL of at most ",
                                kMaxRedirectUrlBytes, " bytes"));
  }
  const int32_t days = params.expires_in_days.value_or(kDefaultExpiresInDays);
  if (days < 1 || days > kMaxExpiresInDays) {
    violations.Add("expires_in_days",
                   absl::StrCat("must be 1-", kMaxExpiresInDays));
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  const absl::Time now = clock_->Now();
  NewInvitation created;
  created.ticket = NewSecret(*random_, kTicketPrefix, kInvitationTicketLength);
  InvitationRecord& r = created.record;
  r.id = ids_->New(kInvitationIdPrefix);
  r.email_address = email;
  r.status = InvitationStatus::kPending;
  r.public_metadata = metadata.value_or("{}");
  r.redirect_url = params.redirect_url;
  r.ticket_digest = Fingerprint(created.ticket);
  r.created_at = r.updated_at = ToMicros(now);
  r.expire_at = ToMicros(now + absl::Hours(24) * days);
  created.url =
      InvitationUrl(r.redirect_url, options_.public_http_url, created.ticket);
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        Violations clashes;
        absl::Status unique =
            internal::CheckUnique(txn, storage::IdentifierKind::kEmailAddress,
                                  email, "", "email_address", clashes);
        if (!unique.ok()) {
          return unique;
        }
        auto pending = txn.FindPendingInvitations(email);
        if (!pending.ok()) {
          return pending.status();
        }
        for (const InvitationRecord& other : *pending) {
          if (StateOf(other, now) == InvitationState::kPending) {
            clashes.Add("email_address",
                        "has a pending invitation; revoke it first",
                        reason::kIdentifierExists);
            break;
          }
        }
        if (!clashes.empty()) {
          return clashes.ToStatus(absl::StatusCode::kAlreadyExists);
        }
        if (params.notify) {
          VerificationMessage message;
          message.address = email;
          message.expire_at = r.expire_at;
          message.purpose = "invitation";
          message.invitation_id = r.id;
          message.url = created.url;
          message.ticket = created.ticket;
          absl::Status appended =
              txn.AppendEvent(NewEvent(caller, event_type::kEmailCreated, "",
                                       events_->EncodeEmailMessage(message)));
          if (!appended.ok()) {
            return appended;
          }
        }
        return txn.PutInvitation(r);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return created;
}

absl::StatusOr<InvitationPage> InvitationService::List(
    const ListInvitationsParams& params) {
  Violations violations;
  if (params.limit < 0 || params.limit > kMaxPageSize) {
    violations.Add("limit", absl::StrCat("must be 1-", kMaxPageSize,
                                         " (0 means ", kDefaultPageSize, ")"));
  }
  if (params.offset < 0 || params.offset > kMaxOffset) {
    violations.Add("offset", absl::StrCat("must be 0-", kMaxOffset));
  }
  if (params.query.size() > 256) {
    violations.Add("query", "must be at most 256 bytes");
  }
  const std::string fingerprint = FilterFingerprint(params);
  int64_t start = params.offset;
  if (!params.page_token.empty()) {
    std::string raw;
    std::vector<std::string> parts;
    if (params.offset != 0) {
      violations.Add("page_token", "cannot be combined with offset");
    } else if (!absl::WebSafeBase64Unescape(params.page_token, &raw) ||
               (parts = absl::StrSplit(raw, '|')).size() != 3 ||
               parts[0] != "i1" || parts[1] != fingerprint ||
               !absl::SimpleAtoi(parts[2], &start) || start < 0 ||
               start > kMaxOffset) {
      violations.Add("page_token",
                     "is not a page token for these invitation filters");
    }
  }
  if (!violations.empty()) {
    return violations.ToStatus();
  }
  storage::InvitationQuery query;
  query.now = ToMicros(clock_->Now());
  if (params.state.has_value()) {
    switch (*params.state) {
      case InvitationState::kPending:
        query.status = static_cast<int>(InvitationStatus::kPending);
        break;
      case InvitationState::kAccepted:
        query.status = static_cast<int>(InvitationStatus::kAccepted);
        break;
      case InvitationState::kRevoked:
        query.status = static_cast<int>(InvitationStatus::kRevoked);
        break;
      case InvitationState::kExpired:
        query.expired = true;
        break;
    }
  }
  query.email_contains = absl::AsciiStrToLower(params.query);
  query.limit = params.limit == 0 ? kDefaultPageSize : params.limit;
  query.offset = start;
  auto stored = store_->ListInvitations(query);
  if (!stored.ok()) {
    return stored.status();
  }
  InvitationPage page;
  page.total_count = stored->total_count;
  page.invitations = std::move(stored->invitations);
  const int64_t next = start + static_cast<int64_t>(page.invitations.size());
  if (next < page.total_count &&
      static_cast<int64_t>(page.invitations.size()) == query.limit) {
    page.next_page_token =
        absl::WebSafeBase64Escape(absl::StrCat("i1|", fingerprint, "|", next));
  }
  return page;
}

absl::StatusOr<InvitationRecord> InvitationService::Revoke(
    absl::string_view invitation_id) {
  if (!IsWellFormedId(invitation_id, kInvitationIdPrefix)) {
    return Error(absl::StatusCode::kInvalidArgument,
                 reason::kInvalidArgumentFormat, "invitation_id is malformed",
                 {{"invitation_id", "must be an invitation id (inv_…)"}});
  }
  const absl::Time now = clock_->Now();
  InvitationRecord result;
  absl::Status written =
      store_->Write([&](storage::WriteTransaction& txn) -> absl::Status {
        auto invitation = txn.GetInvitation(invitation_id);
        if (absl::IsNotFound(invitation.status())) {
          return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                       "invitation not found");
        }
        if (!invitation.ok()) {
          return invitation.status();
        }
        if (StateOf(*invitation, now) != InvitationState::kPending) {
          return Error(absl::StatusCode::kFailedPrecondition,
                       reason::kAttemptState,
                       "only a pending invitation can be revoked");
        }
        invitation->status = InvitationStatus::kRevoked;
        invitation->updated_at = ToMicros(now);
        result = *invitation;
        return txn.PutInvitation(*invitation);
      });
  if (!written.ok()) {
    return internal::FromStore(written);
  }
  return result;
}

}  // namespace roster::domain

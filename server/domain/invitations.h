// InvitationService: invitations to sign up (DESIGN §10), created and revoked
// by backends. An invitation holds a ticket (a random secret kept only as a
// digest) that a sign-up presents: the sign-up then has the invited address
// verified and the invitation's public metadata, and the sign-up's completion
// marks the invitation accepted in the same transaction.
//
// Thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_INVITATIONS_H_
#define ROSTER_SERVER_DOMAIN_INVITATIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/domain/user_operations.h"

namespace roster::domain {

inline constexpr char kInvitationIdPrefix[] = "inv_";

enum class InvitationState { kPending, kAccepted, kRevoked, kExpired };

// What a client sees: a pending invitation past its expiry is expired.
InvitationState StateOf(const storage::InvitationRecord& invitation,
                        absl::Time now);

struct CreateInvitationParams {
  std::string email_address;
  std::optional<std::string> public_metadata;  // JSON object text.
  std::string redirect_url;
  std::optional<int32_t> expires_in_days;
  bool notify = true;
};

// An invitation as created: the record, and the ticket and link that exist
// only now.
struct NewInvitation {
  storage::InvitationRecord record;
  std::string ticket;
  std::string url;
};

struct ListInvitationsParams {
  std::optional<InvitationState> state;  // Unset: any.
  std::string query;
  int32_t limit = 0;
  int32_t offset = 0;
  std::string page_token;
};

struct InvitationPage {
  std::vector<storage::InvitationRecord> invitations;
  int64_t total_count = 0;
  std::string next_page_token;
};

// The invitation whose ticket is `ticket`, read in `txn`, if it is pending
// and unexpired at `now`; UNAUTHENTICATED (TICKET_INVALID) otherwise, the same
// for every cause.
absl::StatusOr<storage::InvitationRecord> RedeemableInvitation(
    storage::WriteTransaction& txn, absl::string_view ticket, absl::Time now);

class InvitationService final : public UserOperations {
 public:
  // None is owned; all must outlive the service.
  InvitationService(storage::UserStore* store, const Clock* clock,
                    const IdGenerator* ids, RandomSource* random,
                    const EventEncoder* events, UserServiceOptions options);

  // INVALID_ARGUMENT per field; ALREADY_EXISTS (IDENTIFIER_EXISTS) when a
  // user holds the address verified or a pending invitation to it exists.
  absl::StatusOr<NewInvitation> Create(const Caller& caller,
                                       const CreateInvitationParams& params);
  // Newest first; paging as ListUsers'.
  absl::StatusOr<InvitationPage> List(const ListInvitationsParams& params);
  // NOT_FOUND; FAILED_PRECONDITION (ATTEMPT_STATE) unless pending.
  absl::StatusOr<storage::InvitationRecord> Revoke(
      absl::string_view invitation_id);

 private:
  RandomSource* random_;  // Not owned.
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_INVITATIONS_H_

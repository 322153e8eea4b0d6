// Change events (DESIGN §6): their types, who caused a change, and the encoder
// that turns a domain value into an event payload. The domain stays free of
// protobuf: the API layer supplies an encoder, storage keeps the bytes, and the
// API decodes them when it streams events.
#ifndef ROSTER_SERVER_DOMAIN_EVENTS_H_
#define ROSTER_SERVER_DOMAIN_EVENTS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "server/domain/user_view.h"

namespace roster::domain {

namespace event_type {
inline constexpr char kUserCreated[] = "user.created";
inline constexpr char kUserUpdated[] = "user.updated";
inline constexpr char kUserDeleted[] = "user.deleted";
inline constexpr char kEmailCreated[] = "email.created";
inline constexpr char kSmsCreated[] = "sms.created";
inline constexpr char kSessionCreated[] = "session.created";
inline constexpr char kSessionRevoked[] = "session.revoked";
}  // namespace event_type

inline constexpr char kEventIdPrefix[] = "evt_";

// Whether `type` is one of event_type's.
bool IsKnownEventType(absl::string_view type);

// Who made a change and under which request id; recorded on its event.
struct Caller {
  std::string actor;       // `secret_key:<8 hex>` or UserActor(id).
  std::string request_id;  // Empty when the call had none.
};

// The actor of a signed-in user's own calls: `user:<id>`.
std::string UserActor(absl::string_view user_id);

// A one-time code for a mail or SMS service to deliver (email.created,
// sms.created).
struct VerificationMessage {
  std::string identifier_id;  // idn_…; empty for a sign-up's address.
  std::string address;        // The email address or E.164 number.
  std::string user_id;        // Empty for a sign-up.
  std::string code;
  storage::Micros expire_at = 0;
  std::string purpose;  // DESIGN §13: verify_email_address, sign_up, …
  std::string sign_up_id;
  std::string sign_in_attempt_id;
  std::string invitation_id;  // For purpose invitation, with its link and
  std::string url;            // ticket (no code).
  std::string ticket;
};

// Encodes event payloads, and decodes the code messages that roster-server
// delivers itself (DESIGN §13). Implementations are thread-safe.
class EventEncoder {
 public:
  virtual ~EventEncoder() = default;
  // The payload of user.created / user.updated.
  virtual std::string EncodeUser(const UserView& user) const = 0;
  // The payload of user.deleted.
  virtual std::string EncodeDeletedUser(const DeletedUser& deleted) const = 0;
  // The payload of session.created / session.revoked.
  virtual std::string EncodeSession(
      const storage::SessionRecord& session) const = 0;
  // The payload of email.created / sms.created.
  virtual std::string EncodeEmailMessage(
      const VerificationMessage& message) const = 0;
  virtual std::string EncodeSmsMessage(
      const VerificationMessage& message) const = 0;
  // The message an email.created / sms.created payload holds; nullopt for
  // another type or bytes that do not parse.
  virtual std::optional<VerificationMessage> DecodeMessage(
      absl::string_view type, absl::string_view payload) const = 0;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_EVENTS_H_

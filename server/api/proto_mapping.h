// Conversions between roster.v1 messages and domain values. No rules live here
// beyond what a type conversion needs (an invalid Timestamp or a non-JSON
// number is reported as a field violation, since the domain never sees the
// proto).
#ifndef ROSTER_SERVER_API_PROTO_MAPPING_H_
#define ROSTER_SERVER_API_PROTO_MAPPING_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "roster/v1/backend_users.pb.h"
#include "roster/v1/frontend_users.pb.h"
#include "roster/v1/resources.pb.h"
#include "server/api/struct_json.h"
#include "server/domain/errors.h"
#include "server/domain/events.h"
#include "server/domain/session_service.h"
#include "server/domain/tokens.h"
#include "server/domain/user_service.h"

namespace roster::api {

// Encodes event payloads as serialized roster.v1 messages (User,
// DeletedObject). Thread-safe.
class ProtoEventEncoder final : public domain::EventEncoder {
 public:
  std::string EncodeUser(const domain::UserView& user) const override;
  std::string EncodeDeletedUser(
      const domain::DeletedUser& deleted) const override;
  std::string EncodeSession(
      const storage::SessionRecord& session) const override;
  std::string EncodeEmailMessage(
      const domain::VerificationMessage& message) const override;
  std::string EncodeSmsMessage(
      const domain::VerificationMessage& message) const override;
  std::optional<domain::VerificationMessage> DecodeMessage(
      absl::string_view type, absl::string_view payload) const override;
};

// A stored event as the API sends it, its payload decoded by type.
void ToProto(const storage::EventRecord& event, roster::v1::Event& out);

// The backend view of a user, every field.
void ToProto(const domain::UserView& view, roster::v1::User& out);
// The user's own view: no private metadata.
void ToProto(const domain::UserView& view, roster::v1::FrontendUser& out);
// A session with its status as of `now` (an expired one reads EXPIRED).
void ToProto(const storage::SessionRecord& session, absl::Time now,
             roster::v1::Session& out);
// A page of sessions as a ListSessionsResponse or ListMySessionsResponse.
template <typename Response>
void ToProto(const domain::SessionPage& page, absl::Time now, Response& out) {
  for (const auto& session : page.sessions) {
    ToProto(session, now, *out.add_sessions());
  }
  out.set_next_page_token(page.next_page_token);
}
// The verification keys as an RFC 7517 JWK Set.
void ToProto(const domain::TokenVerifier& verifier, roster::v1::Jwks& out);
void ToProto(const domain::DeletedUser& deleted,
             roster::v1::DeletedObject& out);

absl::StatusOr<domain::CreateUserParams> FromProto(
    const roster::v1::CreateUserRequest& request);
absl::StatusOr<domain::UpdateUserParams> FromProto(
    const roster::v1::UpdateUserRequest& request);
// The signed-in user's update of themselves (`user_id`, from the session).
domain::UpdateUserParams FromProto(const roster::v1::UpdateMeRequest& request,
                                   const std::string& user_id);
absl::StatusOr<domain::ListUsersParams> FromProto(
    const roster::v1::ListUsersRequest& request);
absl::StatusOr<storage::UserFilter> FromProto(
    const roster::v1::CountUsersRequest& request);

// The supplied metadata tiers of an Update/ReplaceUserMetadata request as JSON.
template <typename Request>
absl::StatusOr<domain::MetadataChange> MetadataChangeFromProto(
    const Request& request);

// A Timestamp within 0001-01-01..9999-12-31 as absl::Time; nullopt (and a
// violation) otherwise.
std::optional<absl::Time> FromProto(
    const google::protobuf::Timestamp& timestamp, const std::string& field,
    domain::Violations& violations);
void ToProto(absl::Time time, google::protobuf::Timestamp& out);
void ToProto(const storage::VerificationRecord& in,
             roster::v1::Verification& out);

// The list of `user` holding messages like `out`.
inline const auto& ListFor(const roster::v1::User& user,
                           const roster::v1::EmailAddress*) {
  return user.email_addresses();
}
inline const auto& ListFor(const roster::v1::User& user,
                           const roster::v1::PhoneNumber*) {
  return user.phone_numbers();
}
inline const auto& ListFor(const roster::v1::User& user,
                           const roster::v1::ExternalAccount*) {
  return user.external_accounts();
}

// Runs `call` (returning StatusOr<UserView>) and writes the user into
// `response`, a User or a FrontendUser.
template <typename Message, typename Call>
absl::Status RespondWithUser(Message* response, Call call) {
  absl::StatusOr<domain::UserView> view = call();
  if (!view.ok()) {
    return view.status();
  }
  ToProto(*view, *response);
  return absl::OkStatus();
}

// Copies the identifier `view.identifier_id` of `view.user` into `out`.
template <typename Message>
absl::Status RespondWithIdentifier(
    const absl::StatusOr<domain::IdentifierView>& view, Message* out) {
  if (!view.ok()) {
    return view.status();
  }
  roster::v1::User user;
  ToProto(view->user, user);
  for (const auto& item : ListFor(user, out)) {
    if (item.id() == view->identifier_id) {
      *out = item;
    }
  }
  return absl::OkStatus();
}

// The answer to a delete of `id`: `status` itself, and when it is OK a
// DeletedObject naming `id` in `out`.
absl::Status RespondWithDeleted(const absl::Status& status,
                                const std::string& id,
                                roster::v1::DeletedObject* out);

// Identifier requests as domain parameters.
domain::CreateIdentifierParams FromProto(
    const roster::v1::CreateEmailAddressRequest& request);
domain::CreateIdentifierParams FromProto(
    const roster::v1::CreatePhoneNumberRequest& request);
domain::UpdateIdentifierParams FromProto(
    const roster::v1::UpdateEmailAddressRequest& request);
domain::UpdateIdentifierParams FromProto(
    const roster::v1::UpdatePhoneNumberRequest& request);
absl::StatusOr<domain::CreateExternalAccountParams> FromProto(
    const roster::v1::CreateExternalAccountRequest& request);

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_PROTO_MAPPING_H_

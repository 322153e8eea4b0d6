// ProtoEventEncoder and the events the API sends (proto_mapping.h): event
// payloads are the serialized roster.v1 messages themselves.
#include <google/protobuf/util/time_util.h>

#include <optional>
#include <string>

#include "server/api/proto_mapping.h"  // Declares what this file defines.

namespace roster::api {

using google::protobuf::util::TimeUtil;

namespace {

// The fields EmailMessage and SmsMessage share, from `message` into `out`.
template <typename Message>
void EncodeShared(const domain::VerificationMessage& message, Message& out) {
  out.set_user_id(message.user_id);
  out.set_code(message.code);
  ToProto(domain::FromMicros(message.expire_at), *out.mutable_expire_at());
  out.set_purpose(message.purpose);
  out.set_sign_up_id(message.sign_up_id);
  out.set_sign_in_attempt_id(message.sign_in_attempt_id);
}

// The fields EmailMessage and SmsMessage share, parsed from `payload` into
// `message`; nullopt when the bytes do not parse.
template <typename Message>
std::optional<domain::VerificationMessage> DecodeShared(
    absl::string_view payload, Message& message) {
  if (!message.ParseFromArray(payload.data(),
                              static_cast<int>(payload.size()))) {
    return std::nullopt;
  }
  domain::VerificationMessage out;
  out.user_id = message.user_id();
  out.code = message.code();
  out.expire_at = TimeUtil::TimestampToMicroseconds(message.expire_at());
  out.purpose = message.purpose();
  out.sign_up_id = message.sign_up_id();
  out.sign_in_attempt_id = message.sign_in_attempt_id();
  return out;
}

}  // namespace

std::string ProtoEventEncoder::EncodeUser(const domain::UserView& user) const {
  roster::v1::User message;
  ToProto(user, message);
  return message.SerializeAsString();
}

std::string ProtoEventEncoder::EncodeSession(
    const storage::SessionRecord& session) const {
  roster::v1::Session message;
  // The event records the session as it was when it changed.
  ToProto(session, domain::FromMicros(session.updated_at), message);
  return message.SerializeAsString();
}

std::string ProtoEventEncoder::EncodeEmailMessage(
    const domain::VerificationMessage& message) const {
  roster::v1::EmailMessage out;
  EncodeShared(message, out);
  out.set_email_address_id(message.identifier_id);
  out.set_email_address(message.address);
  out.set_invitation_id(message.invitation_id);
  out.set_url(message.url);
  out.set_ticket(message.ticket);
  return out.SerializeAsString();
}

std::string ProtoEventEncoder::EncodeSmsMessage(
    const domain::VerificationMessage& message) const {
  roster::v1::SmsMessage out;
  EncodeShared(message, out);
  out.set_phone_number_id(message.identifier_id);
  out.set_phone_number(message.address);
  return out.SerializeAsString();
}

std::optional<domain::VerificationMessage> ProtoEventEncoder::DecodeMessage(
    absl::string_view type, absl::string_view payload) const {
  if (type == domain::event_type::kEmailCreated) {
    roster::v1::EmailMessage message;
    auto out = DecodeShared(payload, message);
    if (out.has_value()) {
      out->identifier_id = message.email_address_id();
      out->address = message.email_address();
      out->invitation_id = message.invitation_id();
      out->url = message.url();
      out->ticket = message.ticket();
    }
    return out;
  }
  if (type == domain::event_type::kSmsCreated) {
    roster::v1::SmsMessage message;
    auto out = DecodeShared(payload, message);
    if (out.has_value()) {
      out->identifier_id = message.phone_number_id();
      out->address = message.phone_number();
    }
    return out;
  }
  return std::nullopt;
}

std::string ProtoEventEncoder::EncodeDeletedUser(
    const domain::DeletedUser& deleted) const {
  roster::v1::DeletedObject message;
  ToProto(deleted, message);
  return message.SerializeAsString();
}

void ToProto(const storage::EventRecord& event, roster::v1::Event& out) {
  out.Clear();
  out.set_sequence(event.sequence);
  out.set_id(event.id);
  out.set_type(event.type);
  ToProto(domain::FromMicros(event.created_at), *out.mutable_created_at());
  out.set_user_id(event.user_id);
  out.set_request_id(event.request_id);
  out.set_actor(event.actor);
  // Payloads were encoded by this server from these very messages.
  namespace type = domain::event_type;
  bool parsed = true;
  if (event.type == type::kUserCreated || event.type == type::kUserUpdated) {
    parsed = out.mutable_user()->ParseFromString(event.payload);
  } else if (event.type == type::kUserDeleted) {
    parsed = out.mutable_deleted_object()->ParseFromString(event.payload);
  } else if (event.type == type::kEmailCreated) {
    parsed = out.mutable_email()->ParseFromString(event.payload);
  } else if (event.type == type::kSmsCreated) {
    parsed = out.mutable_sms()->ParseFromString(event.payload);
  } else if (event.type == type::kSessionCreated ||
             event.type == type::kSessionRevoked) {
    parsed = out.mutable_session()->ParseFromString(event.payload);
  }
  if (!parsed) {
    out.clear_payload();
  }
}

}  // namespace roster::api

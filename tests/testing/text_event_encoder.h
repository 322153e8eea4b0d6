// An EventEncoder that writes readable text, so domain tests can check what
// each event carried without protobuf.
#ifndef ROSTER_TESTS_TESTING_TEXT_EVENT_ENCODER_H_
#define ROSTER_TESTS_TESTING_TEXT_EVENT_ENCODER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/domain/events.h"

namespace roster::testing {

// Encodes payloads as readable text so tests can check what each event carried.
class TextEventEncoder final : public domain::EventEncoder {
 public:
  std::string EncodeUser(const domain::UserView& user) const override {
    return absl::StrCat("user ", user.record.id, " etag ", user.etag);
  }
  std::string EncodeDeletedUser(
      const domain::DeletedUser& deleted) const override {
    return absl::StrCat("deleted ", deleted.id);
  }
  std::string EncodeSession(
      const storage::SessionRecord& session) const override {
    return absl::StrCat("session ", session.id, " ",
                        static_cast<int>(session.status));
  }
  std::string EncodeEmailMessage(
      const domain::VerificationMessage& m) const override {
    return absl::StrCat("email ", m.address, " code ", m.code);
  }
  std::string EncodeSmsMessage(
      const domain::VerificationMessage& m) const override {
    return absl::StrCat("sms ", m.address, " code ", m.code);
  }
  // Reads back what the two methods above wrote (address and code only).
  std::optional<domain::VerificationMessage> DecodeMessage(
      absl::string_view type, absl::string_view payload) const override {
    std::vector<std::string> words = absl::StrSplit(payload, ' ');
    const bool email = type == domain::event_type::kEmailCreated;
    if ((!email && type != domain::event_type::kSmsCreated) ||
        words.size() != 4 || words[0] != (email ? "email" : "sms")) {
      return std::nullopt;
    }
    domain::VerificationMessage message;
    message.address = words[1];
    message.code = words[3];
    return message;
  }
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_TEXT_EVENT_ENCODER_H_

// An EventEncoder that writes readable text, so domain tests can check what
// each event carried without protobuf.
#ifndef ROSTER_TESTS_TESTING_TEXT_EVENT_ENCODER_H_
#define ROSTER_TESTS_TESTING_TEXT_EVENT_ENCODER_H_

#include <string>

#include "absl/strings/str_cat.h"
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
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_TEXT_EVENT_ENCODER_H_

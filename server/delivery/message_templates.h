// The words of the messages roster-server sends (DESIGN §13): per purpose a
// subject, a text and an HTML body for email, and an SMS body. Built-in
// defaults; any of them can be replaced by a file in --templates_dir named
// <purpose>.subject, <purpose>.txt, <purpose>.html or <purpose>.sms.
//
// A template names values as {{app_name}}, {{code}}, {{url}}, {{ticket}} and
// {{minutes}} (until the code expires, rounded up). Values are HTML-escaped in
// the HTML body. Immutable after Load, so thread-safe.
#ifndef ROSTER_SERVER_DELIVERY_MESSAGE_TEMPLATES_H_
#define ROSTER_SERVER_DELIVERY_MESSAGE_TEMPLATES_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/domain/events.h"

namespace roster::delivery {

struct RenderedEmail {
  std::string subject;
  std::string text;
  std::string html;
};

class MessageTemplates {
 public:
  // The built-in templates, with overrides read from `dir` (empty: none).
  // InvalidArgument for an unreadable override, a file that names no known
  // purpose and part, a subject of more than one line, or a placeholder no
  // template knows (a typo would otherwise reach users).
  static absl::StatusOr<MessageTemplates> Load(absl::string_view dir,
                                               absl::string_view app_name);

  RenderedEmail RenderEmail(const domain::VerificationMessage& message,
                            absl::Time now) const;
  std::string RenderSms(const domain::VerificationMessage& message,
                        absl::Time now) const;

 private:
  struct Set {
    std::string subject, text, html, sms;
  };
  const Set& For(absl::string_view purpose) const;

  std::string app_name_;
  std::map<std::string, Set, std::less<>> sets_;
};

}  // namespace roster::delivery

#endif  // ROSTER_SERVER_DELIVERY_MESSAGE_TEMPLATES_H_

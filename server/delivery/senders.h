// Senders: what hands one code message to the world (DESIGN §13). The
// deliverer owns the order, retries and lease; a sender makes one attempt and
// says how it went. Implementations are used from the deliverer's one thread.
#ifndef ROSTER_SERVER_DELIVERY_SENDERS_H_
#define ROSTER_SERVER_DELIVERY_SENDERS_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/delivery/message_templates.h"
#include "server/domain/events.h"
#include "server/net/transport.h"

namespace roster::delivery {

enum class SendOutcome {
  kSent,
  kRetry,  // A failure that may pass: refused connection, 4xx SMTP, 5xx HTTP.
  kRejected,  // The receiver refused this message for good (5xx SMTP, 4xx
              // HTTP).
};

struct SendResult {
  SendOutcome outcome = SendOutcome::kSent;
  // Why, for the log: never the code or the full address.
  std::string detail;
};

class Sender {
 public:
  virtual ~Sender() = default;
  // `event_id` names the message to the receiver, so it can drop a duplicate.
  virtual SendResult Send(const domain::VerificationMessage& message,
                          absl::string_view event_id, absl::Time now) = 0;
};

// How every sender reaches its receiver.
using Transport = net::Transport;

struct SmtpOptions {
  std::string url;        // smtps://host:465 or smtp://host:587
  bool insecure = false;  // smtp:// without STARTTLS.
  std::string username, password;
  std::string from;  // The From address (may be "Name <addr@host>").
  Transport transport;
};

struct SmsWebhookOptions {
  std::string url;
  std::string secret;  // The HMAC-SHA256 key.
  Transport transport;
};

struct TwilioOptions {
  std::string base_url = "https://api.twilio.com";
  std::string account_sid, auth_token;
  std::string from;  // An E.164 number, or a messaging service SID (MG…).
  Transport transport;
};

std::unique_ptr<Sender> NewSmtpSender(SmtpOptions options,
                                      const MessageTemplates* templates);
std::unique_ptr<Sender> NewSmsWebhookSender(SmsWebhookOptions options,
                                            const MessageTemplates* templates);
std::unique_ptr<Sender> NewTwilioSender(TwilioOptions options,
                                        const MessageTemplates* templates);

// The signature header an SMS webhook request carries:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">".
inline constexpr char kSignatureHeader[] = "Roster-Signature";
std::string SignWebhook(absl::string_view secret, int64_t unix_seconds,
                        absl::string_view body);

// "a***@example.com" / "+1*******67": enough to tell messages apart in a log.
std::string MaskAddress(absl::string_view address);

}  // namespace roster::delivery

#endif  // ROSTER_SERVER_DELIVERY_SENDERS_H_

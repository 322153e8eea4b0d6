// What --smtp_*, --sms_* and --twilio_* ask of the deliverer (DESIGN §13),
// validated by the app's flag parsing. No channel set: no deliverer, and codes
// reach people only through the event stream, as before.
#ifndef ROSTER_SERVER_DELIVERY_DELIVERY_CONFIG_H_
#define ROSTER_SERVER_DELIVERY_DELIVERY_CONFIG_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "server/delivery/senders.h"

namespace roster::delivery {

struct DeliveryConfig {
  // The service's name in every message (and, later, the portal's title).
  std::string app_name = "Roster";
  std::string templates_dir;
  // How often the deliverer looks for work nobody told it of (other
  // replicas' commits, retries coming due). No flag: tests shorten it.
  absl::Duration poll = absl::Seconds(1);
  // DelivererOptions::lease.
  absl::Duration lease = absl::Seconds(30);
  std::optional<SmtpOptions> smtp;
  std::optional<SmsWebhookOptions> sms_webhook;
  std::optional<TwilioOptions> twilio;

  bool enabled() const {
    return smtp.has_value() || sms_webhook.has_value() || twilio.has_value();
  }
};

}  // namespace roster::delivery

#endif  // ROSTER_SERVER_DELIVERY_DELIVERY_CONFIG_H_

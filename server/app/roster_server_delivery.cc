// RosterServer's code delivery (DESIGN §13): the senders and the deliverer a
// DeliveryConfig asks for.
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/api/log.h"
#include "server/app/roster_server.h"

namespace roster::app {

absl::Status RosterServer::StartDelivery(
    const delivery::DeliveryConfig& config) {
  if (!config.enabled()) {
    return absl::OkStatus();
  }
  auto templates =
      delivery::MessageTemplates::Load(config.templates_dir, config.app_name);
  if (!templates.ok()) {
    return templates.status();
  }
  templates_ =
      std::make_unique<delivery::MessageTemplates>(*std::move(templates));
  auto with_cancel = [this](delivery::Transport transport) {
    transport.cancel = &delivery_cancel_;
    return transport;
  };
  std::unique_ptr<delivery::Sender> email;
  std::unique_ptr<delivery::Sender> sms;
  if (config.smtp.has_value()) {
    delivery::SmtpOptions smtp = *config.smtp;
    smtp.transport = with_cancel(smtp.transport);
    email = delivery::NewSmtpSender(std::move(smtp), templates_.get());
  }
  if (config.sms_webhook.has_value()) {
    delivery::SmsWebhookOptions webhook = *config.sms_webhook;
    webhook.transport = with_cancel(webhook.transport);
    sms = delivery::NewSmsWebhookSender(std::move(webhook), templates_.get());
  } else if (config.twilio.has_value()) {
    delivery::TwilioOptions twilio = *config.twilio;
    twilio.transport = with_cancel(twilio.transport);
    sms = delivery::NewTwilioSender(std::move(twilio), templates_.get());
  }
  delivery::DelivererOptions options;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  uint8_t nonce[6];
  random_->Fill(absl::MakeSpan(nonce));
  options.owner =
      absl::StrCat(host, ":", getpid(), ":",
                   absl::BytesToHexString(absl::string_view(
                       reinterpret_cast<const char*>(nonce), sizeof(nonce))));
  options.poll = config.poll;
  options.lease = config.lease;
  options.cancel = &delivery_cancel_;
  options.log = [](absl::string_view level, absl::string_view msg,
                   absl::string_view fields) {
    api::LogJson(level, msg, fields);
  };
  deliverer_ = std::make_unique<delivery::Deliverer>(
      store_.get(), clock_, encoder_.get(), std::move(email), std::move(sms),
      std::move(options));
  // Before the listeners open: every code this server makes comes after it.
  return deliverer_->StartFromNow();
}

}  // namespace roster::app

#include "server/app/delivery_flags.h"

#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/app/config.h"
#include "server/delivery/message_templates.h"
#include "server/domain/urls.h"

ABSL_FLAG(std::string, app_name, "Roster",
          "The service's name in the messages roster-server sends.");
ABSL_FLAG(std::string, templates_dir, "",
          "A directory of <purpose>.subject|txt|html|sms files replacing the "
          "built-in message templates.");
ABSL_FLAG(std::string, smtp_url, "",
          "Send email codes through this SMTP server: smtps://host:465, or "
          "smtp://host:587 (STARTTLS required). Empty: email codes reach "
          "people only through the event stream.");
ABSL_FLAG(bool, smtp_insecure, false,
          "Allow smtp:// without STARTTLS, to a loopback host only.");
ABSL_FLAG(std::string, smtp_credentials_file, "",
          "A file holding `username:password` for SMTP AUTH.");
ABSL_FLAG(std::string, mail_from, "",
          "The From of sent email, e.g. `Example <no-reply@example.com>`.");
ABSL_FLAG(std::string, sms_provider, "webhook",
          "How SMS codes leave: `webhook` (--sms_webhook_url) or `twilio`.");
ABSL_FLAG(std::string, sms_webhook_url, "",
          "POST each SMS code as signed JSON to this URL (https://, or "
          "http:// to loopback).");
ABSL_FLAG(std::string, sms_webhook_secret_file, "",
          "The HMAC-SHA256 key that signs webhook requests (>= 32 bytes).");
ABSL_FLAG(std::string, twilio_account_sid_file, "",
          "A file holding the Twilio account SID.");
ABSL_FLAG(std::string, twilio_auth_token_file, "",
          "A file holding the Twilio auth token.");
ABSL_FLAG(std::string, twilio_from, "",
          "The Twilio sender: an E.164 number or a messaging service SID.");
ABSL_FLAG(std::string, twilio_base_url, "https://api.twilio.com",
          "Twilio's API base URL.");
ABSL_FLAG(absl::Duration, delivery_lease, absl::Seconds(30),
          "How long a replica stays the one that sends without renewing: "
          "after a crash, another replica (or the restarted one) takes over "
          "this much later.");
ABSL_FLAG(std::string, delivery_ca_file, "",
          "PEM CA certificates to trust for the SMTP and SMS receivers "
          "(default: the system's).");

namespace roster::app {

const char* const kDeliveryFlagNames[] = {"app_name",
                                          "templates_dir",
                                          "smtp_url",
                                          "smtp_insecure",
                                          "smtp_credentials_file",
                                          "mail_from",
                                          "sms_provider",
                                          "sms_webhook_url",
                                          "sms_webhook_secret_file",
                                          "twilio_account_sid_file",
                                          "twilio_auth_token_file",
                                          "twilio_from",
                                          "twilio_base_url",
                                          "delivery_ca_file",
                                          "delivery_lease"};
const size_t kDeliveryFlagCount = std::size(kDeliveryFlagNames);

namespace {

absl::Status Invalid(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", why));
}

// http(s) URLs: https anywhere, plain http only to this machine (a code in
// clear text must not cross a network).
absl::Status CheckHttpUrl(absl::string_view flag, absl::string_view url) {
  if (domain::IsHttpsOrLoopbackHttp(url)) {
    return absl::OkStatus();
  }
  return Invalid(flag, "must be an https:// URL (http:// only to loopback)");
}

absl::StatusOr<std::string> ReadSecret(absl::string_view flag,
                                       const std::string& path) {
  if (path.empty()) {
    return Invalid(flag, "is required");
  }
  auto content = ReadConfigFile(path);
  if (!content.ok()) {
    return Invalid(flag, absl::StrCat("cannot be read: ", path));
  }
  std::string secret(absl::StripAsciiWhitespace(*content));
  if (secret.empty()) {
    return Invalid(flag, "names an empty file");
  }
  return secret;
}

absl::Status LoadSmtp(delivery::DeliveryConfig& config) {
  const std::string url = absl::GetFlag(FLAGS_smtp_url);
  if (url.empty()) {
    return absl::OkStatus();
  }
  delivery::SmtpOptions smtp;
  smtp.url = url;
  smtp.insecure = absl::GetFlag(FLAGS_smtp_insecure);
  const bool implicit_tls = absl::StartsWith(url, "smtps://");
  if ((!implicit_tls && !absl::StartsWith(url, "smtp://")) ||
      domain::HostOf(url).empty()) {
    return Invalid("smtp_url",
                   "must be smtps://host[:port] or "
                   "smtp://host[:port]");
  }
  if (smtp.insecure &&
      (implicit_tls || !domain::IsLoopbackHost(domain::HostOf(url)))) {
    return Invalid("smtp_insecure",
                   "is only for smtp:// to a loopback host: codes would "
                   "cross the network in clear text");
  }
  smtp.from = absl::GetFlag(FLAGS_mail_from);
  if (smtp.from.empty() || !absl::StrContains(smtp.from, "@") ||
      absl::StrContains(smtp.from, "\n") ||
      absl::StrContains(smtp.from, "\r")) {
    return Invalid("mail_from",
                   "must be an address such as "
                   "`Example <no-reply@example.com>`");
  }
  const std::string credentials_file =
      absl::GetFlag(FLAGS_smtp_credentials_file);
  if (!credentials_file.empty()) {
    auto credentials = ReadSecret("smtp_credentials_file", credentials_file);
    if (!credentials.ok()) {
      return credentials.status();
    }
    const size_t colon = credentials->find(':');
    if (colon == std::string::npos || colon == 0) {
      return Invalid("smtp_credentials_file", "must hold username:password");
    }
    smtp.username = credentials->substr(0, colon);
    smtp.password = credentials->substr(colon + 1);
  }
  config.smtp = std::move(smtp);
  return absl::OkStatus();
}

absl::Status LoadSms(delivery::DeliveryConfig& config) {
  const std::string provider = absl::GetFlag(FLAGS_sms_provider);
  if (provider == "twilio") {
    delivery::TwilioOptions twilio;
    twilio.base_url = std::string(
        absl::StripSuffix(absl::GetFlag(FLAGS_twilio_base_url), "/"));
    absl::Status url = CheckHttpUrl("twilio_base_url", twilio.base_url);
    if (!url.ok()) {
      return url;
    }
    auto sid = ReadSecret("twilio_account_sid_file",
                          absl::GetFlag(FLAGS_twilio_account_sid_file));
    if (!sid.ok()) {
      return sid.status();
    }
    auto token = ReadSecret("twilio_auth_token_file",
                            absl::GetFlag(FLAGS_twilio_auth_token_file));
    if (!token.ok()) {
      return token.status();
    }
    twilio.account_sid = *std::move(sid);
    twilio.auth_token = *std::move(token);
    twilio.from = absl::GetFlag(FLAGS_twilio_from);
    if (twilio.from.empty()) {
      return Invalid("twilio_from", "is required with --sms_provider=twilio");
    }
    config.twilio = std::move(twilio);
    return absl::OkStatus();
  }
  if (provider != "webhook") {
    return Invalid("sms_provider", "must be webhook or twilio");
  }
  const std::string url = absl::GetFlag(FLAGS_sms_webhook_url);
  if (url.empty()) {
    return absl::OkStatus();
  }
  absl::Status checked = CheckHttpUrl("sms_webhook_url", url);
  if (!checked.ok()) {
    return checked;
  }
  auto secret = ReadSecret("sms_webhook_secret_file",
                           absl::GetFlag(FLAGS_sms_webhook_secret_file));
  if (!secret.ok()) {
    return secret.status();
  }
  if (secret->size() < 32) {
    return Invalid("sms_webhook_secret_file", "must hold at least 32 bytes");
  }
  delivery::SmsWebhookOptions webhook;
  webhook.url = url;
  webhook.secret = *std::move(secret);
  config.sms_webhook = std::move(webhook);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<delivery::DeliveryConfig> LoadDeliveryFlags() {
  delivery::DeliveryConfig config;
  config.app_name = absl::GetFlag(FLAGS_app_name);
  bool control = false;
  for (char c : config.app_name) {
    control = control || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  }
  if (config.app_name.empty() || config.app_name.size() > 64 || control) {
    return Invalid("app_name", "must be 1-64 bytes without control characters");
  }
  config.templates_dir = absl::GetFlag(FLAGS_templates_dir);
  // Checked now so that a typo in a template is a bad flag (exit 2), not a
  // failed start.
  auto templates =
      delivery::MessageTemplates::Load(config.templates_dir, config.app_name);
  if (!templates.ok()) {
    return templates.status();
  }
  config.lease = absl::GetFlag(FLAGS_delivery_lease);
  if (config.lease < absl::Seconds(1) || config.lease > absl::Hours(1)) {
    return Invalid("delivery_lease", "must be between 1s and 1h");
  }
  absl::Status smtp = LoadSmtp(config);
  if (!smtp.ok()) {
    return smtp;
  }
  absl::Status sms = LoadSms(config);
  if (!sms.ok()) {
    return sms;
  }
  delivery::Transport transport;
  transport.ca_file = absl::GetFlag(FLAGS_delivery_ca_file);
  if (!transport.ca_file.empty() && !ReadConfigFile(transport.ca_file).ok()) {
    return Invalid("delivery_ca_file",
                   absl::StrCat("cannot be read: ", transport.ca_file));
  }
  for (delivery::Transport* t :
       {config.smtp ? &config.smtp->transport : nullptr,
        config.sms_webhook ? &config.sms_webhook->transport : nullptr,
        config.twilio ? &config.twilio->transport : nullptr}) {
    if (t != nullptr) {
      *t = transport;
    }
  }
  return config;
}

}  // namespace roster::app

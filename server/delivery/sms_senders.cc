// SMS through an HTTP receiver: the operator's signed webhook, or Twilio's
// Messages API. Both POST once per code; 2xx is sent, 408, 429 and 5xx are
// worth another try, any other 4xx will not change.
#include <sodium.h>

#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/delivery/senders.h"
#include "server/net/curl_handle.h"

namespace roster::delivery {
namespace {

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

// POSTs `body` to `url` and classifies the answer.
SendResult Post(CURL* c, const std::string& url, const std::string& body,
                const net::CurlList& headers) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Discard);
  const CURLcode result = curl_easy_perform(c);
  if (result != CURLE_OK) {
    return {SendOutcome::kRetry, curl_easy_strerror(result)};
  }
  long status = 0;  // NOLINT(google-runtime-int): curl_easy_getinfo's type.
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) {
    return {SendOutcome::kSent, ""};
  }
  const bool temporary = status == 408 || status == 429 || status >= 500;
  return {temporary ? SendOutcome::kRetry : SendOutcome::kRejected,
          absl::StrCat("HTTP ", status)};
}

class WebhookSender final : public Sender {
 public:
  WebhookSender(SmsWebhookOptions options, const MessageTemplates* templates)
      : options_(std::move(options)), templates_(templates) {}

  SendResult Send(const domain::VerificationMessage& message,
                  absl::string_view event_id, absl::Time now) override {
    net::CurlEasy curl = net::NewCurl(options_.transport);
    if (curl == nullptr) {
      return {SendOutcome::kRetry, "curl_easy_init failed"};
    }
    const std::string body = nlohmann::json{
        {"to", message.address},
        {"body", templates_->RenderSms(message, now)},
        {"purpose", message.purpose},
        {"event_id",
         std::string(event_id)}}.dump();
    const int64_t timestamp = absl::ToUnixSeconds(now);
    net::CurlList headers;
    net::Append(headers, "Content-Type: application/json");
    net::Append(headers,
                absl::StrCat(kSignatureHeader, ": ", "t=", timestamp, ",v1=",
                             SignWebhook(options_.secret, timestamp, body)));
    return Post(curl.get(), options_.url, body, headers);
  }

 private:
  const SmsWebhookOptions options_;
  const MessageTemplates* const templates_;
};

class TwilioSender final : public Sender {
 public:
  TwilioSender(TwilioOptions options, const MessageTemplates* templates)
      : options_(std::move(options)), templates_(templates) {}

  SendResult Send(const domain::VerificationMessage& message, absl::string_view,
                  absl::Time now) override {
    net::CurlEasy curl = net::NewCurl(options_.transport);
    if (curl == nullptr) {
      return {SendOutcome::kRetry, "curl_easy_init failed"};
    }
    CURL* c = curl.get();
    auto field = [c](absl::string_view name, const std::string& value) {
      char* escaped =
          curl_easy_escape(c, value.data(), static_cast<int>(value.size()));
      std::string out = absl::StrCat(name, "=", escaped ? escaped : "");
      curl_free(escaped);
      return out;
    };
    // A messaging service SID picks the sender number itself.
    const bool service = absl::StartsWith(options_.from, "MG");
    const std::string body = absl::StrCat(
        field("To", message.address), "&",
        field(service ? "MessagingServiceSid" : "From", options_.from), "&",
        field("Body", templates_->RenderSms(message, now)));
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.account_sid.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.auth_token.c_str());
    net::CurlList headers;
    net::Append(headers, "Content-Type: application/x-www-form-urlencoded");
    const std::string url =
        absl::StrCat(options_.base_url, "/2010-04-01/Accounts/",
                     options_.account_sid, "/Messages.json");
    return Post(c, url, body, headers);
  }

 private:
  const TwilioOptions options_;
  const MessageTemplates* const templates_;
};

}  // namespace

std::string SignWebhook(absl::string_view secret, int64_t unix_seconds,
                        absl::string_view body) {
  const std::string signed_text = absl::StrCat(unix_seconds, ".", body);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(
      &state, reinterpret_cast<const unsigned char*>(secret.data()),
      secret.size());
  crypto_auth_hmacsha256_update(
      &state, reinterpret_cast<const unsigned char*>(signed_text.data()),
      signed_text.size());
  crypto_auth_hmacsha256_final(&state, mac);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac), sizeof(mac)));
}

std::string MaskAddress(absl::string_view address) {
  const size_t at = address.find('@');
  if (at != absl::string_view::npos) {
    return absl::StrCat(address.substr(0, at > 0 ? 1 : 0), "***",
                        address.substr(at));
  }
  if (address.size() <= 5) {
    return "***";
  }
  return absl::StrCat(address.substr(0, 2),
                      std::string(address.size() - 4, '*'),
                      address.substr(address.size() - 2));
}

std::unique_ptr<Sender> NewSmsWebhookSender(SmsWebhookOptions options,
                                            const MessageTemplates* templates) {
  return std::make_unique<WebhookSender>(std::move(options), templates);
}

std::unique_ptr<Sender> NewTwilioSender(TwilioOptions options,
                                        const MessageTemplates* templates) {
  return std::make_unique<TwilioSender>(std::move(options), templates);
}

}  // namespace roster::delivery

// Email over SMTP through libcurl, which speaks STARTTLS, implicit TLS and
// AUTH: one multipart/alternative message (text, then HTML) per code.
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/delivery/senders.h"
#include "server/net/curl_handle.h"

namespace roster::delivery {
namespace {

// The bare address of "Name <addr@host>" (or of "addr@host").
std::string EnvelopeAddress(absl::string_view from) {
  const size_t open = from.rfind('<');
  const size_t close = from.rfind('>');
  if (open != absl::string_view::npos && close != absl::string_view::npos &&
      close > open) {
    return std::string(from.substr(open + 1, close - open - 1));
  }
  return std::string(absl::StripAsciiWhitespace(from));
}

// A header value on one line, RFC 2047-encoded when it is not plain ASCII.
std::string HeaderValue(absl::string_view value) {
  std::string line = absl::StrReplaceAll(value, {{"\r", " "}, {"\n", " "}});
  for (char c : line) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return absl::StrCat("=?UTF-8?B?", absl::Base64Escape(line), "?=");
    }
  }
  return line;
}

bool AddPart(curl_mime* mime, const std::string& body, const char* type) {
  curl_mimepart* part = curl_mime_addpart(mime);
  return part != nullptr &&
         curl_mime_data(part, body.data(), body.size()) == CURLE_OK &&
         curl_mime_type(part, type) == CURLE_OK &&
         // Lines of any length and any UTF-8 survive 7-bit relays.
         curl_mime_encoder(part, "quoted-printable") == CURLE_OK;
}

class SmtpSender final : public Sender {
 public:
  SmtpSender(SmtpOptions options, const MessageTemplates* templates)
      : options_(std::move(options)), templates_(templates) {}

  SendResult Send(const domain::VerificationMessage& message,
                  absl::string_view event_id, absl::Time now) override {
    net::CurlEasy curl = net::NewCurl(options_.transport);
    if (curl == nullptr) {
      return {SendOutcome::kRetry, "curl_easy_init failed"};
    }
    const RenderedEmail email = templates_->RenderEmail(message, now);
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
    if (!options_.insecure) {
      // smtp:// must upgrade with STARTTLS or fail; smtps:// is TLS anyway.
      curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    }
    if (!options_.username.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
    }
    const std::string envelope_from = EnvelopeAddress(options_.from);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, envelope_from.c_str());
    net::CurlList recipients;
    net::Append(recipients, message.address);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, recipients.get());

    net::CurlList headers;
    net::Append(headers, absl::StrCat("From: ", HeaderValue(options_.from)));
    net::Append(headers, absl::StrCat("To: ", HeaderValue(message.address)));
    net::Append(headers, absl::StrCat("Subject: ", HeaderValue(email.subject)));
    net::Append(
        headers,
        absl::StrCat("Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000",
                                                now, absl::UTCTimeZone())));
    // The event id makes every copy of one code the same message to a
    // receiver that drops duplicates.
    net::Append(
        headers,
        absl::StrCat("Message-ID: <", event_id, "@",
                     envelope_from.substr(envelope_from.find('@') + 1), ">"));
    net::Append(headers, "Auto-Submitted: auto-generated");

    // The root of the tree is the message itself: typed through the header
    // list (curl adds the boundary), it holds the two alternatives directly.
    net::Append(headers, "Content-Type: multipart/alternative");
    net::CurlMime mime(curl_mime_init(c));
    if (mime == nullptr ||
        !AddPart(mime.get(), email.text, "text/plain; charset=utf-8") ||
        !AddPart(mime.get(), email.html, "text/html; charset=utf-8")) {
      return {SendOutcome::kRetry, "building the message failed"};
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());

    const CURLcode result = curl_easy_perform(c);
    if (result == CURLE_OK) {
      return {SendOutcome::kSent, ""};
    }
    long reply = 0;  // NOLINT(google-runtime-int): curl_easy_getinfo's type.
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
    std::string detail =
        absl::StrCat(curl_easy_strerror(result), " (SMTP ", reply, ")");
    // A permanent reply about this recipient or message (550 no such user,
    // 552, 554) will not change; one about our login (530, 535) is the
    // operator's to fix, and the code may still be in time after they do.
    const bool permanent =
        reply >= 500 && reply < 600 && reply != 530 && reply != 535;
    return {permanent ? SendOutcome::kRejected : SendOutcome::kRetry,
            std::move(detail)};
  }

 private:
  const SmtpOptions options_;
  const MessageTemplates* const templates_;
};

}  // namespace

std::unique_ptr<Sender> NewSmtpSender(SmtpOptions options,
                                      const MessageTemplates* templates) {
  return std::make_unique<SmtpSender>(std::move(options), templates);
}

}  // namespace roster::delivery

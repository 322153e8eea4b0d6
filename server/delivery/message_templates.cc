#include "server/delivery/message_templates.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace roster::delivery {
namespace {

constexpr absl::string_view kPlaceholders[] = {
    "{{app_name}}", "{{code}}", "{{url}}", "{{ticket}}", "{{minutes}}"};

struct Defaults {
  const char* purpose;
  const char* subject;
  const char* lead;  // The sentence before the code, in every part.
};

// One lead per purpose; the parts around it are shared below.
constexpr Defaults kDefaults[] = {
    {"verify_email_address", "Verify your email address for {{app_name}}",
     "Your {{app_name}} verification code is"},
    {"verify_phone_number", "Verify your phone number for {{app_name}}",
     "Your {{app_name}} verification code is"},
    {"sign_up", "Finish signing up for {{app_name}}",
     "Your {{app_name}} sign-up code is"},
    {"sign_in", "Sign in to {{app_name}}", "Your {{app_name}} sign-in code is"},
    {"reset_password", "Reset your {{app_name}} password",
     "Your {{app_name}} password reset code is"},
    {"second_factor", "Your {{app_name}} sign-in code",
     "Your {{app_name}} second-factor code is"},
};

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string EscapeHtml(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"},
                                    {"<", "&lt;"},
                                    {">", "&gt;"},
                                    {"\"", "&quot;"},
                                    {"'", "&#39;"}});
}

// Every "{{…}}" in `text` is one of kPlaceholders.
absl::Status CheckPlaceholders(absl::string_view text, absl::string_view name) {
  size_t at = 0;
  while ((at = text.find("{{", at)) != absl::string_view::npos) {
    const size_t end = text.find("}}", at);
    const absl::string_view found =
        text.substr(at, end == absl::string_view::npos ? 2 : end + 2 - at);
    bool known = false;
    for (absl::string_view p : kPlaceholders) {
      known = known || found == p;
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "template ", name, ": unknown placeholder ", found,
          " (known: {{app_name}} {{code}} {{url}} {{ticket}} {{minutes}})"));
    }
    at += found.size();
  }
  return absl::OkStatus();
}

std::string Fill(absl::string_view text,
                 const domain::VerificationMessage& message,
                 absl::string_view app_name, absl::Time now, bool html) {
  const absl::Duration left = absl::FromUnixMicros(message.expire_at) - now;
  const int64_t minutes = std::max<int64_t>(
      1, absl::Ceil(left, absl::Minutes(1)) / absl::Minutes(1));
  auto value = [html](absl::string_view v) {
    return html ? EscapeHtml(v) : std::string(v);
  };
  return absl::StrReplaceAll(text, {{"{{app_name}}", value(app_name)},
                                    {"{{code}}", value(message.code)},
                                    {"{{url}}", value(message.url)},
                                    {"{{ticket}}", value(message.ticket)},
                                    {"{{minutes}}", absl::StrCat(minutes)}});
}

}  // namespace

absl::StatusOr<MessageTemplates> MessageTemplates::Load(
    absl::string_view dir, absl::string_view app_name) {
  MessageTemplates templates;
  templates.app_name_ = std::string(app_name);
  for (const Defaults& d : kDefaults) {
    Set& set = templates.sets_[d.purpose];
    set.subject = d.subject;
    set.text = absl::StrCat(
        d.lead,
        " {{code}}\n\nIt expires in {{minutes}} minutes. If you did "
        "not ask for it, ignore this message.\n");
    set.html = absl::StrCat(
        "<!doctype html>\n<html><body style=\"font-family:sans-serif\">\n<p>",
        d.lead,
        ":</p>\n<p "
        "style=\"font-size:24px;font-weight:bold;letter-spacing:4px\">"
        "{{code}}</p>\n<p>It expires in {{minutes}} minutes. If you did not "
        "ask "
        "for it, ignore this message.</p>\n</body></html>\n");
    set.sms = absl::StrCat(d.lead, " {{code}}. It expires in {{minutes}} min.");
  }
  Set& invitation = templates.sets_["invitation"];
  invitation.subject = "You are invited to {{app_name}}";
  invitation.text =
      "You are invited to join {{app_name}}.\n\nAccept the invitation: "
      "{{url}}\n\nOr sign up with this ticket: {{ticket}}\n";
  invitation.html =
      "<!doctype html>\n<html><body style=\"font-family:sans-serif\">\n"
      "<p>You are invited to join {{app_name}}.</p>\n"
      "<p><a href=\"{{url}}\">Accept the invitation</a></p>\n"
      "<p>Or sign up with this ticket: <code>{{ticket}}</code></p>\n"
      "</body></html>\n";
  invitation.sms = "You are invited to join {{app_name}}: {{url}}";
  if (!dir.empty()) {
    constexpr std::pair<const char*, std::string Set::*> kParts[] = {
        {".subject", &Set::subject},
        {".txt", &Set::text},
        {".html", &Set::html},
        {".sms", &Set::sms}};
    std::error_code error;
    std::filesystem::directory_iterator files(std::string(dir), error);
    if (error) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--templates_dir ", dir, " cannot be read: ", error.message()));
    }
    for (const auto& file : files) {
      const std::string name = file.path().filename().string();
      const std::string stem = file.path().stem().string();
      const std::string extension = file.path().extension().string();
      auto set = templates.sets_.find(stem);
      std::string Set::*part = nullptr;
      for (const auto& [suffix, member] : kParts) {
        if (extension == suffix) {
          part = member;
        }
      }
      if (set == templates.sets_.end() || part == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--templates_dir: ", name,
            " is not <purpose>.subject|txt|html|sms for a known purpose"));
      }
      auto content = ReadWhole(file.path().string());
      if (!content.ok()) {
        return content.status();
      }
      set->second.*part = *std::move(content);
      if (part == &Set::subject) {
        set->second.subject =
            std::string(absl::StripAsciiWhitespace(set->second.subject));
      }
    }
  }
  for (const auto& [purpose, set] : templates.sets_) {
    for (const std::string* part :
         {&set.subject, &set.text, &set.html, &set.sms}) {
      absl::Status checked = CheckPlaceholders(*part, purpose);
      if (!checked.ok()) {
        return checked;
      }
    }
    if (absl::StrContains(set.subject, "\n") ||
        absl::StrContains(set.subject, "\r")) {
      return absl::InvalidArgumentError(
          absl::StrCat("template ", purpose, ".subject must be one line"));
    }
  }
  return templates;
}

const MessageTemplates::Set& MessageTemplates::For(
    absl::string_view purpose) const {
  auto it = sets_.find(purpose);
  // An event written by a newer binary may name a purpose this one does not
  // know: it still gets a plain code message.
  return it != sets_.end() ? it->second : sets_.find("sign_in")->second;
}

RenderedEmail MessageTemplates::RenderEmail(
    const domain::VerificationMessage& message, absl::Time now) const {
  const Set& set = For(message.purpose);
  return {Fill(set.subject, message, app_name_, now, false),
          Fill(set.text, message, app_name_, now, false),
          Fill(set.html, message, app_name_, now, true)};
}

std::string MessageTemplates::RenderSms(
    const domain::VerificationMessage& message, absl::Time now) const {
  return Fill(For(message.purpose).sms, message, app_name_, now, false);
}

}  // namespace roster::delivery

#include "server/web/portal.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/api/call_context.h"
#include "server/api/status_mapping.h"
#include "server/web/portal_assets.h"

namespace roster::web {
namespace {

using Json = nlohmann::json;

constexpr char kFrontendUsers[] = "/roster.v1.FrontendUsers/";
// A session id and its secret are far shorter; anything longer is not ours.
constexpr size_t kMaxCookieValueBytes = 512;
constexpr size_t kMaxRedirectUrlBytes = 2048;
// The cookie outlives a browser restart; the session's own expiry decides.
constexpr int kCookieMaxAgeSeconds = 30 * 24 * 3600;
constexpr size_t kMaxTokenBytes = 8192;

// Text safe in HTML content and in double-quoted attributes.
std::string EscapeHtml(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"},
                                    {"<", "&lt;"},
                                    {">", "&gt;"},
                                    {"\"", "&quot;"},
                                    {"'", "&#39;"}});
}

std::string ContentTypeOf(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) {
    return "text/html; charset=utf-8";
  }
  if (absl::EndsWith(name, ".css")) {
    return "text/css; charset=utf-8";
  }
  if (absl::EndsWith(name, ".js")) {
    return "text/javascript; charset=utf-8";
  }
  if (absl::EndsWith(name, ".svg")) {
    return "image/svg+xml";
  }
  return "application/octet-stream";
}

bool IsHexColor(absl::string_view color) {
  if (!absl::ConsumePrefix(&color, "#") ||
      (color.size() != 3 && color.size() != 6)) {
    return false;
  }
  for (char c : color) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::string HeaderOf(const HttpCall& call, absl::string_view name) {
  for (const auto& [key, value] : call.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

// The value of cookie `name` in the call's Cookie header, or "".
std::string CookieOf(const HttpCall& call, absl::string_view name) {
  for (absl::string_view pair :
       absl::StrSplit(HeaderOf(call, "cookie"), ';', absl::SkipWhitespace())) {
    pair = absl::StripAsciiWhitespace(pair);
    if (absl::ConsumePrefix(&pair, name) && absl::ConsumePrefix(&pair, "=")) {
      return std::string(pair);
    }
  }
  return "";
}

HttpAnswer Error(
    absl::StatusCode code, absl::string_view reason, absl::string_view message,
    const std::vector<std::pair<std::string, std::string>>& violations = {}) {
  return ConnectErrorAnswer(
      api::ErrorStatus(code, reason, message, violations));
}

HttpAnswer JsonAnswer(const Json& body) {
  HttpAnswer answer;
  answer.content_type = "application/json";
  answer.body = body.dump();
  return answer;
}

// A call to FrontendUsers.`method` with a JSON body, as the browser's own
// request (its address, request id and deadline), optionally with a token.
HttpCall InnerCall(const HttpCall& outer, absl::string_view method,
                   const Json& body, const std::string& token = "") {
  HttpCall call;
  call.path = absl::StrCat(kFrontendUsers, method);
  call.content_type = "application/json";
  call.body = body.dump();
  call.peer = outer.peer;
  for (const char* name : {api::kRequestIdHeader, "connect-timeout-ms"}) {
    if (std::string value = HeaderOf(outer, name); !value.empty()) {
      call.headers.emplace_back(std::string(name), std::move(value));
    }
  }
  if (!token.empty()) {
    call.headers.emplace_back("authorization", absl::StrCat("Bearer ", token));
  }
  return call;
}

// The JSON body of a POST, or an INVALID_ARGUMENT answer.
std::optional<Json> ParseBody(const HttpCall& call, HttpAnswer& refusal) {
  Json body = Json::parse(call.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) {
    refusal =
        Error(absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT_FORMAT",
              "the body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

// body[key] when it is a string of at most `max_bytes`, else "".
std::string StringField(const Json& body, const char* key, size_t max_bytes) {
  const auto found = body.find(key);
  if (found == body.end() || !found->is_string() ||
      found->get_ref<const std::string&>().size() > max_bytes) {
    return "";
  }
  return found->get<std::string>();
}

// The string `key` of a successful JSON answer (sessionToken, id), or "".
std::string AnswerField(const HttpAnswer& answer, const char* key,
                        size_t max_bytes) {
  const Json body =
      Json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  return answer.status == 200 && body.is_object()
             ? StringField(body, key, max_bytes)
             : "";
}

}  // namespace

std::string UrlOrigin(absl::string_view url) {
  for (absl::string_view scheme : {"https://", "http://"}) {
    if (absl::StartsWith(url, scheme)) {
      const absl::string_view rest = url.substr(scheme.size());
      const absl::string_view host = rest.substr(0, rest.find_first_of("/?#"));
      if (host.empty() || absl::StrContains(host, '@')) {
        return "";
      }
      return absl::StrCat(scheme, host);
    }
  }
  return "";
}

absl::Status CheckPortalOptions(const PortalOptions& options) {
  if (!options.logo_url.empty() && UrlOrigin(options.logo_url).empty()) {
    return absl::InvalidArgumentError(
        "--portal_logo_url must be an http(s) URL");
  }
  if (!IsHexColor(options.accent_color)) {
    return absl::InvalidArgumentError(
        "--portal_accent_color must be #rgb or #rrggbb");
  }
  return absl::OkStatus();
}

Portal::Portal(const RpcGateway* gateway, PortalOptions options)
    : gateway_(gateway), options_(std::move(options)) {
  std::string providers;
  for (const auto& [id, label] : options_.providers) {
    absl::StrAppend(&providers,
                    "<button type=\"button\" class=\"social\" "
                    "data-provider=\"",
                    EscapeHtml(id), "\" data-label=\"", EscapeHtml(label),
                    "\">Continue with ", EscapeHtml(label), "</button>\n");
  }
  const std::string terms =
      options_.terms_required
          ? "<label class=\"check\"><input id=\"terms-accepted\" "
            "name=\"legal_accepted\" type=\"checkbox\"> I accept the "
            "terms</label>\n"
          : "";
  const std::string logo =
      options_.logo_url.empty()
          ? ""
          : absl::StrCat("<img class=\"logo\" alt=\"\" src=\"",
                         EscapeHtml(options_.logo_url), "\">");
  for (const PortalAsset& asset : PortalAssets()) {
    std::string name(asset.name);
    std::string body(asset.body);
    if (absl::EndsWith(name, ".html")) {
      body = absl::StrReplaceAll(
          body, {{"{{app_name}}", EscapeHtml(options_.app_name)},
                 {"{{logo}}", logo},
                 {"{{providers}}", providers},
                 {"{{terms}}", terms}});
      name = absl::StrCat("/", absl::StripSuffix(name, ".html"));
    } else {
      name = absl::StrCat("/portal/", name);
    }
    files_[name] = {ContentTypeOf(asset.name), std::move(body)};
  }
  files_["/portal/theme.css"] = {
      "text/css; charset=utf-8",
      absl::StrCat(":root{--accent:", options_.accent_color, "}\n")};
  // Images from any https origin: a social user's profile image is their
  // provider's picture, on the provider's CDN (no referrer is sent to it). A
  // plain-http logo needs its origin named.
  std::string logo_origin = UrlOrigin(options_.logo_url);
  if (absl::StartsWith(logo_origin, "https://")) {
    logo_origin.clear();
  }
  content_security_policy_ = absl::StrCat(
      "default-src 'none'; script-src 'self'; style-src 'self'; "
      "img-src 'self' data: https:",
      logo_origin.empty() ? "" : " ", logo_origin,
      "; connect-src 'self'; form-action 'self'; base-uri 'none'; "
      "frame-ancestors 'none'");
}

std::optional<HttpAnswer> Portal::Get(absl::string_view path) const {
  const auto file = files_.find(path);
  if (file == files_.end()) {
    return std::nullopt;
  }
  HttpAnswer answer;
  answer.content_type = file->second.first;
  answer.body = file->second.second;
  answer.headers = {
      {"Content-Security-Policy", content_security_policy_},
      {"X-Frame-Options", "DENY"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      // Pages carry the branding of this process's flags: always revalidate.
      {"Cache-Control", "no-cache"},
  };
  return answer;
}

HttpAnswer Portal::Post(const HttpCall& call) const {
  // A cross-site page can send neither the header (no preflight is granted
  // here) nor, in browsers that say where a request comes from, a request
  // marked same-origin.
  const std::string site = HeaderOf(call, "sec-fetch-site");
  HttpAnswer answer;
  if (HeaderOf(call, kCsrfHeader).empty() ||
      (!site.empty() && site != "same-origin")) {
    answer = Error(absl::StatusCode::kPermissionDenied, kCsrfCheckFailed,
                   "portal requests must come from the portal's own pages");
  } else if (call.path == "/portal/session") {
    answer = CreateSession(call);
  } else if (call.path == "/portal/token") {
    answer = RefreshToken(call);
  } else if (call.path == "/portal/sign-out") {
    answer = SignOut(call);
  } else if (call.path == "/portal/ticket") {
    answer = IssueTicket(call);
  } else {
    answer = Error(absl::StatusCode::kNotFound, "NOT_FOUND",
                   absl::StrCat("no portal endpoint ", call.path));
  }
  answer.headers.emplace_back("Cache-Control", "no-store");
  return answer;
}

std::string Portal::SessionCookie(const std::string& value, bool clear) const {
  return absl::StrCat(
      kSessionCookie, "=", value, "; Path=/portal/; HttpOnly; ",
      options_.secure_cookie ? "Secure; " : "",
      "SameSite=Lax; Max-Age=", clear ? 0 : kCookieMaxAgeSeconds);
}

HttpAnswer Portal::Refresh(const HttpCall& call, const std::string& session_id,
                           const std::string& secret) const {
  return gateway_->Call(
      InnerCall(call, "RefreshSessionToken",
                Json{{"sessionId", session_id}, {"sessionSecret", secret}}));
}

HttpAnswer Portal::CreateSession(const HttpCall& call) const {
  HttpAnswer refusal;
  const std::optional<Json> body = ParseBody(call, refusal);
  if (!body.has_value()) {
    return refusal;
  }
  const std::string session_id = StringField(*body, "sessionId", 128);
  const std::string secret = StringField(*body, "sessionSecret", 256);
  // The cookie joins them with '.', which neither contains when well formed.
  if (session_id.empty() || secret.empty() ||
      absl::StrContains(session_id, '.') || absl::StrContains(secret, '.')) {
    return Error(absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT_FORMAT",
                 "sessionId and sessionSecret are required",
                 {{"session_id", "required, from a complete sign-in"},
                  {"session_secret", "required, from a complete sign-in"}});
  }
  HttpAnswer answer = Refresh(call, session_id, secret);
  if (answer.status == 200) {
    answer.headers.emplace_back(
        "Set-Cookie", SessionCookie(absl::StrCat(session_id, ".", secret),
                                    /*clear=*/false));
  }
  return answer;
}

HttpAnswer Portal::RefreshToken(const HttpCall& call) const {
  const std::string cookie = CookieOf(call, kSessionCookie);
  const std::vector<std::string> parts =
      cookie.size() <= kMaxCookieValueBytes
          ? absl::StrSplit(cookie, absl::MaxSplits('.', 1))
          : std::vector<std::string>{};
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    HttpAnswer answer = Error(absl::StatusCode::kUnauthenticated,
                              "SESSION_INVALID", "not signed in");
    if (!cookie.empty()) {
      answer.headers.emplace_back("Set-Cookie", SessionCookie("", true));
    }
    return answer;
  }
  HttpAnswer answer = Refresh(call, parts[0], parts[1]);
  if (answer.status == 401) {  // Revoked or expired: forget it.
    answer.headers.emplace_back("Set-Cookie", SessionCookie("", true));
  }
  return answer;
}

HttpAnswer Portal::SignOut(const HttpCall& call) const {
  if (const std::string token =
          AnswerField(RefreshToken(call), "sessionToken", kMaxTokenBytes);
      !token.empty()) {
    HttpAnswer signed_out =
        gateway_->Call(InnerCall(call, "SignOut", Json::object(), token));
    if (signed_out.status != 200) {
      return signed_out;  // The cookie stays: the session still works.
    }
  }
  // Signed out, or never signed in: either way the browser forgets.
  HttpAnswer answer = JsonAnswer(Json::object());
  answer.headers.emplace_back("Set-Cookie", SessionCookie("", true));
  return answer;
}

HttpAnswer Portal::IssueTicket(const HttpCall& call) const {
  HttpAnswer refusal;
  const std::optional<Json> body = ParseBody(call, refusal);
  if (!body.has_value()) {
    return refusal;
  }
  const std::string redirect_url =
      StringField(*body, "redirectUrl", kMaxRedirectUrlBytes);
  if (redirect_url.empty() || !options_.redirect_allowed ||
      !options_.redirect_allowed(redirect_url)) {
    return Error(
        absl::StatusCode::kInvalidArgument, "REDIRECT_URL_NOT_ALLOWED",
        "the redirect URL is not allowed",
        {{"redirect_url", "must match one of --allowed_redirect_urls"}});
  }
  HttpAnswer token_answer = RefreshToken(call);
  if (token_answer.status != 200) {
    return token_answer;
  }
  HttpAnswer me = gateway_->Call(
      InnerCall(call, "GetMe", Json::object(),
                AnswerField(token_answer, "sessionToken", kMaxTokenBytes)));
  if (me.status != 200) {
    return me;
  }
  const std::string user_id = AnswerField(me, "id", 128);
  absl::StatusOr<std::string> ticket =
      user_id.empty() ? absl::InternalError("GetMe answered without an id")
                      : options_.issue_ticket(user_id);
  if (!ticket.ok()) {
    return ConnectErrorAnswer(api::ToGrpcStatus(ticket.status()));
  }
  return JsonAnswer(
      Json{{"location",
            absl::StrCat(redirect_url,
                         absl::StrContains(redirect_url, '?') ? "&" : "?",
                         "roster_ticket=", *ticket)}});
}

}  // namespace roster::web

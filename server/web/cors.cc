#include "server/web/cors.h"

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace roster::web {
namespace {

// What a Connect or gRPC-Web client sends beyond the simple headers.
constexpr const char* kAllowedRequestHeaders[] = {
    "authorization",      "content-type", "connect-protocol-version",
    "connect-timeout-ms", "grpc-timeout", "x-grpc-web",
    "x-user-agent",       "x-request-id"};
constexpr char kExposedHeaders[] =
    "grpc-status, grpc-message, grpc-status-details-bin, x-request-id";

bool IsOrigin(const std::string& origin) {
  absl::string_view rest = origin;
  if (!absl::ConsumePrefix(&rest, "https://") &&
      !absl::ConsumePrefix(&rest, "http://")) {
    return false;
  }
  return !rest.empty() && absl::c_all_of(rest, [](unsigned char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
}

}  // namespace

Cors::Cors(std::vector<std::string> origins) : origins_(std::move(origins)) {}

absl::Status Cors::Check(const std::vector<std::string>& origins) {
  for (size_t i = 0; i < origins.size(); ++i) {
    if (origins[i] != "*" && !IsOrigin(origins[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--allowed_origins entry ", i + 1, " (", origins[i],
          ") is not \"*\" or an origin like https://app.example.com"));
    }
  }
  return absl::OkStatus();
}

bool Cors::Allows(const std::string& origin) const {
  return !origin.empty() &&
         absl::c_any_of(origins_, [&](const std::string& allowed) {
           return allowed == "*" || allowed == origin;
         });
}

Headers Cors::ForResponse(const std::string& origin) const {
  if (!Allows(origin)) {
    return {};
  }
  return {{"Access-Control-Allow-Origin", origin},
          {"Access-Control-Expose-Headers", kExposedHeaders},
          {"Vary", "Origin"}};
}

Headers Cors::ForPreflight(const std::string& origin,
                           const std::string& request_method,
                           const std::string& request_headers) const {
  if (!Allows(origin) || request_method != "POST") {
    return {};
  }
  std::vector<std::string> allowed;
  for (absl::string_view name : absl::StrSplit(request_headers, ',')) {
    const std::string lowered =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
    if (absl::c_linear_search(kAllowedRequestHeaders, lowered)) {
      allowed.push_back(lowered);
    }
  }
  return {{"Access-Control-Allow-Origin", origin},
          {"Access-Control-Allow-Methods", "POST"},
          {"Access-Control-Allow-Headers", absl::StrJoin(allowed, ", ")},
          {"Access-Control-Max-Age", "7200"},
          {"Vary", "Origin"}};
}

}  // namespace roster::web

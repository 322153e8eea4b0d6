#include "server/api/log.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace roster::api {

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void LogJson(absl::string_view level, absl::string_view msg,
             absl::string_view fields) {
  const std::string line = absl::StrCat(
      "{\"time\":\"",
      absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", level, "\",\"msg\":\"", JsonEscape(msg), "\"", fields,
      "}\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace roster::api

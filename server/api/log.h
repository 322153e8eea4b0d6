// Roster's log: one JSON object per line on stderr, each with "time" (RFC
// 3339, UTC), "level" and "msg", written in one call so concurrent lines stay
// whole. Callers never pass request contents (keys, tokens, passwords, codes,
// addresses): only names, codes, counts and ids.
#ifndef ROSTER_SERVER_API_LOG_H_
#define ROSTER_SERVER_API_LOG_H_

#include <string>

#include "absl/strings/string_view.h"

namespace roster::api {

// `fields`: further `,"key":value` pairs, already JSON-encoded (may be empty).
void LogJson(absl::string_view level, absl::string_view msg,
             absl::string_view fields = "");

// `text` as the inside of a JSON string (quotes and backslashes escaped,
// control characters replaced by spaces).
std::string JsonEscape(absl::string_view text);

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_LOG_H_

// ProtoJSON spells a bool `true` or `false`. Protobuf 3.21's parser also
// takes strings for one ("true", "yes", "y", "1", "no", ...), which Go's,
// Java's and connect-es's parsers refuse; so does Roster, since a string
// that happens to read as true must not accept the terms.
#ifndef ROSTER_SERVER_WEB_STRICT_JSON_H_
#define ROSTER_SERVER_WEB_STRICT_JSON_H_

#include <optional>
#include <string>

#include "google/protobuf/descriptor.h"

namespace roster::web {

// The path (e.g. "users[1].skip_password_checks") of the first bool field
// that `json`, a `type` in JSON that JsonStringToMessage accepted, gives as a
// string; nullopt when there is none. Only a body of a type that can hold a
// bool, with a string that could spell one, is parsed a second time.
std::optional<std::string> QuotedBoolField(
    const google::protobuf::Descriptor& type, const std::string& json);

namespace internal {
// QuotedBoolField without its scan for strings that could spell a bool: the
// slow check it must always agree with (fuzz_web_requests holds it to that).
std::optional<std::string> QuotedBoolFieldUnscanned(
    const google::protobuf::Descriptor& type, const std::string& json);
}  // namespace internal

}  // namespace roster::web

#endif  // ROSTER_SERVER_WEB_STRICT_JSON_H_

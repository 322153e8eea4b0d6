// google.protobuf.Struct to and from the JSON object text that metadata is
// stored as. Request metadata is checked on the way in (JSON has no NaN or
// Infinity); stored text, already valid, is converted on every read, so that
// direction builds the Struct straight from a SAX parse.
#ifndef ROSTER_SERVER_API_STRUCT_JSON_H_
#define ROSTER_SERVER_API_STRUCT_JSON_H_

#include <optional>
#include <string>

#include "google/protobuf/struct.pb.h"
#include "server/domain/errors.h"

namespace roster::api {

// `value` as compact JSON text; `field` names it in the violation when it
// cannot be JSON (NaN or infinite numbers).
std::optional<std::string> StructToJson(const google::protobuf::Struct& value,
                                        const std::string& field,
                                        domain::Violations& violations);

// Stored JSON object text as a Struct. Stored text is always a valid object;
// anything else becomes an empty Struct.
void JsonToStruct(const std::string& json, google::protobuf::Struct& out);

}  // namespace roster::api

#endif  // ROSTER_SERVER_API_STRUCT_JSON_H_

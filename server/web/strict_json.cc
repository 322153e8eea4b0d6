#include "server/web/strict_json.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace roster::web {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Value;

// Well-known types have JSON forms of their own; of them only BoolValue
// holds a bool.
bool IsWellKnown(const Descriptor& type) {
  return absl::StartsWith(type.file()->name(), "google/protobuf/");
}
bool IsBoolValue(const Descriptor& type) {
  return type.full_name() == "google.protobuf.BoolValue";
}

// The field a JSON member names: by its JSON name or its proto name, as
// JsonStringToMessage accepts either.
const FieldDescriptor* FieldNamed(const Descriptor& type,
                                  const std::string& key) {
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == key) {
      return type.field(i);
    }
  }
  return type.FindFieldByName(key);
}

bool ReachesBool(const Descriptor& type,
                 absl::flat_hash_set<const Descriptor*>& seen) {
  if (IsBoolValue(type)) {
    return true;
  }
  if (IsWellKnown(type) || !seen.insert(&type).second) {
    return false;
  }
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_BOOL ||
        (field.message_type() != nullptr &&
         ReachesBool(*field.message_type(), seen))) {
      return true;
    }
  }
  return false;
}

// The words protobuf 3.21's parser reads as a bool when given as a string,
// in any case.
bool IsBoolWord(absl::string_view word) {
  for (absl::string_view bool_word :
       {"true", "t", "yes", "y", "1", "false", "f", "no", "n", "0"}) {
    if (absl::EqualsIgnoreCase(word, bool_word)) {
      return true;
    }
  }
  return false;
}

// Whether `json`, which the parser accepted, holds a string it could have read
// as a bool: one of its words, or any string with an escape, which may spell
// one. The parser also takes strings in single quotes. Most bodies hold no
// such string, and for them the second parse, which costs twice the first, is
// skipped.
bool MayHoldQuotedBool(absl::string_view json) {
  size_t i = 0;
  while ((i = json.find_first_of("\"'", i)) != absl::string_view::npos) {
    const char quote = json[i];
    const size_t start = ++i;
    bool escaped = false;
    while (i < json.size() && json[i] != quote) {
      if (json[i] == '\\') {
        escaped = true;
        ++i;
      }
      ++i;
    }
    if (escaped || IsBoolWord(json.substr(start, i - start))) {
      return true;
    }
    ++i;
  }
  return false;
}

std::optional<std::string> CheckObject(const Descriptor& type,
                                       const Value& object,
                                       const std::string& prefix);

// One value of `field` (an element, when it is repeated).
std::optional<std::string> CheckValue(const FieldDescriptor& field,
                                      const Value& value,
                                      const std::string& path) {
  if (value.kind_case() == Value::kNullValue) {
    return std::nullopt;
  }
  const Descriptor* message = field.message_type();
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_BOOL ||
      (message != nullptr && IsBoolValue(*message))) {
    return value.kind_case() == Value::kBoolValue
               ? std::nullopt
               : std::optional<std::string>(path);
  }
  if (message != nullptr && !IsWellKnown(*message)) {
    return CheckObject(*message, value, absl::StrCat(path, "."));
  }
  return std::nullopt;
}

std::optional<std::string> CheckObject(const Descriptor& type,
                                       const Value& object,
                                       const std::string& prefix) {
  if (object.kind_case() != Value::kStructValue) {
    return std::nullopt;
  }
  for (const auto& [key, value] : object.struct_value().fields()) {
    const FieldDescriptor* field = FieldNamed(type, key);
    if (field == nullptr) {
      continue;  // Ignored, as JsonParseOptions::ignore_unknown_fields says.
    }
    const std::string path = absl::StrCat(prefix, field->name());
    std::optional<std::string> found;
    if (field->is_map()) {
      // Keys are strings in JSON whatever their type; values are checked.
      if (value.kind_case() == Value::kStructValue) {
        const FieldDescriptor& values = *field->message_type()->map_value();
        for (const auto& entry : value.struct_value().fields()) {
          if ((found = CheckValue(values, entry.second, path))) {
            return found;
          }
        }
      }
    } else if (field->is_repeated()) {
      if (value.kind_case() == Value::kListValue) {
        const auto& elements = value.list_value().values();
        for (int i = 0; i < elements.size(); ++i) {
          if ((found = CheckValue(*field, elements[i],
                                  absl::StrCat(path, "[", i, "]")))) {
            return found;
          }
        }
      }
    } else if ((found = CheckValue(*field, value, path))) {
      return found;
    }
  }
  return std::nullopt;
}

bool CanHoldBool(const Descriptor& type) {
  absl::flat_hash_set<const Descriptor*> seen;
  return ReachesBool(type, seen);
}

// The second parse: Value keeps each member's JSON kind, which the typed
// parse forgot.
std::optional<std::string> FindQuotedBool(const Descriptor& type,
                                          const std::string& json) {
  Value parsed;
  if (!google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) {
    return std::nullopt;  // The typed parse accepted it; nothing to add.
  }
  return CheckObject(type, parsed, "");
}

}  // namespace

std::optional<std::string> QuotedBoolField(const Descriptor& type,
                                           const std::string& json) {
  if (!CanHoldBool(type) || !MayHoldQuotedBool(json)) {
    return std::nullopt;
  }
  return FindQuotedBool(type, json);
}

namespace internal {

std::optional<std::string> QuotedBoolFieldUnscanned(const Descriptor& type,
                                                    const std::string& json) {
  if (!CanHoldBool(type)) {
    return std::nullopt;
  }
  return FindQuotedBool(type, json);
}

}  // namespace internal

}  // namespace roster::web

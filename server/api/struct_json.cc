#include "server/api/struct_json.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace roster::api {
namespace {

bool IsFiniteStruct(const google::protobuf::Value& value);

bool IsFiniteStruct(const google::protobuf::Struct& value) {
  for (const auto& [key, field] : value.fields()) {
    if (!IsFiniteStruct(field)) {
      return false;
    }
  }
  return true;
}

bool IsFiniteStruct(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      return std::isfinite(value.number_value());
    case google::protobuf::Value::kStructValue:
      return IsFiniteStruct(value.struct_value());
    case google::protobuf::Value::kListValue:
      for (const auto& item : value.list_value().values()) {
        if (!IsFiniteStruct(item)) {
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

// Builds a Struct straight from nlohmann's SAX events: no JSON DOM is built
// and then copied, which halves the cost of the metadata on every read.
class StructBuilder {
 public:
  explicit StructBuilder(google::protobuf::Struct& out) : out_(out) {}

  bool null() {
    return Set([](google::protobuf::Value& v) {
      v.set_null_value(google::protobuf::NULL_VALUE);
    });
  }
  bool boolean(bool value) {
    return Set([&](google::protobuf::Value& v) { v.set_bool_value(value); });
  }
  bool number_integer(nlohmann::json::number_integer_t value) {
    return Set([&](google::protobuf::Value& v) {
      v.set_number_value(static_cast<double>(value));
    });
  }
  bool number_unsigned(nlohmann::json::number_unsigned_t value) {
    return Set([&](google::protobuf::Value& v) {
      v.set_number_value(static_cast<double>(value));
    });
  }
  bool number_float(nlohmann::json::number_float_t value,
                    const std::string& /*text*/) {
    return Set([&](google::protobuf::Value& v) { v.set_number_value(value); });
  }
  bool string(std::string& value) {
    return Set([&](google::protobuf::Value& v) {
      v.set_string_value(std::move(value));
    });
  }
  bool binary(nlohmann::json::binary_t& /*value*/) {
    return false;  // Never in stored JSON.
  }
  bool start_object(std::size_t /*size*/) {
    if (frames_.empty()) {
      frames_.push_back({&out_, nullptr});
      return true;
    }
    frames_.push_back({Next().mutable_struct_value(), nullptr});
    return true;
  }
  bool key(std::string& key) {
    key_ = std::move(key);
    return true;
  }
  bool end_object() {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*size*/) {
    if (frames_.empty()) {
      return false;  // Metadata is an object.
    }
    frames_.push_back({nullptr, Next().mutable_list_value()});
    return true;
  }
  bool end_array() {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*error*/) {
    return false;
  }

 private:
  struct Frame {
    google::protobuf::Struct* object;  // Exactly one of the two is set.
    google::protobuf::ListValue* list;
  };

  // Stores a scalar in the next slot; false for a scalar outside any object
  // (the whole text is not an object).
  template <typename Fill>
  bool Set(Fill fill) {
    if (frames_.empty()) {
      return false;
    }
    fill(Next());
    return true;
  }

  // The slot for the next value: the current key of the innermost object, or
  // a new element of the innermost list. Requires a frame.
  google::protobuf::Value& Next() {
    const Frame& top = frames_.back();
    if (top.object != nullptr) {
      return (*top.object->mutable_fields())[key_];
    }
    return *top.list->add_values();
  }

  google::protobuf::Struct& out_;
  std::vector<Frame> frames_;
  std::string key_;
};

}  // namespace

std::optional<std::string> StructToJson(const google::protobuf::Struct& value,
                                        const std::string& field,
                                        domain::Violations& violations) {
  if (!IsFiniteStruct(value)) {
    violations.Add(field,
                   "numbers must be finite (JSON has no NaN or Infinity)");
    return std::nullopt;
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(value, &json).ok()) {
    violations.Add(field, "must be representable as JSON");
    return std::nullopt;
  }
  return json;
}

void JsonToStruct(const std::string& json, google::protobuf::Struct& out) {
  out.Clear();
  // Most users carry empty tiers; protobuf's JSON parser (a type resolver and
  // a writer stack per call) cost more than the rest of GetUser, so stored
  // metadata is converted directly.
  if (json.empty() || json == "{}") {
    return;
  }
  // Stored metadata was validated on the way in; should it ever fail to parse,
  // send an empty object rather than a half-filled one.
  StructBuilder builder(out);
  if (!nlohmann::json::sax_parse(json, &builder)) {
    out.Clear();
  }
}

}  // namespace roster::api

#include "server/domain/metadata.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace roster::domain {
namespace {

using Json = nlohmann::json;

absl::StatusOr<Json> Parse(absl::string_view text) {
  Json value = Json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                           /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::InvalidArgumentError("must be valid JSON");
  }
  return value;
}

constexpr absl::string_view kNul("\0", 1);

// True when a key or string anywhere in `value` holds U+0000.
bool ContainsNul(const Json& value) {
  if (value.is_string()) {
    return absl::StrContains(value.get_ref<const std::string&>(), kNul);
  }
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      if (absl::StrContains(key, kNul) || ContainsNul(member)) {
        return true;
      }
    }
  }
  if (value.is_array()) {
    for (const auto& element : value) {
      if (ContainsNul(element)) {
        return true;
      }
    }
  }
  return false;
}

absl::StatusOr<std::string> Dump(const Json& value) {
  // PostgreSQL's json functions (and so every metadata filter there) refuse
  // "\u0000", as Clerk's own store does: both adapters refuse it on the way in.
  if (ContainsNul(value)) {
    return absl::InvalidArgumentError("strings must not contain U+0000");
  }
  try {
    // Strict: invalid UTF-8 in a string is an error, never silently replaced.
    return value.dump(-1, ' ', /*ensure_ascii=*/false,
                      Json::error_handler_t::strict);
  } catch (const Json::exception&) {
    return absl::InvalidArgumentError("strings must be valid UTF-8");
  }
}

}  // namespace

absl::StatusOr<std::string> CompactJsonObject(absl::string_view json) {
  auto value = Parse(json);
  if (!value.ok()) {
    return value.status();
  }
  if (!value->is_object()) {
    return absl::InvalidArgumentError("must be a JSON object");
  }
  return Dump(*value);
}

absl::StatusOr<std::string> ApplyMergePatch(absl::string_view target,
                                            absl::string_view patch) {
  auto target_value = Parse(target);
  if (!target_value.ok()) {
    return target_value.status();
  }
  auto patch_value = Parse(patch);
  if (!patch_value.ok()) {
    return patch_value.status();
  }
  target_value->merge_patch(*patch_value);
  return Dump(*target_value);
}

}  // namespace roster::domain

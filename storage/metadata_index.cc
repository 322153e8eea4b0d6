#include "storage/metadata_index.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <iterator>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace roster::storage {
namespace {

constexpr size_t kMaxInlineValueBytes = 200;

std::string Sha256Hex(absl::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(),
             nullptr);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string NumberText(double number) {
  // 17 significant digits name each double exactly; -0 equals 0.
  if (number == 0) {
    number = 0;
  }
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.17g", number);
  return text.data();
}

// The stored value of a leaf; false for objects and arrays.
bool LeafValue(const nlohmann::json& leaf, JsonScalar& out) {
  switch (leaf.type()) {
    case nlohmann::json::value_t::null:
      out.kind = JsonScalar::Kind::kNull;
      return true;
    case nlohmann::json::value_t::boolean:
      out.kind = JsonScalar::Kind::kBool;
      out.bool_value = leaf.get<bool>();
      return true;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      out.kind = JsonScalar::Kind::kNumber;
      out.number_value = leaf.get<double>();
      return true;
    case nlohmann::json::value_t::string:
      out.kind = JsonScalar::Kind::kString;
      out.string_value = leaf.get<std::string>();
      return true;
    default:
      return false;
  }
}

void CollectLeaves(const nlohmann::json& object, int64_t tier,
                   std::vector<std::string>& keys,
                   std::vector<MetadataIndexEntry>& out) {
  for (const auto& [key, value] : object.items()) {
    if (!IsMetadataPathKey(key)) {
      continue;
    }
    keys.push_back(key);
    JsonScalar scalar;
    if (value.is_object()) {
      if (keys.size() < kMaxMetadataPathKeys) {
        CollectLeaves(value, tier, keys, out);
      }
    } else if (LeafValue(value, scalar)) {
      out.push_back(
          {tier, MetadataIndexPath(keys), MetadataIndexValue(scalar)});
    }
    keys.pop_back();
  }
}

void CollectTier(const std::string& json, MetadataTier tier,
                 std::vector<MetadataIndexEntry>& out) {
  if (json == "{}") {
    return;  // The common case, without a parse.
  }
  const nlohmann::json doc =
      nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return;
  }
  std::vector<std::string> keys;
  CollectLeaves(doc, MetadataTierCode(tier), keys, out);
}

}  // namespace

bool operator<(const MetadataIndexEntry& a, const MetadataIndexEntry& b) {
  return std::tie(a.tier, a.path, a.value) < std::tie(b.tier, b.path, b.value);
}

bool operator==(const MetadataIndexEntry& a, const MetadataIndexEntry& b) {
  return a.tier == b.tier && a.path == b.path && a.value == b.value;
}

bool IsMetadataPathKey(absl::string_view key) {
  if (key.empty() || key.size() > kMaxMetadataKeyBytes) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

int64_t MetadataTierCode(MetadataTier tier) {
  switch (tier) {
    case MetadataTier::kPublic:
      return 1;
    case MetadataTier::kPrivate:
      return 2;
    case MetadataTier::kUnsafe:
      return 3;
  }
  return 1;
}

std::string MetadataIndexPath(const std::vector<std::string>& keys) {
  return absl::StrJoin(keys, ".");
}

std::string MetadataIndexValue(const JsonScalar& value) {
  std::string text;
  switch (value.kind) {
    case JsonScalar::Kind::kNull:
      return "z";
    case JsonScalar::Kind::kBool:
      return value.bool_value ? "t" : "f";
    case JsonScalar::Kind::kNumber:
      return "n" + NumberText(value.number_value);
    case JsonScalar::Kind::kString:
      text = "s" + value.string_value;
      break;
  }
  if (text.size() > kMaxInlineValueBytes ||
      absl::StrContains(text, absl::string_view("\0", 1))) {
    return "h" + Sha256Hex(text);
  }
  return text;
}

std::vector<MetadataIndexEntry> MetadataIndexEntries(const UserRecord& user) {
  std::vector<MetadataIndexEntry> entries;
  CollectTier(user.public_metadata, MetadataTier::kPublic, entries);
  CollectTier(user.private_metadata, MetadataTier::kPrivate, entries);
  CollectTier(user.unsafe_metadata, MetadataTier::kUnsafe, entries);
  std::sort(entries.begin(), entries.end());
  return entries;
}

MetadataIndexChange DiffMetadataIndex(
    const std::vector<MetadataIndexEntry>& before,
    const std::vector<MetadataIndexEntry>& after) {
  MetadataIndexChange change;
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                      std::back_inserter(change.removed));
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(change.added));
  return change;
}

MetadataIndexChange FirstMetadataIndex(const UserRecord& user) {
  MetadataIndexChange change;
  change.added = MetadataIndexEntries(user);
  return change;
}

bool MetadataChanged(const UserRecord& before, const UserRecord& after) {
  return before.public_metadata != after.public_metadata ||
         before.private_metadata != after.private_metadata ||
         before.unsafe_metadata != after.unsafe_metadata;
}

}  // namespace roster::storage

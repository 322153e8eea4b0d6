// ListUsers page tokens: decoding arbitrary bytes for each order.
#include <cstddef>
#include <cstdint>

#include "server/domain/user_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view token(reinterpret_cast<const char*>(data), size);
  for (const char* order_by :
       {"-created_at", "username", "email_address", "last_sign_in_at"}) {
    auto order = roster::domain::ParseOrderBy(order_by);
    if (!order.ok()) return 0;
    (void)roster::domain::DecodePageToken(token, "fingerprint", *order);
  }
  (void)roster::domain::ParseOrderBy(token);
  return 0;
}

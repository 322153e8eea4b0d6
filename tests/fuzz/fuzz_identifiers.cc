// Email, phone, username, free text and request id validation on arbitrary
// bytes: no crash, no undefined behaviour, and a normalised value is a fixed
// point (normalising it again changes nothing).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/domain/validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  for (auto normalize : {&roster::domain::NormalizeEmailAddress,
                         &roster::domain::NormalizePhoneNumber,
                         &roster::domain::NormalizeUsername}) {
    auto once = normalize(input);
    if (once.ok()) {
      auto twice = normalize(*once);
      if (!twice.ok() || *twice != *once) std::abort();
    }
  }
  (void)roster::domain::ValidateText(input, 256);
  (void)roster::domain::ValidateRequestId(input);
  (void)roster::domain::IsValidUtf8(input);
  return 0;
}

// Email, phone, username, free text and request id validation on arbitrary
// bytes: no crash, no undefined behaviour, and a normalised value is a fixed
// point (normalising it again changes nothing). The same for a sign-in
// identifier, whose kind must survive too: a sign-in attempt stores the
// normalised value and reads its kind from it again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/domain/sign_in.h"
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
  auto identifier = roster::domain::ParseSignInIdentifier(input);
  if (identifier.ok()) {
    auto again = roster::domain::ParseSignInIdentifier(identifier->value);
    if (!again.ok() || again->kind != identifier->kind ||
        again->value != identifier->value) {
      std::abort();
    }
  }
  (void)roster::domain::ValidateText(input, 256);
  (void)roster::domain::ValidateRequestId(input);
  (void)roster::domain::IsValidUtf8(input);
  return 0;
}

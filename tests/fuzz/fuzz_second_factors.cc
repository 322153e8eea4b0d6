// Second-factor input: arbitrary bytes as a base32 secret (as apps show
// them), as a TOTP or backup code, as a sealed secret read back from the
// database, and as a sign-in ticket. Base32 must round-trip; a code may match
// only if it is one of the three codes of the window; nothing unsealed by a
// key may open; a ticket passes only in IssueTicket's exact shape.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/domain/data_keys.h"
#include "server/domain/sign_in_attempts.h"
#include "server/domain/totp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace roster::domain;  // NOLINT: a fuzz target's one function.
  static const DataKeys* keys = [] {
    auto parsed =
        DataKeys::Parse("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
    if (!parsed.ok()) std::abort();
    return new DataKeys(*std::move(parsed));
  }();
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto bytes = Base32Decode(input); bytes.has_value()) {
    if (Base32Decode(Base32Encode(*bytes)) != bytes) std::abort();
  }

  const std::string secret = "12345678901234567890";
  const absl::Time now = absl::FromUnixSeconds(1'800'000'015);
  if (auto step = MatchTotp(secret, input, now, 0); step.has_value()) {
    const int64_t current = TotpStepAt(now);
    if (*step < current - 1 || *step > current + 1 ||
        TotpCode(secret, *step) != input) {
      std::abort();
    }
  }
  if (IsWellFormedBackupCode(input) && input.size() != 10) std::abort();

  if (IsWellFormedSignInTicket(input) &&
      (input.size() != 47 || input.substr(0, 4) != "sit_" ||
       input.find_first_not_of("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                               "klmnopqrstuvwxyz",
                               4) != absl::string_view::npos)) {
    std::abort();
  }

  // Random bytes cannot carry a valid Poly1305 tag.
  if (keys->Open(input, "totp:user_1").ok()) std::abort();
  const std::string sealed = keys->Seal(input, "totp:user_1").value();
  if (keys->Open(sealed, "totp:user_1").value() != input) std::abort();
  return 0;
}

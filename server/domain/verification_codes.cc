#include "server/domain/verification_codes.h"

#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"

namespace roster::domain {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kDigestBytes = 32;

std::array<unsigned char, kDigestBytes> Keyed(absl::string_view code,
                                              absl::string_view salt) {
  std::array<unsigned char, kDigestBytes> out{};
  crypto_generichash(
      out.data(), out.size(),
      reinterpret_cast<const unsigned char*>(code.data()), code.size(),
      reinterpret_cast<const unsigned char*>(salt.data()), salt.size());
  return out;
}

void EnsureSodium() {
  static const bool kReady = sodium_init() >= 0;
  if (!kReady) {
    std::abort();  // No entropy source: codes would be guessable.
  }
}

}  // namespace

std::string NewVerificationCode() {
  EnsureSodium();
  // randombytes_uniform has no modulo bias.
  const uint32_t n = randombytes_uniform(1'000'000);
  std::array<char, kVerificationCodeDigits + 1> text{};
  std::snprintf(text.data(), text.size(), "%06u", n);
  return std::string(text.data(), kVerificationCodeDigits);
}

bool IsWellFormedVerificationCode(absl::string_view code) {
  if (code.size() != kVerificationCodeDigits) {
    return false;
  }
  for (char c : code) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::string DigestVerificationCode(absl::string_view code) {
  EnsureSodium();
  std::string salt(kSaltBytes, '\0');
  randombytes_buf(salt.data(), salt.size());
  const auto digest = Keyed(code, salt);
  return absl::StrCat(
      absl::BytesToHexString(salt), ":",
      absl::BytesToHexString(absl::string_view(
          reinterpret_cast<const char*>(digest.data()), digest.size())));
}

bool VerificationCodeMatches(absl::string_view code, absl::string_view digest) {
  const std::vector<absl::string_view> parts = absl::StrSplit(digest, ':');
  if (parts.size() != 2 || parts[0].size() != 2 * kSaltBytes ||
      parts[1].size() != 2 * kDigestBytes) {
    return false;
  }
  const std::string salt = absl::HexStringToBytes(parts[0]);
  const std::string expected = absl::HexStringToBytes(parts[1]);
  const auto actual = Keyed(code, salt);
  return sodium_memcmp(actual.data(), expected.data(), kDigestBytes) == 0;
}

absl::Status VerificationCodeIncorrect() {
  return Error(absl::StatusCode::kInvalidArgument, reason::kVerificationFailed,
               "the code is incorrect", {{"code", "is incorrect"}});
}

absl::Status VerificationCodeIncorrect(int32_t attempts_left) {
  return Error(absl::StatusCode::kInvalidArgument, reason::kVerificationFailed,
               attempts_left > 0
                   ? absl::StrCat("the code is incorrect; ", attempts_left,
                                  attempts_left == 1 ? " attempt left"
                                                     : " attempts left")
                   : std::string("the code is incorrect; no attempts left, "
                                 "prepare a new one"),
               {{"code", "is incorrect"}});
}

absl::Status VerificationCodeExpired() {
  return Error(absl::StatusCode::kFailedPrecondition,
               reason::kVerificationExpired,
               "the code has expired; prepare a new one");
}

}  // namespace roster::domain

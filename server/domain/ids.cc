#include "server/domain/ids.h"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace roster::domain {
namespace {

constexpr char kBase62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int64_t kKsuidEpochSeconds = 1400000000;

// Encodes 20 big-endian bytes as exactly 27 base62 digits, most significant
// first, so the lexicographic order of ids is the numeric order of the bytes.
// Long division over five 32-bit limbs by 62^5, five digits a round: the
// byte-wise division by 62 it replaces took ~8,000 instructions an id, and a
// created user takes three ids.
std::string Base62Encode(const std::array<uint8_t, 20>& bytes) {
  constexpr uint64_t kFiveDigits = 62ULL * 62 * 62 * 62 * 62;  // < 2^30
  std::array<uint32_t, 5> limbs{};
  for (size_t i = 0; i < bytes.size(); ++i) {
    limbs[i / 4] = (limbs[i / 4] << 8) | bytes[i];
  }
  std::string out(kIdBodyLength, '0');
  int position = kIdBodyLength;
  while (position > 0) {
    uint64_t remainder = 0;
    for (uint32_t& limb : limbs) {
      const uint64_t accumulator = (remainder << 32) | limb;
      limb = static_cast<uint32_t>(accumulator / kFiveDigits);
      remainder = accumulator % kFiveDigits;
    }
    // 2^160 < 62^27, so the last round's two digits are all that is left.
    for (int digit = 0; digit < 5 && position > 0; ++digit) {
      out[static_cast<size_t>(--position)] = kBase62[remainder % 62];
      remainder /= 62;
    }
  }
  return out;
}

}  // namespace

SystemRandom::SystemRandom() {
  if (sodium_init() < 0) {
    std::abort();  // No entropy source: generating ids or secrets would be
                   // unsafe.
  }
}

void SystemRandom::Fill(absl::Span<uint8_t> out) {
  randombytes_buf(out.data(), out.size());
}

std::string IdGenerator::New(absl::string_view prefix) const {
  std::array<uint8_t, 20> bytes{};
  const int64_t seconds =
      absl::ToUnixSeconds(clock_->Now()) - kKsuidEpochSeconds;
  const auto timestamp = static_cast<uint32_t>(seconds < 0 ? 0 : seconds);
  bytes[0] = static_cast<uint8_t>(timestamp >> 24);
  bytes[1] = static_cast<uint8_t>(timestamp >> 16);
  bytes[2] = static_cast<uint8_t>(timestamp >> 8);
  bytes[3] = static_cast<uint8_t>(timestamp);
  random_->Fill(absl::MakeSpan(bytes).subspan(4));
  std::string id(prefix);
  id += Base62Encode(bytes);
  return id;
}

bool IsWellFormedId(absl::string_view id, absl::string_view prefix) {
  if (id.size() != prefix.size() + kIdBodyLength ||
      id.substr(0, prefix.size()) != prefix) {
    return false;
  }
  for (char c : id.substr(prefix.size())) {
    const bool base62 = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                        (c >= 'a' && c <= 'z');
    if (!base62) {
      return false;
    }
  }
  return true;
}

std::string NewSecret(RandomSource& random, absl::string_view prefix,
                      int length) {
  std::string secret(prefix);
  while (static_cast<int>(secret.size()) <
         static_cast<int>(prefix.size()) + length) {
    uint8_t byte = 0;
    random.Fill(absl::MakeSpan(&byte, 1));
    // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
    if (byte < 248) {
      secret.push_back(kBase62[byte % 62]);
    }
  }
  return secret;
}

std::string Fingerprint(absl::string_view data) {
  std::array<unsigned char, 16> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size(), nullptr, 0);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace roster::domain

#include "server/domain/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <qrencode.h>
#include <sodium.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace roster::domain {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr char kBackupAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr size_t kBackupCodeLength = 10;  // 51.7 bits each.

// RFC 3986 unreserved characters stay; everything else is %XX.
std::string UriEscape(absl::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", u);
    }
  }
  return out;
}

struct QrCodeFree {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

}  // namespace

std::string NewTotpSecret() {
  std::string secret(kTotpSecretBytes, '\0');
  randombytes_buf(secret.data(), secret.size());
  return secret;
}

std::string Base32Encode(absl::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) {
    out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 31]);
  }
  return out;
}

std::optional<std::string> Base32Decode(absl::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (const char c : text) {
    if (c == ' ') {
      continue;
    }
    if (c == '=') {
      padding = true;
      continue;
    }
    const char upper = absl::ascii_toupper(static_cast<unsigned char>(c));
    int value = -1;
    if (upper >= 'A' && upper <= 'Z') {
      value = upper - 'A';
    } else if (upper >= '2' && upper <= '7') {
      value = upper - '2' + 26;
    }
    if (value < 0 || padding) {  // Nothing may follow padding.
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

int64_t TotpStepAt(absl::Time time) {
  return absl::ToUnixSeconds(time) / kTotpStepSeconds;
}

std::string TotpCode(absl::string_view secret, int64_t step) {
  unsigned char counter[8];
  for (int i = 7; i >= 0; --i) {
    counter[i] = static_cast<unsigned char>(step & 0xff);
    step >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), counter,
       sizeof(counter), mac, &mac_length);
  // RFC 4226 §5.3: dynamic truncation.
  const int offset = mac[mac_length - 1] & 0x0f;
  const uint32_t binary =
      ((mac[offset] & 0x7fU) << 24) | ((mac[offset + 1] & 0xffU) << 16) |
      ((mac[offset + 2] & 0xffU) << 8) | (mac[offset + 3] & 0xffU);
  return absl::StrFormat("%06u", binary % 1000000U);
}

bool IsWellFormedTotpCode(absl::string_view code) {
  if (code.size() != kTotpDigits) {
    return false;
  }
  for (const char c : code) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::optional<int64_t> MatchTotp(absl::string_view secret,
                                 absl::string_view code, absl::Time now,
                                 int64_t last_used_step) {
  if (!IsWellFormedTotpCode(code)) {
    return std::nullopt;
  }
  const int64_t current = TotpStepAt(now);
  std::optional<int64_t> matched;
  // Every candidate is computed and compared, so the time says nothing
  // about which step matched.
  for (int64_t step = current - 1; step <= current + 1; ++step) {
    const std::string expected = TotpCode(secret, step);
    const bool equal =
        CRYPTO_memcmp(expected.data(), code.data(), kTotpDigits) == 0;
    if (equal && step > last_used_step && !matched.has_value()) {
      matched = step;
    }
  }
  return matched;
}

std::string TotpUri(absl::string_view secret, absl::string_view issuer,
                    absl::string_view account) {
  return absl::StrCat("otpauth://totp/", UriEscape(issuer), ":",
                      UriEscape(account), "?secret=", Base32Encode(secret),
                      "&issuer=", UriEscape(issuer),
                      "&algorithm=SHA1&digits=6&period=30");
}

absl::StatusOr<std::string> QrCodeSvg(absl::string_view text) {
  const std::string input(text);
  std::unique_ptr<QRcode, QrCodeFree> code(
      QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (code == nullptr) {
    return absl::InternalError("the QR code could not be encoded");
  }
  const int width = code->width;
  constexpr int kQuietZone = 4;  // Modules of white border, per ISO 18004.
  const int size = width + 2 * kQuietZone;
  std::string path;
  for (int y = 0; y < width; ++y) {
    for (int x = 0; x < width; ++x) {
      if (code->data[y * width + x] & 1) {
        absl::StrAppend(&path, "M", x + kQuietZone, " ", y + kQuietZone,
                        "h1v1h-1z");
      }
    }
  }
  return absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ", size, " ",
      size, "\" shape-rendering=\"crispEdges\"><rect width=\"", size,
      "\" height=\"", size, "\" fill=\"#fff\"/><path fill=\"#000\" d=\"", path,
      "\"/></svg>");
}

std::vector<std::string> NewBackupCodes() {
  std::vector<std::string> codes;
  for (int i = 0; i < kBackupCodeCount; ++i) {
    std::string code(kBackupCodeLength, '\0');
    for (char& c : code) {
      c = kBackupAlphabet[randombytes_uniform(sizeof(kBackupAlphabet) - 1)];
    }
    codes.push_back(std::move(code));
  }
  return codes;
}

bool IsWellFormedBackupCode(absl::string_view code) {
  if (code.size() != kBackupCodeLength) {
    return false;
  }
  for (const char c : code) {
    const auto u = static_cast<unsigned char>(c);
    if (!absl::ascii_isdigit(u) && !absl::ascii_islower(u)) {
      return false;
    }
  }
  return true;
}

}  // namespace roster::domain

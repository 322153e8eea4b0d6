#include "server/domain/data_keys.h"

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace roster::domain {
namespace {

constexpr size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kKeyBytes == 32);

// 4 bytes of a keyed-by-nothing BLAKE2b of the key: names it without saying
// anything useful about it.
std::string KeyFingerprint(const std::array<unsigned char, 32>& key) {
  unsigned char digest[4];
  crypto_generichash(digest, sizeof(digest), key.data(), key.size(),
                     reinterpret_cast<const unsigned char*>("roster-data-key"),
                     15);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace

DataKeys::~DataKeys() {
  for (Key& key : keys_) {
    sodium_memzero(key.bytes.data(), key.bytes.size());
  }
}

absl::StatusOr<DataKeys> DataKeys::Parse(absl::string_view file_content) {
  if (sodium_init() < 0) {
    return absl::InternalError("libsodium failed to initialise");
  }
  DataKeys keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(file_content, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    Key key;
    size_t length = 0;
    if (sodium_base642bin(key.bytes.data(), key.bytes.size(), line.data(),
                          line.size(), nullptr, &length, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        length != kKeyBytes) {
      sodium_memzero(key.bytes.data(), key.bytes.size());
      return absl::InvalidArgumentError(absl::StrCat(
          "data keys line ", line_number,
          " is not 32 bytes in standard base64 (make one with `openssl rand "
          "-base64 32`)"));
    }
    key.id = KeyFingerprint(key.bytes);
    keys.keys_.push_back(std::move(key));
  }
  if (keys.keys_.empty()) {
    return absl::InvalidArgumentError(
        "the data keys file holds no key (one per line, `openssl rand "
        "-base64 32`)");
  }
  return keys;
}

std::string DataKeys::NewFile() {
  if (sodium_init() < 0) {
    return "";
  }
  std::array<unsigned char, kKeyBytes> key{};
  randombytes_buf(key.data(), key.size());
  char encoded[sodium_base64_ENCODED_LEN(kKeyBytes,
                                         sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(encoded, sizeof(encoded), key.data(), key.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(key.data(), key.size());
  std::string file = absl::StrCat(encoded, "\n");
  sodium_memzero(encoded, sizeof(encoded));
  return file;
}

std::string DataKeys::sealing_key_id() const {
  return keys_.empty() ? "" : keys_.front().id;
}

const DataKeys::Key* DataKeys::Find(absl::string_view key_id) const {
  for (const Key& key : keys_) {
    if (key.id == key_id) {
      return &key;
    }
  }
  return nullptr;
}

bool DataKeys::Has(absl::string_view key_id) const {
  return Find(key_id) != nullptr;
}

std::string DataKeys::KeyIdOf(absl::string_view sealed) {
  const size_t dot = sealed.find('.');
  return dot == absl::string_view::npos ? ""
                                        : std::string(sealed.substr(0, dot));
}

absl::StatusOr<std::string> DataKeys::Seal(absl::string_view plaintext,
                                           absl::string_view context) const {
  if (keys_.empty()) {
    return absl::FailedPreconditionError(
        "no --data_keys_file: secrets cannot be stored");
  }
  const Key& key = keys_.front();
  std::string box(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, kNonceBytes);
  // The ciphertext is the plaintext's length plus the tag: no length out.
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, nullptr,
      reinterpret_cast<const unsigned char*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const unsigned char*>(context.data()),
      context.size(), nullptr, nonce, key.bytes.data());
  return absl::StrCat(key.id, ".", absl::WebSafeBase64Escape(box));
}

absl::StatusOr<std::string> DataKeys::Open(absl::string_view sealed,
                                           absl::string_view context) const {
  const std::string key_id = KeyIdOf(sealed);
  const Key* key = Find(key_id);
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("a stored secret is sealed under data key ", key_id,
                     ", which --data_keys_file does not hold"));
  }
  std::string box;
  if (!absl::WebSafeBase64Unescape(sealed.substr(key_id.size() + 1), &box) ||
      box.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("a stored secret is malformed");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(box.data());
  std::string plaintext(box.size() - kNonceBytes - kTagBytes, '\0');
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plaintext.data()), nullptr, nullptr,
          nonce + kNonceBytes, box.size() - kNonceBytes,
          reinterpret_cast<const unsigned char*>(context.data()),
          context.size(), nonce, key->bytes.data()) != 0) {
    return absl::DataLossError(
        "a stored secret failed authentication (altered, or not this user's)");
  }
  return plaintext;
}

}  // namespace roster::domain

// DataKeys: seals small secrets at rest (TOTP secrets; later OAuth tokens)
// with XChaCha20-Poly1305 under --data_keys_file (DESIGN §10). The file holds
// one key per line, 32 random bytes in standard base64; the first key seals
// and every key opens, so keys rotate by putting a new one first. A sealed
// value names its key by a short fingerprint, so a value whose key is gone is
// an error naming that key, never garbage. Keys are wiped from memory when the
// object dies. Immutable after Parse, so thread-safe.
#ifndef ROSTER_SERVER_DOMAIN_DATA_KEYS_H_
#define ROSTER_SERVER_DOMAIN_DATA_KEYS_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace roster::domain {

class DataKeys {
 public:
  DataKeys() = default;  // No keys: Seal and Open are FAILED_PRECONDITION.
  DataKeys(const DataKeys&) = delete;
  DataKeys& operator=(const DataKeys&) = delete;
  DataKeys(DataKeys&&) = default;
  DataKeys& operator=(DataKeys&&) = default;
  ~DataKeys();

  // The keys of a --data_keys_file. Blank lines and `#` comments are skipped.
  // INVALID_ARGUMENT naming the line (never its content) for a line that is
  // not 32 bytes of base64, or a file with no key.
  static absl::StatusOr<DataKeys> Parse(absl::string_view file_content);
  // A new file's content: one fresh random key.
  static std::string NewFile();

  bool empty() const { return keys_.empty(); }
  // The fingerprint (8 hex digits) of the key that seals; "" when empty.
  std::string sealing_key_id() const;
  bool Has(absl::string_view key_id) const;

  // `plaintext` sealed under the first key as "<key id>.<base64url>", bound
  // to `context` (e.g. "totp:<user id>") so it opens nowhere else.
  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   absl::string_view context) const;
  // The plaintext of a Seal result with the same `context`.
  // FAILED_PRECONDITION when its key is not loaded; DATA_LOSS when it was
  // altered or belongs to another context.
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view context) const;
  // The key id a sealed value names ("" when it names none).
  static std::string KeyIdOf(absl::string_view sealed);

 private:
  struct Key {
    std::string id;
    std::array<unsigned char, 32> bytes{};
  };
  const Key* Find(absl::string_view key_id) const;

  std::vector<Key> keys_;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_DATA_KEYS_H_

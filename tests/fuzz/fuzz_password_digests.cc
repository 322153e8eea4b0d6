// Imported password digests: every hasher's parser on arbitrary bytes (the
// first byte picks the hasher). Parsing only: a fuzzed bcrypt cost of 14
// would make each verification take a second.
#include <cstddef>
#include <cstdint>

#include "server/domain/password_digests.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kHashers[] = {
      "bcrypt",        "argon2i",           "argon2id", "pbkdf2_sha256",
      "pbkdf2_sha512", "scrypt_firebase",   "md5",      "sha256",
      "sha256_salted", "pbkdf2_sha512_hex", "unknown"};
  if (size == 0) return 0;
  const char* hasher =
      kHashers[data[0] % (sizeof(kHashers) / sizeof(kHashers[0]))];
  const absl::string_view digest(reinterpret_cast<const char*>(data + 1),
                                 size - 1);
  (void)roster::domain::ImportDigest(hasher, digest);
  (void)roster::domain::NeedsRehash(digest);
  return 0;
}

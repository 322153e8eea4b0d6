#include "server/domain/password_digests.h"

#include <crypt.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <memory>
#include <optional>
#include <regex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/domain/errors.h"
#include "server/domain/passwords.h"

namespace roster::domain {
namespace {

absl::Status DigestInvalid(const char* field, absl::string_view why) {
  return Error(absl::StatusCode::kInvalidArgument,
               reason::kPasswordDigestInvalid, absl::StrCat(field, " ", why),
               {{field, std::string(why)}});
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() &&
         sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsHex(absl::string_view s, size_t length) {
  if (s.size() != length) {
    return false;
  }
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::string Digest(const EVP_MD* md, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), out, &size, md, nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(out), size));
}

// pbkdf2_<algorithm>$<iterations>$<salt>$<hash>: Django's form has a raw salt
// and a base64 hash; Clerk exports the hash in hex, told apart by its length.
// pbkdf2_sha512_hex has both salt and hash in hex.
struct Pbkdf2 {
  const EVP_MD* md = nullptr;
  int iterations = 0;
  std::string salt;  // Raw bytes.
  std::string hash;  // Raw bytes.
};

// The raw bytes of `encoded` if it is `size` bytes in hex or in base64.
std::optional<std::string> DecodeHashBytes(absl::string_view encoded,
                                           size_t size) {
  if (IsHex(encoded, 2 * size)) {
    return absl::HexStringToBytes(encoded);
  }
  std::string raw;
  if (absl::Base64Unescape(encoded, &raw) && raw.size() == size) {
    return raw;
  }
  return std::nullopt;
}

absl::StatusOr<Pbkdf2> ParsePbkdf2(absl::string_view digest) {
  std::vector<absl::string_view> parts = absl::StrSplit(digest, '$');
  if (parts.size() != 4) {
    return DigestInvalid("password_digest",
                         "must be pbkdf2_<sha256|sha512>$iterations$salt$hash");
  }
  const bool hex_salt = parts[0] == "pbkdf2_sha512_hex";
  Pbkdf2 p;
  p.md = parts[0] == "pbkdf2_sha256"               ? EVP_sha256()
         : parts[0] == "pbkdf2_sha512" || hex_salt ? EVP_sha512()
                                                   : nullptr;
  const size_t hash_size = parts[0] == "pbkdf2_sha256" ? 32 : 64;
  std::optional<std::string> hash;
  if (p.md != nullptr && !hex_salt) {
    hash = DecodeHashBytes(parts[3], hash_size);
  } else if (p.md != nullptr && IsHex(parts[3], 2 * hash_size)) {
    hash = absl::HexStringToBytes(parts[3]);
  }
  const bool salt_ok = !parts[2].empty() && parts[2].size() <= 128 &&
                       (!hex_salt || (parts[2].size() % 2 == 0 &&
                                      IsHex(parts[2], parts[2].size())));
  if (!hash.has_value() || !absl::SimpleAtoi(parts[1], &p.iterations) ||
      p.iterations < 1 || !salt_ok) {
    return DigestInvalid("password_digest", "is not a pbkdf2 digest");
  }
  if (p.iterations > kMaxPbkdf2Iterations) {
    return DigestInvalid(
        "password_digest",
        absl::StrCat("has more than ", kMaxPbkdf2Iterations, " iterations"));
  }
  p.salt = hex_salt ? absl::HexStringToBytes(parts[2]) : std::string(parts[2]);
  p.hash = *std::move(hash);
  return p;
}

bool VerifyPbkdf2(absl::string_view stored, absl::string_view password) {
  auto p = ParsePbkdf2(stored);
  if (!p.ok()) {
    return false;
  }
  std::string derived(p->hash.size(), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(p->salt.data()),
                        static_cast<int>(p->salt.size()), p->iterations, p->md,
                        static_cast<int>(derived.size()),
                        reinterpret_cast<unsigned char*>(derived.data())) !=
      1) {
    return false;
  }
  return ConstantTimeEquals(derived, p->hash);
}

bool VerifyBcrypt(absl::string_view stored, absl::string_view password) {
  // crypt_data is large (~32 KiB): keep it off the stack.
  auto data = std::make_unique<crypt_data>();
  const std::string setting(stored);
  const std::string phrase(password);
  const char* out = crypt_r(phrase.c_str(), setting.c_str(), data.get());
  return out != nullptr && out[0] != '*' && ConstantTimeEquals(out, stored);
}

// Firebase's scrypt: `<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<mem
// cost>`, the first four base64. hash = AES-256-CTR(key = scrypt(password, salt
// + separator, N = 2^mem_cost, r = rounds, p = 1)[0:32], iv = 0) of the signer
// key.
struct FirebaseScrypt {
  std::string hash, salt, signer_key, separator;
  int rounds = 0;
  int mem_cost = 0;
};

absl::StatusOr<FirebaseScrypt> ParseFirebaseScrypt(absl::string_view digest) {
  std::vector<std::string> parts = absl::StrSplit(digest, '$');
  FirebaseScrypt f;
  if (parts.size() != 6 || !absl::Base64Unescape(parts[0], &f.hash) ||
      !absl::Base64Unescape(parts[1], &f.salt) ||
      !absl::Base64Unescape(parts[2], &f.signer_key) ||
      !absl::Base64Unescape(parts[3], &f.separator) ||
      !absl::SimpleAtoi(parts[4], &f.rounds) ||
      !absl::SimpleAtoi(parts[5], &f.mem_cost) || f.hash.empty() ||
      f.salt.empty() || f.hash.size() != f.signer_key.size() ||
      f.hash.size() > 256) {
    return DigestInvalid(
        "password_digest",
        "must be hash$salt$signer_key$salt_separator$rounds$mem_cost (base64, "
        "then numbers)");
  }
  // r = 8 and N = 2^14 take 16 MiB; the bounds keep memory at 128 MiB at most.
  if (f.rounds < 1 || f.rounds > 16 || f.mem_cost < 1 || f.mem_cost > 17 ||
      (int64_t{128} * f.rounds << f.mem_cost) > (int64_t{128} << 20)) {
    return DigestInvalid("password_digest",
                         "has scrypt costs above the allowed bounds");
  }
  return f;
}

bool VerifyFirebaseScrypt(absl::string_view stored,
                          absl::string_view password) {
  auto f = ParseFirebaseScrypt(stored);
  if (!f.ok()) {
    return false;
  }
  const std::string salt = f->salt + f->separator;
  unsigned char key[64];
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), uint64_t{1} << f->mem_cost,
                     static_cast<uint64_t>(f->rounds), 1, uint64_t{256} << 20,
                     key, sizeof(key)) != 1) {
    return false;
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(
      EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  const unsigned char iv[16] = {};
  std::string out(f->signer_key.size(), '\0');
  int written = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, key, iv) != 1 ||
      EVP_EncryptUpdate(
          ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
          reinterpret_cast<const unsigned char*>(f->signer_key.data()),
          static_cast<int>(f->signer_key.size())) != 1) {
    return false;
  }
  return ConstantTimeEquals(out, f->hash);
}

const std::regex& BcryptPattern() {
  static const auto* pattern =
      new std::regex(R"(^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$)");
  return *pattern;
}

const std::regex& Argon2Pattern() {
  static const auto* pattern = new std::regex(
      R"(^\$argon2(id|i)\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,}$)");
  return *pattern;
}

}  // namespace

absl::StatusOr<std::string> ImportDigest(absl::string_view hasher,
                                         absl::string_view digest) {
  if (digest.empty() || digest.size() > 1024) {
    return DigestInvalid("password_digest", "must be 1-1024 characters");
  }
  const std::string d(digest);
  std::smatch match;
  if (hasher == "bcrypt") {
    if (!std::regex_match(d, match, BcryptPattern())) {
      return DigestInvalid("password_digest",
                           "is not a bcrypt hash ($2a$, $2b$ or $2y$)");
    }
    const int cost = std::stoi(match[1]);
    if (cost < 4 || cost > kMaxBcryptCost) {
      return DigestInvalid(
          "password_digest",
          absl::StrCat("has a bcrypt cost outside 4-", kMaxBcryptCost));
    }
    return d;
  }
  if (hasher == "argon2id" || hasher == "argon2i") {
    if (!std::regex_match(d, match, Argon2Pattern()) ||
        match[1].str() != std::string(hasher.substr(6))) {
      return DigestInvalid("password_digest",
                           absl::StrCat("is not an ", hasher, " PHC string"));
    }
    const int64_t memory = std::stoll(match[2]);
    const int64_t iterations = std::stoll(match[3]);
    const int64_t lanes = std::stoll(match[4]);
    if (memory > kMaxArgon2MemoryKiB || iterations > kMaxArgon2Iterations ||
        lanes < 1 || lanes > 16 || iterations < 1) {
      return DigestInvalid("password_digest",
                           "has argon2 costs above the allowed bounds");
    }
    return d;
  }
  if (hasher == "pbkdf2_sha256" || hasher == "pbkdf2_sha512" ||
      hasher == "pbkdf2_sha512_hex") {
    if (!absl::StartsWith(d, absl::StrCat(hasher, "$"))) {
      return DigestInvalid("password_digest",
                           absl::StrCat("must start with ", hasher, "$"));
    }
    auto parsed = ParsePbkdf2(d);
    if (!parsed.ok()) {
      return parsed.status();
    }
    return d;
  }
  if (hasher == "md5" || hasher == "sha256") {
    if (!IsHex(d, hasher == "md5" ? 32 : 64)) {
      return DigestInvalid("password_digest",
                           absl::StrCat("is not a hex ", hasher, " digest"));
    }
    return absl::StrCat(hasher, "$", absl::AsciiStrToLower(d));
  }
  if (hasher == "sha256_salted") {
    std::vector<std::string> parts = absl::StrSplit(d, absl::MaxSplits('$', 1));
    if (parts.size() != 2 || !IsHex(parts[0], 64) || parts[1].empty() ||
        parts[1].size() > 128) {
      return DigestInvalid("password_digest",
                           "must be <hex sha256(password + salt)>$<salt>");
    }
    return absl::StrCat("sha256_salted$", absl::AsciiStrToLower(parts[0]), "$",
                        parts[1]);
  }
  if (hasher == "scrypt_firebase") {
    auto parsed = ParseFirebaseScrypt(d);
    if (!parsed.ok()) {
      return parsed.status();
    }
    return absl::StrCat("scrypt_firebase$", d);
  }
  return DigestInvalid(
      "password_hasher",
      "must be one of bcrypt, argon2i, argon2id, pbkdf2_sha256, pbkdf2_sha512, "
      "pbkdf2_sha512_hex, scrypt_firebase, "
      "md5, sha256, sha256_salted");
}

bool VerifyStoredPassword(absl::string_view stored,
                          absl::string_view password) {
  if (absl::StartsWith(stored, "$argon2")) {
    return VerifyPassword(stored, password);
  }
  if (absl::StartsWith(stored, "$2a$") || absl::StartsWith(stored, "$2b$") ||
      absl::StartsWith(stored, "$2y$")) {
    return VerifyBcrypt(stored, password);
  }
  if (absl::StartsWith(stored, "pbkdf2_")) {
    return VerifyPbkdf2(stored, password);
  }
  if (absl::ConsumePrefix(&stored, "scrypt_firebase$")) {
    return VerifyFirebaseScrypt(stored, password);
  }
  if (absl::ConsumePrefix(&stored, "md5$")) {
    return ConstantTimeEquals(Digest(EVP_md5(), password), stored);
  }
  if (absl::ConsumePrefix(&stored, "sha256$")) {
    return ConstantTimeEquals(Digest(EVP_sha256(), password), stored);
  }
  if (absl::ConsumePrefix(&stored, "sha256_salted$")) {
    std::vector<absl::string_view> parts =
        absl::StrSplit(stored, absl::MaxSplits('$', 1));
    return parts.size() == 2 &&
           ConstantTimeEquals(
               Digest(EVP_sha256(), absl::StrCat(password, parts[1])),
               parts[0]);
  }
  return false;
}

bool NeedsRehash(absl::string_view stored) {
  if (!absl::StartsWith(stored, "$argon2id$")) {
    return true;
  }
  const std::string terminated(stored);
  return crypto_pwhash_str_needs_rehash(terminated.c_str(), kArgon2OpsLimit,
                                        kArgon2MemLimit) != 0;
}

}  // namespace roster::domain

#include "server/domain/passwords.h"

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/domain/errors.h"
#include "server/domain/hash_memory.h"

namespace roster::domain {
namespace {

absl::Status PasswordError(const char* why_reason,
                           absl::string_view description) {
  return Error(absl::StatusCode::kInvalidArgument, why_reason,
               absl::StrCat("password ", description),
               {{"password", std::string(description)}});
}

}  // namespace

absl::Status CheckNewPassword(absl::string_view password, bool skip_checks,
                              const std::vector<std::string>& identifiers) {
  if (password.size() > kMaxPasswordBytes) {
    return PasswordError(
        reason::kPasswordTooLong,
        absl::StrCat("must be at most ", kMaxPasswordBytes, " bytes"));
  }
  if (password.empty() ||
      (!skip_checks && password.size() < kMinPasswordBytes)) {
    return PasswordError(
        reason::kPasswordTooShort,
        absl::StrCat("must be at least ", kMinPasswordBytes, " bytes"));
  }
  if (skip_checks) {
    return absl::OkStatus();
  }
  for (const auto& identifier : identifiers) {
    if (!identifier.empty() && absl::EqualsIgnoreCase(password, identifier)) {
      return PasswordError(reason::kPasswordMatchesIdentifier,
                           "must not be one of the user's identifiers");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> HashPassword(absl::string_view password) {
  const auto reserved = HashMemoryBudget::Global().Reserve(kArgon2MemLimit);
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, password.data(), password.size(), kArgon2OpsLimit,
                        kArgon2MemLimit) != 0) {
    return absl::InternalError("argon2id could not allocate its memory");
  }
  return std::string(hash);
}

bool VerifyPassword(absl::string_view hash, absl::string_view password) {
  const auto reserved =
      HashMemoryBudget::Global().Reserve(HashMemoryCost(hash));
  // crypto_pwhash_str_verify needs a NUL-terminated hash.
  const std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(),
                                  password.size()) == 0;
}

void VerifyNothing(absl::string_view password) {
  // A fixed, valid hash with our parameters (of a random password nobody
  // knows).
  static const std::string* const kDecoy = [] {
    unsigned char random[32];
    randombytes_buf(random, sizeof(random));
    auto hash = HashPassword(
        absl::string_view(reinterpret_cast<char*>(random), sizeof(random)));
    return new std::string(hash.ok() ? *hash : "");
  }();
  VerifyPassword(*kDecoy, password);
}

}  // namespace roster::domain

#include "server/api/auth.h"

#include <sodium.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/domain/errors.h"

namespace roster::api {
namespace {

std::array<unsigned char, 32> DigestOf(absl::string_view key) {
  std::array<unsigned char, 32> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(key.data()),
                     key.size(), nullptr, 0);
  return digest;
}

absl::Status Unauthenticated(absl::string_view why) {
  return domain::Error(absl::StatusCode::kUnauthenticated,
                       domain::reason::kUnauthenticated, why);
}

}  // namespace

SecretKeyAuthenticator::SecretKeyAuthenticator(
    const std::vector<std::string>& secret_keys) {
  if (sodium_init() < 0) {
    std::abort();  // libsodium cannot run here; comparing secrets would be
                   // unsafe.
  }
  for (const auto& key : secret_keys) {
    key_digests_.push_back(DigestOf(key));
  }
}

absl::StatusOr<absl::string_view> BearerCredential(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view credential) {
  const auto [first, last] = metadata.equal_range("authorization");
  if (first == last) {
    return Unauthenticated(
        absl::StrCat("missing authorization metadata: send 'authorization: "
                     "Bearer <",
                     credential, ">'"));
  }
  if (std::next(first) != last) {
    return Unauthenticated("more than one authorization header");
  }
  const absl::string_view value(first->second.data(), first->second.size());
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(value, kScheme)) {
    return Unauthenticated(
        absl::StrCat("authorization must be 'Bearer <", credential, ">'"));
  }
  return value.substr(kScheme.size());
}

absl::StatusOr<std::string> SecretKeyAuthenticator::Authenticate(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  const auto key = BearerCredential(metadata, "secret key");
  if (!key.ok()) {
    return key.status();
  }
  const auto presented = DigestOf(*key);
  // Compare with every key, without stopping early, so timing reveals nothing
  // about the keys.
  int matches = 0;
  for (const auto& digest : key_digests_) {
    matches |=
        sodium_memcmp(presented.data(), digest.data(), digest.size()) == 0 ? 1
                                                                           : 0;
  }
  if (matches == 0) {
    return Unauthenticated("unknown secret key");
  }
  // Names the key in events without revealing it: a prefix of its digest.
  return absl::StrCat("secret_key:",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(presented.data()), 4)));
}

}  // namespace roster::api

// Session tokens: verification of arbitrary bytes as a JWT against a fixed
// key. Nothing but a token that key signed may verify.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/domain/tokens.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const roster::domain::TokenVerifier* verifier = [] {
    auto key = roster::domain::SigningKey::Parse(
        "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0");
    if (!key.ok()) std::abort();
    return new roster::domain::TokenVerifier("roster",
                                             {key->verification_key()});
  }();
  const absl::string_view token(reinterpret_cast<const char*>(data), size);
  if (verifier->Verify(token, absl::FromUnixSeconds(1'800'000'000)).ok()) {
    std::abort();  // Random bytes cannot carry a valid Ed25519 signature.
  }
  return 0;
}

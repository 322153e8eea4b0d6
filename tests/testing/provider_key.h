// A provider's signing key for tests: made with OpenSSL for one JWS alg
// (RS256, ES256 or EdDSA), publishing its public half as a JWK and signing
// compact JWS tokens, so tests can play a provider, or forge one.
#ifndef ROSTER_TESTS_TESTING_PROVIDER_KEY_H_
#define ROSTER_TESTS_TESTING_PROVIDER_KEY_H_

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace roster::testing {

inline std::string B64Url(const std::string& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(
                      bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // The terminating NUL.
  return out;
}

inline std::string BignumBytes(const BIGNUM* bn, int width = 0) {
  std::string out(static_cast<size_t>(width > 0 ? width : BN_num_bytes(bn)),
                  '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()),
               static_cast<int>(out.size()));
  return out;
}

// A provider's key pair for one JWS alg, publishing its public half as a JWK.
class ProviderKey {
 public:
  explicit ProviderKey(std::string alg) : alg_(std::move(alg)) {
    if (alg_ == "RS256") {
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    } else if (alg_ == "ES256") {
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    } else {
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    }
  }

  nlohmann::json Jwk(const std::string& kid) const {
    nlohmann::json jwk = {{"kid", kid}, {"use", "sig"}};
    if (alg_ == "RS256") {
      BIGNUM* n = nullptr;
      BIGNUM* e = nullptr;
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
      jwk.update({{"kty", "RSA"},
                  {"n", B64Url(BignumBytes(n))},
                  {"e", B64Url(BignumBytes(e))}});
      BN_free(n);
      BN_free(e);
    } else if (alg_ == "ES256") {
      std::string point(65, '\0');
      size_t length = 0;
      EVP_PKEY_get_octet_string_param(
          key_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
          reinterpret_cast<unsigned char*>(point.data()), point.size(),
          &length);
      jwk.update({{"kty", "EC"},
                  {"crv", "P-256"},
                  {"x", B64Url(point.substr(1, 32))},
                  {"y", B64Url(point.substr(33, 32))}});
    } else {
      std::string raw(32, '\0');
      size_t length = raw.size();
      EVP_PKEY_get_raw_public_key(
          key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &length);
      jwk.update({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", B64Url(raw)}});
    }
    return jwk;
  }

  // header.payload.signature, with `header` as given (alg and kid included).
  std::string Sign(const nlohmann::json& header,
                   const nlohmann::json& payload) const {
    const std::string input =
        absl::StrCat(B64Url(header.dump()), ".", B64Url(payload.dump()));
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                           EVP_MD_CTX_free);
    EVP_DigestSignInit(ctx.get(), nullptr,
                       alg_ == "EdDSA" ? nullptr : EVP_sha256(), nullptr,
                       key_.get());
    size_t length = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    EVP_DigestSign(ctx.get(), nullptr, &length, data, input.size());
    std::string signature(length, '\0');
    EVP_DigestSign(ctx.get(),
                   reinterpret_cast<unsigned char*>(signature.data()), &length,
                   data, input.size());
    signature.resize(length);
    if (alg_ == "ES256") {  // DER to JWS's r||s.
      const auto* der =
          reinterpret_cast<const unsigned char*>(signature.data());
      ECDSA_SIG* sig =
          d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(length));  // NOLINT
      signature = BignumBytes(ECDSA_SIG_get0_r(sig), 32) +
                  BignumBytes(ECDSA_SIG_get0_s(sig), 32);
      ECDSA_SIG_free(sig);
    }
    return absl::StrCat(input, ".", B64Url(signature));
  }

  const std::string& alg() const { return alg_; }

 private:
  std::string alg_;
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_{nullptr, EVP_PKEY_free};
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_PROVIDER_KEY_H_

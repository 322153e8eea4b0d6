#include "server/oauth/jwks.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/oauth/json_fields.h"

namespace roster::oauth {
namespace {

using Json = nlohmann::json;

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using Bignum = std::unique_ptr<BIGNUM, BnFree>;

std::shared_ptr<EVP_PKEY> Shared(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// A string member of a JWK, base64url-decoded.
absl::StatusOr<std::string> Member(const Json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a key has no string \"", name, "\""));
  }
  return Base64UrlDecode(it->get<std::string>());
}

// A public key from OpenSSL 3's parameters of `type` ("RSA" or "EC").
absl::StatusOr<std::shared_ptr<EVP_PKEY>> FromParams(const char* type,
                                                     OSSL_PARAM_BLD* bld) {
  const std::unique_ptr<OSSL_PARAM, ParamFree> params(
      OSSL_PARAM_BLD_to_param(bld));
  const std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (params == nullptr || ctx == nullptr ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    return absl::InvalidArgumentError(
        absl::StrCat("an ", type, " key is not a valid public key"));
  }
  return Shared(key);
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> RsaKey(const Json& jwk) {
  absl::StatusOr<std::string> n = Member(jwk, "n");
  absl::StatusOr<std::string> e = Member(jwk, "e");
  if (!n.ok() || !e.ok()) {
    return n.ok() ? e.status() : n.status();
  }
  // 2048 bits at least (NIST SP 800-131A); 8192 at most, as each check costs
  // time that grows with the modulus.
  if (n->size() < 256 || n->size() > 1024 || e->empty() || e->size() > 8) {
    return absl::InvalidArgumentError(
        "an RSA key is not 2048 to 8192 bits, or its exponent is malformed");
  }
  const auto* n_bytes = reinterpret_cast<const unsigned char*>(n->data());
  const auto* e_bytes = reinterpret_cast<const unsigned char*>(e->data());
  const Bignum n_bn(BN_bin2bn(n_bytes, static_cast<int>(n->size()), nullptr));
  const Bignum e_bn(BN_bin2bn(e_bytes, static_cast<int>(e->size()), nullptr));
  const std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (n_bn == nullptr || e_bn == nullptr || bld == nullptr ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) !=
          1) {
    return absl::ResourceExhaustedError("cannot allocate an RSA key");
  }
  return FromParams("RSA", bld.get());
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> P256Key(const Json& jwk) {
  absl::StatusOr<std::string> x = Member(jwk, "x");
  absl::StatusOr<std::string> y = Member(jwk, "y");
  if (!x.ok() || !y.ok()) {
    return x.ok() ? y.status() : x.status();
  }
  if (x->size() != 32 || y->size() != 32) {
    return absl::InvalidArgumentError("a P-256 key's x or y is not 32 bytes");
  }
  // SEC 1's uncompressed point; OpenSSL checks that it lies on the curve.
  const std::string point = absl::StrCat("\x04", *x, *y);
  const std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       point.data(), point.size()) != 1) {
    return absl::ResourceExhaustedError("cannot allocate an EC key");
  }
  return FromParams("EC", bld.get());
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> Ed25519Key(const Json& jwk) {
  absl::StatusOr<std::string> x = Member(jwk, "x");
  if (!x.ok()) {
    return x.status();
  }
  if (x->size() != 32) {
    return absl::InvalidArgumentError("an Ed25519 key is not 32 bytes");
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (key == nullptr) {
    return absl::InvalidArgumentError("an Ed25519 key is not valid");
  }
  return Shared(key);
}

// JWS's fixed-width r||s (RFC 7518 §3.4) as the DER that OpenSSL verifies.
absl::StatusOr<std::string> Es256SignatureToDer(absl::string_view raw) {
  if (raw.size() != 64) {
    return absl::UnauthenticatedError("an ES256 signature is not 64 bytes");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  Bignum r(BN_bin2bn(bytes, 32, nullptr));
  Bignum s(BN_bin2bn(bytes + 32, 32, nullptr));
  const std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return absl::ResourceExhaustedError("cannot allocate a signature");
  }
  static_cast<void>(r.release());  // Owned by `sig` now.
  static_cast<void>(s.release());
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(sig.get(), &der);
  if (length <= 0) {
    return absl::ResourceExhaustedError("cannot encode a signature");
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

bool SignatureVerifies(const Jwk& jwk, absl::string_view signing_input,
                       absl::string_view signature) {
  const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  // EdDSA hashes inside the algorithm: no digest is named for it.
  const EVP_MD* digest = jwk.alg == "EdDSA" ? nullptr : EVP_sha256();
  return ctx != nullptr &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, digest, nullptr,
                              jwk.key.get()) == 1 &&
         EVP_DigestVerify(
             ctx.get(),
             reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size(),
             reinterpret_cast<const unsigned char*>(signing_input.data()),
             signing_input.size()) == 1;
}

}  // namespace

absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text) {
  std::string out(text.size() * 3 / 4 + 1, '\0');
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), text.data(), text.size(), nullptr, &length,
                        &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return absl::InvalidArgumentError("not base64url without padding");
  }
  out.resize(length);
  return out;
}

absl::StatusOr<Jwks> Jwks::Parse(absl::string_view json) {
  if (json.size() > kMaxJwksBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the JWK Set is over ", kMaxJwksBytes, " bytes"));
  }
  const Json set = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!set.is_object() || !set.contains("keys") || !set["keys"].is_array()) {
    return absl::InvalidArgumentError("the JWK Set has no \"keys\" array");
  }
  if (set["keys"].size() > kMaxJwksKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("the JWK Set has over ", kMaxJwksKeys, " keys"));
  }
  Jwks jwks;
  for (const Json& jwk : set["keys"]) {
    if (!jwk.is_object()) {
      return absl::InvalidArgumentError("a JWK Set's key is not an object");
    }
    const std::string use = StringOr(jwk, "use");
    if (!use.empty() && use != "sig") {
      continue;
    }
    const std::string kty = StringOr(jwk, "kty");
    const std::string crv = StringOr(jwk, "crv");
    Jwk key{StringOr(jwk, "kid"), "", nullptr};
    absl::StatusOr<std::shared_ptr<EVP_PKEY>> pkey;
    if (kty == "RSA") {
      key.alg = "RS256";
      pkey = RsaKey(jwk);
    } else if (kty == "EC" && crv == "P-256") {
      key.alg = "ES256";
      pkey = P256Key(jwk);
    } else if (kty == "OKP" && crv == "Ed25519") {
      key.alg = "EdDSA";
      pkey = Ed25519Key(jwk);
    } else {
      continue;
    }
    // A key that names another algorithm (RSA for PS256, say) is not ours.
    const std::string alg = StringOr(jwk, "alg");
    if (!alg.empty() && alg != key.alg) {
      continue;
    }
    if (!pkey.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("key \"", key.kid, "\": ", pkey.status().message()));
    }
    key.key = *std::move(pkey);
    jwks.keys_.push_back(std::move(key));
  }
  return jwks;
}

const Jwk* Jwks::Find(absl::string_view kid, absl::string_view alg) const {
  const Jwk* found = nullptr;
  for (const Jwk& key : keys_) {
    if (key.alg != alg) {
      continue;
    }
    if (!kid.empty()) {
      if (key.kid == kid) {
        return &key;
      }
    } else if (found != nullptr) {
      return nullptr;  // Two candidates and no kid to choose: refuse.
    } else {
      found = &key;
    }
  }
  return found;
}

absl::StatusOr<VerifiedJws> VerifyJws(absl::string_view compact,
                                      const Jwks& keys) {
  if (compact.size() > kMaxJwsBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the token is over ", kMaxJwsBytes, " bytes"));
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(compact, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError("the token is not header.payload.sig");
  }
  absl::StatusOr<std::string> header = Base64UrlDecode(parts[0]);
  absl::StatusOr<std::string> payload = Base64UrlDecode(parts[1]);
  absl::StatusOr<std::string> signature = Base64UrlDecode(parts[2]);
  if (!header.ok() || !payload.ok() || !signature.ok()) {
    return absl::InvalidArgumentError("the token is not base64url");
  }
  const Json fields = Json::parse(*header, nullptr, false);
  if (!fields.is_object()) {
    return absl::InvalidArgumentError("the token's header is not JSON");
  }
  const std::string alg = StringOr(fields, "alg");
  if (alg != "RS256" && alg != "ES256" && alg != "EdDSA") {
    return absl::InvalidArgumentError(
        absl::StrCat("the token's alg \"", alg, "\" is not accepted"));
  }
  // RFC 7515 §4.1.11: extensions we do not know must be refused.
  if (fields.contains("crit")) {
    return absl::InvalidArgumentError("the token has critical extensions");
  }
  const std::string kid = StringOr(fields, "kid");
  const Jwk* key = keys.Find(kid, alg);
  if (key == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no ", alg, " key \"", kid, "\" in the JWK Set"));
  }
  std::string raw_signature = *std::move(signature);
  if (alg == "ES256") {
    absl::StatusOr<std::string> der = Es256SignatureToDer(raw_signature);
    if (!der.ok()) {
      return der.status();
    }
    raw_signature = *std::move(der);
  }
  const absl::string_view signing_input =
      compact.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!SignatureVerifies(*key, signing_input, raw_signature)) {
    return absl::UnauthenticatedError("the token's signature does not verify");
  }
  return VerifiedJws{*std::move(header), *std::move(payload)};
}

}  // namespace roster::oauth

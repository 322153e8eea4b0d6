// UserService's profile images. The bytes live in the images table; the user
// keeps a relative URL (/v1/images/<id>) that View() prefixes with the public
// base URL, so moving the HTTP listener never rewrites stored users. Image
// ids are never reused, so a URL's content never changes (cacheable forever).
// A social sign-up's image is the provider's absolute URL instead, which
// View() leaves alone and removing it only forgets.
#include <openssl/evp.h>

#include <array>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/domain/errors.h"
#include "server/domain/image_types.h"
#include "server/domain/user_checks.h"
#include "server/domain/user_service.h"

namespace roster::domain {
namespace {

constexpr char kImagePathPrefix[] = "/v1/images/";

std::string Sha256Hex(absl::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &size, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md.data()), size));
}

absl::Status InvalidImage(absl::string_view why) {
  return Error(absl::StatusCode::kInvalidArgument,
               reason::kInvalidArgumentFormat, absl::StrCat("image ", why),
               {{"image", std::string(why)}});
}

// The image id in a stored relative URL, or "" when there is none.
absl::string_view ImageIdOf(absl::string_view stored_url) {
  if (!absl::ConsumePrefix(&stored_url, kImagePathPrefix)) {
    return "";
  }
  return stored_url;
}

// Deletes the user's stored image, if any, and clears its URL.
absl::Status RemoveImage(storage::WriteTransaction& txn,
                         storage::UserRecord& u) {
  const absl::string_view old_id = ImageIdOf(u.image_url);
  if (!old_id.empty()) {
    absl::Status deleted = txn.DeleteImage(old_id);
    if (!deleted.ok()) {
      return deleted;
    }
  }
  u.image_url.clear();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<UserView> ImageService::SetProfileImage(
    const Caller& caller, absl::string_view user_id, std::string image,
    absl::string_view etag) {
  if (image.empty()) {
    return InvalidImage("is required");
  }
  if (image.size() > kMaxProfileImageBytes) {
    return InvalidImage(absl::StrCat("is ", image.size(), " bytes; at most ",
                                     kMaxProfileImageBytes));
  }
  const absl::string_view type = SniffImageType(image);
  if (type.empty()) {
    return InvalidImage("must be a PNG, JPEG, GIF or WebP");
  }
  storage::ImageRecord record;
  record.id = ids_->New(kImageIdPrefix);
  record.user_id = std::string(user_id);
  record.content_type = std::string(type);
  record.sha256 = Sha256Hex(image);
  record.data = std::move(image);
  record.created_at = ToMicros(clock_->Now());
  return MutateUser(caller, user_id, etag,
                    [&](storage::WriteTransaction& txn,
                        storage::UserRecord& u) -> absl::Status {
                      absl::Status removed = RemoveImage(txn, u);
                      if (!removed.ok()) {
                        return removed;
                      }
                      absl::Status stored = txn.PutImage(record);
                      if (!stored.ok()) {
                        return stored;
                      }
                      u.image_url = absl::StrCat(kImagePathPrefix, record.id);
                      return absl::OkStatus();
                    });
}

absl::StatusOr<UserView> ImageService::DeleteProfileImage(
    const Caller& caller, absl::string_view user_id, absl::string_view etag) {
  return MutateUser(
      caller, user_id, etag,
      [&](storage::WriteTransaction& txn, storage::UserRecord& u) {
        return RemoveImage(txn, u);
      });
}

absl::StatusOr<storage::ImageRecord> ImageService::GetImage(
    absl::string_view image_id) {
  if (!IsWellFormedId(image_id, kImageIdPrefix)) {
    return Error(absl::StatusCode::kNotFound, reason::kNotFound,
                 "image not found");
  }
  auto image = store_->GetImage(image_id);
  if (!image.ok()) {
    return internal::FromStore(image.status());
  }
  return image;
}

std::string AbsoluteImageUrl(absl::string_view public_http_url,
                             absl::string_view stored_url) {
  if (!absl::StartsWith(stored_url, "/")) {
    return std::string(stored_url);
  }
  absl::string_view base = public_http_url;
  absl::ConsumeSuffix(&base, "/");
  return absl::StrCat(base, stored_url);
}

}  // namespace roster::domain

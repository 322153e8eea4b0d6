#include "storage/sqlite/sqlite_identifier_rows.h"

#include "absl/strings/str_cat.h"
#include "storage/read_sql.h"

namespace roster::storage {
std::optional<std::string> FindIdentifierHolder(SqliteConnection& c,
                                                IdentifierKind kind,
                                                absl::string_view value) {
  auto& s = c.Prepare(IdentifierHolderSql(kind));
  s.bind(1, std::string(value));
  if (!s.executeStep()) {
    return std::nullopt;
  }
  std::string holder = s.getColumn(0).getString();
  s.reset();
  return holder;
}

std::vector<std::string> FindUnverifiedClaimants(SqliteConnection& c,
                                                 IdentifierKind kind,
                                                 absl::string_view value) {
  std::vector<std::string> users;
  const absl::string_view sql = UnverifiedClaimantsSql(kind);
  if (sql.empty()) {
    return users;
  }
  auto& s = c.Prepare(sql);
  s.bind(1, std::string(value));
  while (s.executeStep()) {
    users.push_back(s.getColumn(0).getString());
  }
  return users;
}

int32_t CountVerificationSend(SqliteConnection& c, absl::string_view address,
                              Micros now, Micros window_start) {
  auto& forget = c.Prepare(
      "DELETE FROM verification_sends WHERE window_start < ? AND address <> ?");
  forget.bind(1, window_start);
  forget.bind(2, std::string(address));
  forget.exec();
  auto& upsert = c.Prepare(
      "INSERT INTO verification_sends (address, window_start, sends) "
      "VALUES (?1, ?2, 1) ON CONFLICT (address) DO UPDATE SET "
      "sends = CASE WHEN window_start < ?3 THEN 1 ELSE sends + 1 END, "
      "window_start = CASE WHEN window_start < ?3 THEN ?2 ELSE window_start "
      "END RETURNING sends");
  upsert.bind(1, std::string(address));
  upsert.bind(2, now);
  upsert.bind(3, window_start);
  upsert.executeStep();
  const int32_t sends = upsert.getColumn(0).getInt();
  upsert.reset();
  return sends;
}

void InsertImage(SqliteConnection& c, const ImageRecord& image) {
  auto& s = c.Prepare(
      "INSERT INTO images (id, user_id, content_type, sha256, data, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?)");
  s.bind(1, image.id);
  s.bind(2, image.user_id);
  s.bind(3, image.content_type);
  s.bind(4, image.sha256);
  s.bind(5, image.data.data(), static_cast<int>(image.data.size()));
  s.bind(6, image.created_at);
  s.exec();
}

void DeleteImage(SqliteConnection& c, absl::string_view image_id) {
  auto& s = c.Prepare("DELETE FROM images WHERE id = ?");
  s.bind(1, std::string(image_id));
  s.exec();
}

absl::StatusOr<ImageRecord> LoadImage(SqliteConnection& c,
                                      absl::string_view image_id) {
  auto& s = c.Prepare(
      "SELECT user_id, content_type, sha256, data, created_at FROM images "
      "WHERE id = ?");
  s.bind(1, std::string(image_id));
  if (!s.executeStep()) {
    return absl::NotFoundError(absl::StrCat("image ", image_id, " not found"));
  }
  ImageRecord image;
  image.id = std::string(image_id);
  image.user_id = s.getColumn(0).getString();
  image.content_type = s.getColumn(1).getString();
  image.sha256 = s.getColumn(2).getString();
  const SQLite::Column data = s.getColumn(3);
  image.data.assign(static_cast<const char*>(data.getBlob()),
                    static_cast<size_t>(data.getBytes()));
  image.created_at = s.getColumn(4).getInt64();
  s.reset();
  return image;
}

}  // namespace roster::storage

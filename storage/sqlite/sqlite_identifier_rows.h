// Lookups by identifier value, verification send counting and profile image
// rows. Internal to storage/; every function throws SQLite::Exception on a
// database error (callers run them under a try block).
#ifndef ROSTER_STORAGE_SQLITE_SQLITE_IDENTIFIER_ROWS_H_
#define ROSTER_STORAGE_SQLITE_SQLITE_IDENTIFIER_ROWS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/records.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/user_store.h"

namespace roster::storage {

// As WriteTransaction::FindUserIdByIdentifier.
std::optional<std::string> FindIdentifierHolder(SqliteConnection& c,
                                                IdentifierKind kind,
                                                absl::string_view value);
// As WriteTransaction::FindUnverifiedClaimants.
std::vector<std::string> FindUnverifiedClaimants(SqliteConnection& c,
                                                 IdentifierKind kind,
                                                 absl::string_view value);
// As WriteTransaction::CountVerificationSend.
int32_t CountVerificationSend(SqliteConnection& c, absl::string_view address,
                              Micros now, Micros window_start);

void InsertImage(SqliteConnection& c, const ImageRecord& image);
void DeleteImage(SqliteConnection& c, absl::string_view image_id);
// The image, or NotFound.
absl::StatusOr<ImageRecord> LoadImage(SqliteConnection& c,
                                      absl::string_view image_id);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_SQLITE_SQLITE_IDENTIFIER_ROWS_H_

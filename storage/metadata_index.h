// The metadata index: one row per scalar leaf of a user's metadata, so that a
// metadata filter is an index lookup, not a parse of every user's JSON. Both
// adapters keep the rows of user_metadata_values in the transaction that
// writes the metadata, and answer filters from them alone, so this file is
// the one definition of what a filter matches (DESIGN §4, ListUsers).
//
// A leaf is indexed when the keys leading to it are 1-8 keys of 1-64
// characters of [A-Za-z0-9_-] (the only paths a filter can name) through
// objects only; values inside arrays, and objects or arrays themselves, are
// not comparable and not indexed.
#ifndef ROSTER_STORAGE_METADATA_INDEX_H_
#define ROSTER_STORAGE_METADATA_INDEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "storage/records.h"
#include "storage/user_query.h"

namespace roster::storage {

// The longest path a filter names, and a key's allowed length.
inline constexpr size_t kMaxMetadataPathKeys = 8;
inline constexpr size_t kMaxMetadataKeyBytes = 64;

// True when `key` can be one key of a filter's path.
bool IsMetadataPathKey(absl::string_view key);

// One row of user_metadata_values, less its user id.
struct MetadataIndexEntry {
  int64_t tier = 0;   // MetadataTierCode.
  std::string path;   // Keys joined by '.'.
  std::string value;  // MetadataIndexValue.

  friend bool operator<(const MetadataIndexEntry& a,
                        const MetadataIndexEntry& b);
  friend bool operator==(const MetadataIndexEntry& a,
                         const MetadataIndexEntry& b);
};

// The tier as stored: 1 public, 2 private, 3 unsafe.
int64_t MetadataTierCode(MetadataTier tier);

// `keys` joined by '.' (keys hold no '.').
std::string MetadataIndexPath(const std::vector<std::string>& keys);

// The stored form of a scalar: a kind letter and a canonical text, equal for
// two scalars exactly when the filter's equality holds (numbers by value, so
// 1 and 1.0 are one value; strings byte for byte; no kind equals another).
// Values longer than 200 bytes, or holding a NUL, are stored as a SHA-256
// digest, which keeps every row inside PostgreSQL's index tuple limit.
std::string MetadataIndexValue(const JsonScalar& value);

// Every indexed leaf of the user's three tiers, sorted. Metadata that is not
// a JSON object (never written by the domain) has no leaves.
std::vector<MetadataIndexEntry> MetadataIndexEntries(const UserRecord& user);

// What turns the rows of `before` into those of `after`.
struct MetadataIndexChange {
  std::vector<MetadataIndexEntry> removed;
  std::vector<MetadataIndexEntry> added;
};
MetadataIndexChange DiffMetadataIndex(
    const std::vector<MetadataIndexEntry>& before,
    const std::vector<MetadataIndexEntry>& after);
// The rows of `user`, for a user who has none yet (an insert, a backfill).
MetadataIndexChange FirstMetadataIndex(const UserRecord& user);

// True when the two records' metadata differ in any tier.
bool MetadataChanged(const UserRecord& before, const UserRecord& after);

}  // namespace roster::storage

#endif  // ROSTER_STORAGE_METADATA_INDEX_H_

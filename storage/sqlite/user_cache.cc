#include "storage/sqlite/user_cache.h"

#include <algorithm>
#include <utility>

namespace roster::storage {
namespace {

// Heap bytes behind a string; short strings live inside the object.
size_t HeapBytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

size_t HeapBytes(const VerificationRecord& v) {
  return HeapBytes(v.strategy) + HeapBytes(v.code_digest);
}

// A lookup's share of the budget: its key twice (map and entry) plus the id
// and the slots around them.
size_t LookupBytes(const std::string& key, const std::string& user_id) {
  return 2 * key.size() + user_id.size() + 96;
}

// Bounds the lookups one user holds: a user has a few identifiers.
constexpr size_t kMaxLookupsPerUser = 8;

}  // namespace

std::string LookupKey(IdentifierKind kind, absl::string_view value) {
  // One byte for the kind, then the value: keys of two kinds never meet.
  std::string key(1, static_cast<char>('0' + static_cast<int>(kind)));
  key.append(value.data(), value.size());
  return key;
}

size_t UserCache::ApproximateBytes(const UserRecord& user) {
  size_t bytes = sizeof(UserRecord) + sizeof(Entry) + 2 * user.id.size() +
                 64;  // Map slot, ring node and allocator overhead.
  for (const std::string* s :
       {&user.id, &user.external_id, &user.username, &user.first_name,
        &user.last_name, &user.image_url, &user.primary_email_address_id,
        &user.primary_phone_number_id, &user.public_metadata,
        &user.private_metadata, &user.unsafe_metadata, &user.password_hash}) {
    bytes += HeapBytes(*s);
  }
  for (const EmailAddressRecord& e : user.email_addresses) {
    bytes += sizeof(e) + HeapBytes(e.id) + HeapBytes(e.user_id) +
             HeapBytes(e.email_address) + HeapBytes(e.verification);
  }
  for (const PhoneNumberRecord& p : user.phone_numbers) {
    bytes += sizeof(p) + HeapBytes(p.id) + HeapBytes(p.user_id) +
             HeapBytes(p.phone_number) + HeapBytes(p.verification);
  }
  for (const ExternalAccountRecord& a : user.external_accounts) {
    bytes += sizeof(a) + HeapBytes(a.verification);
    for (const std::string* s :
         {&a.id, &a.user_id, &a.provider, &a.provider_user_id, &a.email_address,
          &a.first_name, &a.last_name, &a.username, &a.image_url,
          &a.public_metadata}) {
      bytes += HeapBytes(*s);
    }
    for (const std::string& scope : a.approved_scopes) {
      bytes += sizeof(std::string) + HeapBytes(scope);
    }
  }
  return bytes;
}

std::shared_ptr<const UserRecord> UserCache::Find(absl::string_view user_id) {
  if (budget_bytes_ == 0) {
    return nullptr;
  }
  absl::MutexLock lock(&mu_);
  return FindLocked(user_id);
}

std::shared_ptr<const UserRecord> UserCache::FindAsOf(absl::string_view user_id,
                                                      uint64_t generation) {
  if (budget_bytes_ == 0) {
    return nullptr;
  }
  absl::MutexLock lock(&mu_);
  if (generation != generation_) {
    ++misses_;
    return nullptr;
  }
  return FindLocked(user_id);
}

std::shared_ptr<const UserRecord> UserCache::FindLocked(
    absl::string_view user_id) {
  auto it = entries_.find(user_id);
  if (it == entries_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  it->second.referenced = true;
  return it->second.user;
}

uint64_t UserCache::generation() const {
  if (budget_bytes_ == 0) {
    return 0;  // Nothing is kept, so no read needs a ticket.
  }
  absl::MutexLock lock(&mu_);
  return generation_;
}

void UserCache::Insert(std::shared_ptr<const UserRecord> user,
                       uint64_t generation) {
  const size_t bytes = ApproximateBytes(*user);
  if (bytes > budget_bytes_ / 4) {
    return;
  }
  absl::MutexLock lock(&mu_);
  if (generation != generation_ || committing_.contains(user->id)) {
    return;
  }
  auto [it, inserted] = entries_.try_emplace(user->id);
  size_t lookup_bytes = 0;
  if (inserted) {
    ring_.push_back(user->id);
  } else {
    // A record present is the newest committed state, so this one is the
    // same state read again, and the lookups naming the user still hold.
    bytes_ -= it->second.bytes;
    for (const std::string& key : it->second.lookup_keys) {
      lookup_bytes += LookupBytes(key, it->first);
    }
  }
  it->second.user = std::move(user);
  it->second.bytes = bytes + lookup_bytes;
  bytes_ += it->second.bytes;
  EvictToBudget();
}

std::shared_ptr<const UserRecord> UserCache::FindLookup(
    absl::string_view lookup_key) {
  if (budget_bytes_ == 0) {
    return nullptr;
  }
  absl::MutexLock lock(&mu_);
  auto lookup = lookups_.find(lookup_key);
  if (lookup == lookups_.end()) {
    return nullptr;
  }
  auto it = entries_.find(lookup->second);
  if (it == entries_.end()) {
    return nullptr;  // Unreachable: a lookup goes with its user's entry.
  }
  ++lookup_hits_;
  it->second.referenced = true;
  return it->second.user;
}

void UserCache::InsertLookup(const std::string& lookup_key,
                             const std::string& user_id, uint64_t generation) {
  if (budget_bytes_ == 0) {
    return;
  }
  absl::MutexLock lock(&mu_);
  if (generation != generation_ || committing_.contains(user_id) ||
      committing_lookups_.contains(lookup_key) ||
      lookups_.contains(lookup_key)) {
    return;
  }
  auto it = entries_.find(user_id);
  if (it == entries_.end() ||
      it->second.lookup_keys.size() >= kMaxLookupsPerUser) {
    return;
  }
  lookups_.emplace(lookup_key, user_id);
  it->second.lookup_keys.push_back(lookup_key);
  const size_t bytes = LookupBytes(lookup_key, user_id);
  it->second.bytes += bytes;
  bytes_ += bytes;
  EvictToBudget();
}

void UserCache::EraseLocked(EntryMap::iterator it) {
  for (const std::string& key : it->second.lookup_keys) {
    lookups_.erase(key);
  }
  bytes_ -= it->second.bytes;
  entries_.erase(it);
}

void UserCache::BeginCommit(absl::Span<const std::string> user_ids,
                            absl::Span<const std::string> lookup_keys) {
  if (budget_bytes_ == 0) {
    return;
  }
  absl::MutexLock lock(&mu_);
  ++generation_;
  for (const std::string& id : user_ids) {
    committing_.insert(id);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      EraseLocked(it);
    }
  }
  for (const std::string& key : lookup_keys) {
    committing_lookups_.insert(key);
    auto lookup = lookups_.find(key);
    if (lookup == lookups_.end()) {
      continue;
    }
    auto it = entries_.find(lookup->second);
    if (it != entries_.end()) {
      std::vector<std::string>& keys = it->second.lookup_keys;
      keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
      const size_t bytes = LookupBytes(key, it->first);
      it->second.bytes -= bytes;
      bytes_ -= bytes;
    }
    lookups_.erase(lookup);
  }
  if (ring_.size() > 2 * entries_.size() + 64) {
    std::deque<std::string> live;
    for (const auto& [id, entry] : entries_) {
      live.push_back(id);
    }
    ring_ = std::move(live);
  }
}

void UserCache::EndCommit() {
  if (budget_bytes_ == 0) {
    return;
  }
  absl::MutexLock lock(&mu_);
  ++generation_;
  committing_.clear();
  committing_lookups_.clear();
}

size_t UserCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

int64_t UserCache::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

int64_t UserCache::misses() const {
  absl::MutexLock lock(&mu_);
  return misses_;
}

int64_t UserCache::lookup_hits() const {
  absl::MutexLock lock(&mu_);
  return lookup_hits_;
}

void UserCache::EvictToBudget() {
  while (bytes_ > budget_bytes_ && !ring_.empty()) {
    std::string id = std::move(ring_.front());
    ring_.pop_front();
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      continue;  // Forgotten since it was queued.
    }
    if (it->second.referenced) {
      it->second.referenced = false;
      ring_.push_back(std::move(id));
      continue;
    }
    EraseLocked(it);
  }
}

}  // namespace roster::storage

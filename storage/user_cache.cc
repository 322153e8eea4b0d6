#include "storage/user_cache.h"

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

}  // namespace

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
  if (inserted) {
    ring_.push_back(user->id);
  } else {
    bytes_ -= it->second.bytes;
  }
  it->second.user = std::move(user);
  it->second.bytes = bytes;
  bytes_ += bytes;
  EvictToBudget();
}

void UserCache::BeginCommit(absl::Span<const std::string> user_ids) {
  if (budget_bytes_ == 0) {
    return;
  }
  absl::MutexLock lock(&mu_);
  ++generation_;
  for (const std::string& id : user_ids) {
    committing_.insert(id);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      bytes_ -= it->second.bytes;
      entries_.erase(it);
    }
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
    bytes_ -= it->second.bytes;
    entries_.erase(it);
  }
}

}  // namespace roster::storage

// TimedUserStore: a UserStore that times every call of another one into
// Metrics (roster_db_operation_duration_seconds). A write's time includes
// waiting for the writer, the body, the commit and its fsync.
#ifndef ROSTER_SERVER_APP_TIMED_USER_STORE_H_
#define ROSTER_SERVER_APP_TIMED_USER_STORE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "server/api/metrics.h"
#include "storage/user_store.h"

namespace roster::app {

// Thread-safe as the wrapped store.
class TimedUserStore final : public storage::UserStore {
 public:
  // `metrics` must outlive the store.
  TimedUserStore(std::unique_ptr<storage::UserStore> store,
                 api::Metrics* metrics)
      : store_(std::move(store)), metrics_(metrics) {}

  absl::StatusOr<storage::UserRecord> GetUser(
      absl::string_view user_id) override {
    return Timed("get_user", [&] { return store_->GetUser(user_id); });
  }
  void GetUserAsync(absl::string_view user_id, GetUserDone done) override {
    store_->GetUserAsync(
        user_id, [this, start = absl::Now(), done = std::move(done)](
                     absl::StatusOr<storage::UserRecord> user) mutable {
          metrics_->DatabaseOperation("get_user", absl::Now() - start);
          std::move(done)(std::move(user));
        });
  }
  absl::StatusOr<storage::UserPage> ListUsers(
      const storage::UserPageQuery& query) override {
    return Timed("list_users", [&] { return store_->ListUsers(query); });
  }
  void ListUsersAsync(const storage::UserPageQuery& query,
                      ListUsersDone done) override {
    store_->ListUsersAsync(
        query, [this, start = absl::Now(), done = std::move(done)](
                   absl::StatusOr<storage::UserPage> page) mutable {
          metrics_->DatabaseOperation("list_users", absl::Now() - start);
          std::move(done)(std::move(page));
        });
  }
  absl::StatusOr<int64_t> CountUsers(
      const storage::UserFilter& filter) override {
    return Timed("count_users", [&] { return store_->CountUsers(filter); });
  }
  absl::Status Write(absl::FunctionRef<absl::Status(storage::WriteTransaction&)>
                         body) override {
    return Timed("write", [&] { return store_->Write(body); });
  }
  std::vector<absl::Status> WriteEach(
      absl::Span<
          const absl::FunctionRef<absl::Status(storage::WriteTransaction&)>>
          bodies) override {
    return Timed("write_each", [&] { return store_->WriteEach(bodies); });
  }
  absl::StatusOr<storage::SessionRecord> GetSession(
      absl::string_view session_id) override {
    return Timed("get_session", [&] { return store_->GetSession(session_id); });
  }
  absl::StatusOr<storage::SessionAndUser> GetSessionAndUser(
      absl::string_view session_id) override {
    return Timed("get_session_and_user",
                 [&] { return store_->GetSessionAndUser(session_id); });
  }
  void GetSessionAndUserAsync(absl::string_view session_id,
                              GetSessionAndUserDone done) override {
    store_->GetSessionAndUserAsync(
        session_id, [this, start = absl::Now(), done = std::move(done)](
                        absl::StatusOr<storage::SessionAndUser> found) mutable {
          metrics_->DatabaseOperation("get_session_and_user",
                                      absl::Now() - start);
          std::move(done)(std::move(found));
        });
  }
  absl::StatusOr<std::vector<storage::SessionRecord>> ListSessions(
      absl::string_view user_id) override {
    return Timed("list_sessions",
                 [&] { return store_->ListSessions(user_id); });
  }
  absl::StatusOr<std::string> GetIdentifierOwner(
      absl::string_view identifier_id) override {
    return Timed("get_identifier_owner",
                 [&] { return store_->GetIdentifierOwner(identifier_id); });
  }
  absl::StatusOr<std::optional<std::string>> FindUserIdByIdentifier(
      storage::IdentifierKind kind, absl::string_view value) override {
    return Timed("find_user_by_identifier",
                 [&] { return store_->FindUserIdByIdentifier(kind, value); });
  }
  absl::StatusOr<storage::ImageRecord> GetImage(
      absl::string_view image_id) override {
    return Timed("get_image", [&] { return store_->GetImage(image_id); });
  }
  absl::StatusOr<storage::InvitationPage> ListInvitations(
      const storage::InvitationQuery& query) override {
    return Timed("list_invitations",
                 [&] { return store_->ListInvitations(query); });
  }
  absl::StatusOr<storage::EventBatch> ReadEvents(
      const storage::EventQuery& query) override {
    return Timed("read_events", [&] { return store_->ReadEvents(query); });
  }
  void SetCommitListener(
      std::function<void(int64_t latest_sequence)> listener) override {
    store_->SetCommitListener(std::move(listener));
  }
  absl::StatusOr<std::vector<std::string>> ListDataKeyIds() override {
    return store_->ListDataKeyIds();
  }
  absl::Status CheckReachable() override {
    return Timed("check_reachable", [&] { return store_->CheckReachable(); });
  }
  std::optional<storage::UserCacheStats> GetUserCacheStats() override {
    return store_->GetUserCacheStats();
  }

 private:
  template <typename Fn>
  auto Timed(absl::string_view operation, Fn&& fn) -> decltype(fn()) {
    const absl::Time start = absl::Now();
    auto result = fn();
    metrics_->DatabaseOperation(operation, absl::Now() - start);
    return result;
  }

  std::unique_ptr<storage::UserStore> store_;
  api::Metrics* metrics_;  // Not owned.
};

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_TIMED_USER_STORE_H_

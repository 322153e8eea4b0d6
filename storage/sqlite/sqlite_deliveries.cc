// The code deliverer's rows on SQLite (DESIGN §13). The single writer
// serialises every transaction, so the state row needs no lock of its own.
#include <string>
#include <vector>

#include "storage/sqlite/sqlite_write_transaction.h"

namespace roster::storage {

absl::StatusOr<DeliveryStateRecord> SqliteWriteTransaction::GetDeliveryState() {
  return Guarded(
      "reading the delivery state",
      [&]() -> absl::StatusOr<DeliveryStateRecord> {
        auto& s = c_.Prepare(
            "SELECT cursor, in_flight, lease_owner, lease_until FROM "
            "delivery_state WHERE id = 1");
        DeliveryStateRecord state;
        if (s.executeStep()) {
          state.cursor = s.getColumn(0).getInt64();
          state.in_flight = s.getColumn(1).getInt64();
          state.lease_owner = s.getColumn(2).getString();
          state.lease_until = s.getColumn(3).getInt64();
        }
        s.reset();
        return state;
      });
}

absl::Status SqliteWriteTransaction::PutDeliveryState(
    const DeliveryStateRecord& state) {
  return Guarded("writing the delivery state", [&] {
    auto& s = c_.Prepare(
        "UPDATE delivery_state SET cursor = ?, in_flight = ?, lease_owner = ?, "
        "lease_until = ? WHERE id = 1");
    s.bind(1, state.cursor);
    s.bind(2, state.in_flight);
    s.bind(3, state.lease_owner);
    s.bind(4, state.lease_until);
    s.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<DeliveryRetryRecord>>
SqliteWriteTransaction::ListDeliveryRetries(int32_t limit) {
  return Guarded(
      "listing delivery retries",
      [&]() -> absl::StatusOr<std::vector<DeliveryRetryRecord>> {
        auto& s = c_.Prepare(
            "SELECT sequence, recipient, attempts, next_attempt_at, "
            "created_at FROM delivery_retries ORDER BY sequence LIMIT ?");
        s.bind(1, limit);
        std::vector<DeliveryRetryRecord> retries;
        while (s.executeStep()) {
          retries.push_back({s.getColumn(0).getInt64(),
                             s.getColumn(1).getString(),
                             s.getColumn(2).getInt(), s.getColumn(3).getInt64(),
                             s.getColumn(4).getInt64()});
        }
        s.reset();
        return retries;
      });
}

absl::Status SqliteWriteTransaction::PutDeliveryRetry(
    const DeliveryRetryRecord& retry) {
  return Guarded("writing a delivery retry", [&] {
    auto& s = c_.Prepare(
        "INSERT INTO delivery_retries (sequence, recipient, attempts, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT "
        "(sequence) DO UPDATE SET attempts = excluded.attempts, "
        "next_attempt_at = excluded.next_attempt_at");
    s.bind(1, retry.sequence);
    s.bind(2, retry.recipient);
    s.bind(3, retry.attempts);
    s.bind(4, retry.next_attempt_at);
    s.bind(5, retry.created_at);
    s.exec();
    return absl::OkStatus();
  });
}

absl::Status SqliteWriteTransaction::DeleteDeliveryRetry(int64_t sequence) {
  return Guarded("deleting a delivery retry", [&] {
    auto& s = c_.Prepare("DELETE FROM delivery_retries WHERE sequence = ?");
    s.bind(1, sequence);
    s.exec();
    return absl::OkStatus();
  });
}

}  // namespace roster::storage

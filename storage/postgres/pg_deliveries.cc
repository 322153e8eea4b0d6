// The code deliverer's rows on PostgreSQL (DESIGN §13). Replicas contend for
// one state row: SELECT … FOR UPDATE makes a lease check and its renewal one
// step, so two replicas never both believe they hold the lease.
#include <string>
#include <vector>

#include "storage/postgres/pg_rows.h"
#include "storage/postgres/pg_write_transaction.h"

namespace roster::storage {

absl::StatusOr<DeliveryStateRecord> PgWriteTransaction::GetDeliveryState() {
  return PgGuarded(
      "reading the delivery state",
      [&]() -> absl::StatusOr<DeliveryStateRecord> {
        PgResult r = c_.Run(
            "SELECT cursor, in_flight, lease_owner, lease_until FROM "
            "delivery_state WHERE id = 1 FOR UPDATE",
            PgParams());
        DeliveryStateRecord state;
        if (r.rows() > 0) {
          state.cursor = r.Int(0, 0);
          state.in_flight = r.Int(0, 1);
          state.lease_owner = r.Text(0, 2);
          state.lease_until = r.Int(0, 3);
        }
        return state;
      });
}

absl::Status PgWriteTransaction::PutDeliveryState(
    const DeliveryStateRecord& state) {
  return PgGuarded("writing the delivery state", [&] {
    c_.Run(
        "UPDATE delivery_state SET cursor = $1, in_flight = $2, "
        "lease_owner = $3, lease_until = $4 WHERE id = 1",
        PgParams()
            .Add(state.cursor)
            .Add(state.in_flight)
            .Add(state.lease_owner)
            .Add(state.lease_until));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<DeliveryRetryRecord>>
PgWriteTransaction::ListDeliveryRetries(int32_t limit) {
  return PgGuarded(
      "listing delivery retries",
      [&]() -> absl::StatusOr<std::vector<DeliveryRetryRecord>> {
        PgResult r = c_.Run(
            "SELECT sequence, recipient, attempts, next_attempt_at, "
            "created_at FROM delivery_retries ORDER BY sequence LIMIT $1",
            PgParams().Add(int64_t{limit}));
        std::vector<DeliveryRetryRecord> retries;
        retries.reserve(static_cast<size_t>(r.rows()));
        for (int row = 0; row < r.rows(); ++row) {
          retries.push_back({r.Int(row, 0), r.Text(row, 1),
                             static_cast<int32_t>(r.Int(row, 2)), r.Int(row, 3),
                             r.Int(row, 4)});
        }
        return retries;
      });
}

absl::Status PgWriteTransaction::PutDeliveryRetry(
    const DeliveryRetryRecord& retry) {
  return PgGuarded("writing a delivery retry", [&] {
    c_.Run(
        "INSERT INTO delivery_retries (sequence, recipient, attempts, "
        "next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
        "(sequence) DO UPDATE SET attempts = excluded.attempts, "
        "next_attempt_at = excluded.next_attempt_at",
        PgParams()
            .Add(retry.sequence)
            .Add(retry.recipient)
            .Add(int64_t{retry.attempts})
            .Add(retry.next_attempt_at)
            .Add(retry.created_at));
    return absl::OkStatus();
  });
}

absl::Status PgWriteTransaction::DeleteDeliveryRetry(int64_t sequence) {
  return PgGuarded("deleting a delivery retry", [&] {
    c_.Run("DELETE FROM delivery_retries WHERE sequence = $1",
           PgParams().Add(sequence));
    return absl::OkStatus();
  });
}

}  // namespace roster::storage

// Importing many users at once (BackendUsers.ImportUsers): each item is created
// on its own, as CreateUser would, so one bad item does not stop the others;
// identifiers repeated within the batch are refused for the later items (even
// with validate_only, where nothing is stored). The batch is written through
// UserService::CreateUsers, so one durable commit covers many items.
#ifndef ROSTER_SERVER_DOMAIN_IMPORT_USERS_H_
#define ROSTER_SERVER_DOMAIN_IMPORT_USERS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "server/domain/user_service.h"

namespace roster::domain {

inline constexpr size_t kMaxImportBatch = 1000;

// One result per item, in order. Plaintext passwords are hashed here (slow: run
// it on the hash pool). A batch `request_id` makes each item idempotent as
// `<request_id>:<index>` unless the item has its own. INVALID_ARGUMENT for the
// whole call when the batch is empty, larger than kMaxImportBatch or its
// request_id is malformed.
absl::StatusOr<std::vector<absl::StatusOr<UserView>>> ImportUsers(
    UserServices& users, const Caller& caller,
    std::vector<CreateUserParams> items, bool validate_only,
    const std::string& request_id);

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_IMPORT_USERS_H_

// What the domain returns for a user: the stored record plus values derived at
// read time.
#ifndef ROSTER_SERVER_DOMAIN_USER_VIEW_H_
#define ROSTER_SERVER_DOMAIN_USER_VIEW_H_

#include <cstdint>
#include <optional>
#include <string>

#include "storage/records.h"

namespace roster::domain {

// A user as the API presents it: the record plus values derived at read time.
struct UserView {
  storage::UserRecord record;
  bool locked = false;
  std::optional<int64_t> lockout_expires_in_seconds;
  int32_t verification_attempts_remaining = 0;
  std::string etag;
};

// What a deleted user leaves behind.
struct DeletedUser {
  std::string id;
  std::string external_id;
};

}  // namespace roster::domain

#endif  // ROSTER_SERVER_DOMAIN_USER_VIEW_H_

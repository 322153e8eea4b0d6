#include "server/domain/events.h"

#include "absl/strings/str_cat.h"

namespace roster::domain {

std::string UserActor(absl::string_view user_id) {
  return absl::StrCat("user:", user_id);
}

bool IsKnownEventType(absl::string_view type) {
  for (const char* known :
       {event_type::kUserCreated, event_type::kUserUpdated,
        event_type::kUserDeleted, event_type::kEmailCreated,
        event_type::kSmsCreated, event_type::kSessionCreated,
        event_type::kSessionRevoked}) {
    if (type == known) {
      return true;
    }
  }
  return false;
}

}  // namespace roster::domain

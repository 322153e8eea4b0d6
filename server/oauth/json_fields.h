// Reads a member of a provider's JSON answer without exceptions: providers are
// not trusted to send the types they document.
#ifndef ROSTER_SERVER_OAUTH_JSON_FIELDS_H_
#define ROSTER_SERVER_OAUTH_JSON_FIELDS_H_

#include <nlohmann/json.hpp>
#include <string>

namespace roster::oauth {

// The member `name` when it is a string, else "".
inline std::string StringOr(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace roster::oauth

#endif  // ROSTER_SERVER_OAUTH_JSON_FIELDS_H_

// The binaries this build made (roster-server, roster), found beside the
// running test binary in <build>/bin. Looked up at run time rather than baked
// in as a path, so no test TU's compile depends on its build directory and
// ccache can share objects between build trees.
#ifndef ROSTER_TESTS_TESTING_BINARIES_H_
#define ROSTER_TESTS_TESTING_BINARIES_H_

#include <unistd.h>

#include <array>
#include <climits>
#include <string>

namespace roster::testing {

// `<directory of this executable>/<name>`.
inline std::string BuiltBinary(const std::string& name) {
  std::array<char, PATH_MAX> path{};
  const ssize_t length = readlink("/proc/self/exe", path.data(), path.size());
  std::string self(path.data(), length > 0 ? static_cast<size_t>(length) : 0);
  return self.substr(0, self.rfind('/') + 1) + name;
}

inline std::string ServerBinary() { return BuiltBinary("roster-server"); }
inline std::string CliBinary() { return BuiltBinary("roster"); }

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_BINARIES_H_

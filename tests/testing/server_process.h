// The real roster-server binary as a child process, for tests of what only
// the binary does: flags, environment, signals, logs, subcommands.
#ifndef ROSTER_TESTS_TESTING_SERVER_PROCESS_H_
#define ROSTER_TESTS_TESTING_SERVER_PROCESS_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "tests/testing/binaries.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

extern char** environ;

namespace roster::testing {

// `strings` as the null-terminated array exec-style calls take; it points into
// `strings`, which must outlive it.
inline std::vector<char*> NullTerminated(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) {
    pointers.push_back(s.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Starts `args` (args[0] looked up in PATH) with this process's environment,
// and `fd3` (unless -1) as its descriptor 3: a socket it is to listen on, say.
// Returns its pid, or -1 when it could not be started.
inline pid_t Spawn(std::vector<std::string> args, int fd3 = -1) {
  std::vector<char*> argv = NullTerminated(args);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 onto itself would leave close-on-exec set: a 3 is moved off first.
  const int source = fd3 == 3 ? fcntl(fd3, F_DUPFD_CLOEXEC, 4) : fd3;
  if (source >= 0) {
    posix_spawn_file_actions_adddup2(&actions, source, 3);
  }
  pid_t pid = -1;
  const int failed =
      posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (source >= 0 && source != fd3) {
    close(source);
  }
  return failed == 0 ? pid : -1;
}

// Runs roster-server (ServerBinary()) with `args` in `dir`, stderr to a file,
// without the parent's ROSTER_* variables (plus `extra_env`). Killed when
// destroyed. A `launcher` (e.g. {"prlimit", "--nofile=64:64", "--"}, looked
// up in PATH) runs first and must exec the server in its own process.
class ServerProcess {
 public:
  ServerProcess(const TempDir& dir, std::vector<std::string> args,
                std::vector<std::string> extra_env = {},
                std::vector<std::string> launcher = {})
      : stderr_path_(
            dir.File("stderr-" + std::to_string(counter_++) + ".log")) {
    std::vector<std::string> argv_strings = std::move(launcher);
    argv_strings.push_back(ServerBinary());
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv = NullTerminated(argv_strings);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(std::string(*e), "ROSTER_")) {
        env_strings.emplace_back(*e);
      }
    }
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp = NullTerminated(env_strings);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addchdir_np(&actions, dir.path().c_str());
    EXPECT_EQ(posix_spawnp(&pid_, argv_strings[0].c_str(), &actions, nullptr,
                           argv.data(), envp.data()),
              0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  std::string Stderr() const {
    std::ifstream in(stderr_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The port it logged it serves on, or 0 if it exited or 10 s passed.
  int WaitForPort() {
    const std::regex serving(R"("msg":"serving".*"port":(\d+))");
    int port = 0;
    WaitUntil(
        [&] {
          std::smatch match;
          const std::string log = Stderr();
          if (std::regex_search(log, match, serving)) {
            port = std::stoi(match[1]);
            return true;
          }
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            exit_status_ = status;
            return true;
          }
          return false;
        },
        absl::Seconds(10));
    return port;
  }

  // The port its log names `name` ("http_port", "metrics_port", ...) in its
  // "serving" line, or 0 if it named none; call after WaitForPort().
  int LoggedPort(const std::string& name) const {
    std::smatch match;
    const std::string log = Stderr();
    return std::regex_search(log, match, std::regex("\"" + name + "\":(\\d+)"))
               ? std::stoi(match[1])
               : 0;
  }

  // Sends `signal` (if any) and returns the exit code, or -1 if killed by a
  // signal.
  int Stop(int signal) {
    if (pid_ > 0) {
      if (signal != 0) {
        kill(pid_, signal);
      }
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      exit_status_ = status;
    }
    return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
  }

 private:
  static inline int counter_ = 0;
  std::string stderr_path_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_SERVER_PROCESS_H_

// A real OpenID Connect provider on loopback for social sign-in tests:
// tests/oauth/provider/provider.mjs (npm's oidc-provider, pinned by its
// package-lock.json and installed under the build tree on first use) as a
// child process, with one client ("roster") registered for a redirect URI.
// Browse() signs a user in through its login and consent pages over HTTP,
// as a browser would, following redirects until the app's URL.
#ifndef ROSTER_TESTS_TESTING_OPENID_PROVIDER_H_
#define ROSTER_TESTS_TESTING_OPENID_PROVIDER_H_

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/testing/binaries.h"
#include "tests/testing/proc_stat.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tcp.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace roster::testing {

inline constexpr char kProviderClientSecret[] =
    "provider-client-secret-0123456789abcdef";

// Why the provider cannot run here ("" when it can): node and npm present.
inline std::string OpenIdProviderUnavailableReason() {
  return std::system(
             "command -v node >/dev/null && command -v npm "
             ">/dev/null") == 0
             ? ""
             : "node and npm are needed for the OpenID provider "
               "(scripts/bootstrap.sh installs them)";
}

class OpenIdProvider {
 public:
  // Holds a loopback port for the provider, so issuer() is known before it
  // starts: a server can be configured with it (and bind its own callback
  // port) first. `dir`, for its files, must outlive it.
  explicit OpenIdProvider(const TempDir& dir) : dir_(dir) {
    if (port_.port() == 0) {
      ADD_FAILURE() << "no loopback port could be held for the provider";
    }
  }

  // Serves on the held port, signing ID tokens with `alg`, for a client whose
  // only redirect URI is `redirect_uri`. Node is handed the held socket
  // itself: no other process can take the port before it listens.
  void Start(const std::string& redirect_uri,
             const std::string& alg = "RS256") {
    const std::string work = Install();
    const std::string secret = dir_.File("provider-client-secret");
    std::ofstream(secret) << kProviderClientSecret << "\n";
    log_ = dir_.File(absl::StrCat("provider-", port_.port(), ".log"));
    pid_ = Spawn({"/bin/sh", "-c",
                  absl::StrCat("exec node --report-on-signal "
                               "--report-signal=SIGUSR2 --report-compact "
                               "--report-directory=",
                               dir_.path(), " ", work, "/provider.mjs --port=",
                               port_.port(), " --listen-fd=3 --redirect-uri='",
                               redirect_uri, "' --client-secret-file=", secret,
                               " --alg=", alg, " >", log_, " 2>&1")},
                 /*fd3=*/port_.fd());
    port_.Release();  // Node has its own copy.
    if (pid_ <= 0) {
      ADD_FAILURE() << "node could not be started";
      return;
    }
    bool exited = false;
    const bool settled = WaitUntil(
        [&] {
          exited = waitpid(pid_, nullptr, WNOHANG) == pid_;
          return exited || absl::StrContains(Log(), "listening");
        },
        absl::Seconds(30));
    if (!settled) {
      ADD_FAILURE() << "the OpenID provider did not start in 30 s: " << Stuck()
                    << "\nits log:\n"
                    << Log();
    } else if (exited) {
      pid_ = -1;
      ADD_FAILURE() << "the OpenID provider did not start:\n" << Log();
    }
  }
  ~OpenIdProvider() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  OpenIdProvider(const OpenIdProvider&) = delete;
  OpenIdProvider& operator=(const OpenIdProvider&) = delete;

  std::string issuer() const {
    return absl::StrCat("http://127.0.0.1:", port_.port());
  }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  // Follows `authorization_url` through login (as `login`) and consent, then
  // every redirect until one starts with `stop_prefix`: {location, visited}.
  nlohmann::json Browse(const std::string& authorization_url,
                        const std::string& login,
                        const std::string& stop_prefix) const {
    return Post("/test/browse", {{"url", authorization_url},
                                 {"login", login},
                                 {"stop_prefix", stop_prefix}});
  }

  // The provider's userinfo answer for `access_token` (an error object when
  // the provider does not accept it).
  nlohmann::json UserInfo(const std::string& access_token) const {
    httplib::Client client("127.0.0.1", port_.port());
    auto result =
        client.Get("/me", {{"Authorization", "Bearer " + access_token}});
    if (!result) {
      return {{"error", "no answer"}};
    }
    nlohmann::json body = nlohmann::json::parse(result->body, nullptr, false);
    return result->status == 200 && body.is_object()
               ? body
               : nlohmann::json{{"error", result->status}};
  }

  // Sets the claims the provider gives for `login` (email, email_verified,
  // given_name, family_name, …).
  void SetAccount(const std::string& login, nlohmann::json claims) const {
    claims["login"] = login;
    Post("/test/accounts", claims);
  }

 private:
  // The provider's folder with its npm packages, under the build tree;
  // installed once (under a lock: tests run in parallel) from the lockfile.
  // A file is replaced only when it changed, and then by a rename: another
  // test's provider may be reading it as it starts (a plain cp truncates it
  // first, and node then read an empty package.json).
  static std::string Install() {
    std::string work = BuiltBinary("../tests/openid-provider");
    const std::string command = absl::StrCat(
        "mkdir -p ", work, " && flock ", work, ".lock sh -c 'cd ", work,
        " && for f in package.json package-lock.json provider.mjs; do cmp -s ",
        ROSTER_OPENID_PROVIDER_DIR, "/$f $f || { cp ",
        ROSTER_OPENID_PROVIDER_DIR,
        "/$f $f.new && mv -f $f.new $f; } || exit 1; done"
        " && { cmp -s package-lock.json "
        "node_modules/.lock.src || { npm ci --no-audit --no-fund --silent && "
        "cp package-lock.json node_modules/.lock.src; }; }'");
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return work;
  }

  // What a provider that has not started is doing (seen once: an empty log
  // after 30 s): starved of CPU or blocked, and on what. Node writes a
  // diagnostic report on SIGUSR2 once its event loop is free; a busy loop
  // shows as state R and its CPU time instead.
  std::string Stuck() const {
    const std::vector<std::string> stat = StatFields(pid_);
    std::string load;
    std::getline(std::ifstream("/proc/loadavg"), load);
    std::string out = absl::StrCat(
        "node is in state ", stat.empty() ? "?" : stat[0], " having used ",
        CpuSeconds(pid_), " s of CPU; load average ", load);
    kill(pid_, SIGUSR2);
    std::string report;
    WaitUntil(
        [&] {
          std::error_code error;
          for (const auto& entry :
               std::filesystem::directory_iterator(dir_.path(), error)) {
            const std::string name = entry.path().filename().string();
            if (absl::StartsWith(name, "report.") &&
                absl::EndsWith(name, ".json")) {
              std::ifstream in(entry.path());
              report.assign(std::istreambuf_iterator<char>(in), {});
            }
          }
          return !report.empty();
        },
        absl::Seconds(5));
    const nlohmann::json parsed = nlohmann::json::parse(report, nullptr, false);
    if (parsed.is_discarded()) {
      return absl::StrCat(out, "; no diagnostic report in 5 s");
    }
    // What its event loop waits on: timers, sockets, file requests.
    std::string handles;
    for (const nlohmann::json& handle :
         parsed.value("libuv", nlohmann::json::array())) {
      absl::StrAppend(&handles, " ", handle.value("type", "?"),
                      handle.value("is_active", false) ? "" : "(inactive)");
    }
    return absl::StrCat(
        out, "\nJavaScript stack: ",
        parsed.value("javascriptStack", nlohmann::json{}).dump(),
        "\nevent loop handles:", handles);
  }

  nlohmann::json Post(const std::string& path,
                      const nlohmann::json& body) const {
    httplib::Client client("127.0.0.1", port_.port());
    client.set_read_timeout(30, 0);
    auto result = client.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(result) << "the OpenID provider did not answer " << path;
    if (!result) {
      return nlohmann::json::object();
    }
    EXPECT_EQ(result->status, 200) << result->body;
    return nlohmann::json::parse(result->body, nullptr, false);
  }

  const TempDir& dir_;
  ReservedPort port_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_OPENID_PROVIDER_H_

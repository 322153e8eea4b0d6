// A real SMTP server on loopback for delivery tests: tests/delivery/
// smtp_sink.py (Debian's aiosmtpd) as a child process, requiring STARTTLS
// with a self-signed certificate for 127.0.0.1 and AUTH. Each message it
// takes is a JSON record (envelope, headers, decoded text and HTML parts).
#ifndef ROSTER_TESTS_TESTING_SMTP_SINK_H_
#define ROSTER_TESTS_TESTING_SMTP_SINK_H_

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/testing/server_process.h"
#include "tests/testing/tcp.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace roster::testing {

inline constexpr char kSmtpUser[] = "roster-relay";
inline constexpr char kSmtpPassword[] = "relay password: with a colon";

// A self-signed certificate for 127.0.0.1 in `dir` (cert.pem, key.pem),
// made with the openssl command line once per directory.
inline std::string SelfSignedCertificate(const TempDir& dir) {
  std::string cert = dir.File("cert.pem");
  if (!std::filesystem::exists(cert)) {
    const std::string command = absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
        " -addext subjectAltName=IP:127.0.0.1 -keyout ",
        dir.File("key.pem"), " -out ", cert, " 2>/dev/null");
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  return cert;
}

class SmtpSink {
 public:
  // Listens on `port`; `data_delay` holds each client that long between
  // DATA and the reply.
  SmtpSink(const TempDir& dir, int port, double data_delay = 0)
      : out_(dir.File(absl::StrCat("mail-", port))),
        port_file_(dir.File(absl::StrCat("smtp-port-", port))) {
    std::filesystem::create_directories(out_);
    std::filesystem::remove(port_file_);
    const std::string cert = SelfSignedCertificate(dir);
    pid_ = Spawn({"/usr/bin/python3", ROSTER_SMTP_SINK, "--port",
                  std::to_string(port), "--port-file", port_file_, "--out",
                  out_, "--cert", cert, "--key", dir.File("key.pem"), "--user",
                  kSmtpUser, "--password", kSmtpPassword, "--data-delay",
                  std::to_string(data_delay)});
    EXPECT_GT(pid_, 0);
    EXPECT_TRUE(WaitUntil([&] { return std::filesystem::exists(port_file_); },
                          absl::Seconds(20)))
        << "the SMTP sink did not start (is python3-aiosmtpd installed?)";
  }
  ~SmtpSink() { Stop(); }
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  // Every message taken so far, in the order taken.
  std::vector<nlohmann::json> Messages() const {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(out_)) {
      if (entry.path().extension() == ".json") {
        files.push_back(entry.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    std::vector<nlohmann::json> messages;
    for (const std::string& file : files) {
      std::ifstream in(file);
      messages.push_back(nlohmann::json::parse(in));
    }
    return messages;
  }

  // Waits until at least `count` messages arrived; returns them all.
  std::vector<nlohmann::json> WaitFor(
      size_t count, absl::Duration timeout = absl::Seconds(20)) const {
    WaitUntil([&] { return Messages().size() >= count; }, timeout);
    return Messages();
  }

 private:
  std::string out_;
  std::string port_file_;
  pid_t pid_ = -1;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_SMTP_SINK_H_

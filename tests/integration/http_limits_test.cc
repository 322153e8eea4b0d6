// Attacks on the HTTP listener by a client with no credentials, against the
// real roster-server binary: what it holds (peak resident memory, from /proc)
// and whether a legitimate request still gets through (DESIGN §14).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/process_stats.h"
#include "tests/testing/run_tool.h"
#include "tests/testing/sanitizers.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tcp.h"
#include "tests/testing/temp_dir.h"

namespace roster {
namespace {

using ::roster::testing::PeakRssKib;
using ::roster::testing::ServerProcess;
using ::roster::testing::TempDir;

// Sends `data` repeatedly up to `total` bytes; returns how many were sent
// before the server closed the connection.
size_t SendUpTo(int fd, const std::string& data, size_t total) {
  size_t sent = 0;
  while (sent < total) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    sent += static_cast<size_t>(n);
  }
  return sent;
}

// Whatever the server answers until it closes or 15 s pass.
std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

// A legitimate GET of an image that does not exist; its status line, and how
// long it took.
std::string LegitimateGet(int port, absl::Duration* took) {
  const absl::Time start = absl::Now();
  const int fd = testing::ConnectFrom(port);
  const std::string request =
      "GET /v1/images/img_nope HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  const std::string response = ReadAll(fd);
  close(fd);
  *took = absl::Now() - start;
  return response.substr(0, response.find('\r'));
}

class HttpLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        dir_,
        std::vector<std::string>{"--dev", "--db=dev.db", "--listen=127.0.0.1:0",
                                 "--http_listen=127.0.0.1:0"});
    ASSERT_NE(server_->WaitForPort(), 0) << server_->Stderr();
    http_port_ = server_->LoggedPort("http_port");
    ASSERT_GT(http_port_, 0) << server_->Stderr();
    absl::Duration took;
    ASSERT_EQ(LegitimateGet(http_port_, &took), "HTTP/1.1 404 Not Found");
    baseline_kib_ = PeakRssKib(server_->pid());
  }

  // Peak resident growth since the server started serving; 0 under ASan,
  // whose quarantine keeps freed memory resident (the bytes-read checks
  // still hold there).
  int64_t GrowthKib() const {
    if (testing::kAddressSanitized) {
      return 0;
    }
    return PeakRssKib(server_->pid()) - baseline_kib_;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  int http_port_ = 0;
  int64_t baseline_kib_ = 0;
};

// The kernel may queue a burst of connections for the accept loop. Debian's
// compiled httplib listens with a backlog of 5, and a connection past the
// queue has its SYN dropped and waits out TCP's 1 s retransmission.
TEST_F(HttpLimitsTest, TheListenerQueuesABurstOfConnections) {
  // "LISTEN 0 4096 127.0.0.1:<port> 0.0.0.0:*": the third field is the
  // backlog (iproute2's ss, from scripts/bootstrap.sh).
  const std::string listening =
      testing::RunTool(absl::StrCat("ss -Hltn 'sport = :", http_port_, "'"));
  const std::vector<std::string> fields =
      absl::StrSplit(listening, ' ', absl::SkipEmpty());
  ASSERT_GE(fields.size(), 3u) << listening;
  int backlog = 0;
  ASSERT_TRUE(absl::SimpleAtoi(fields[2], &backlog)) << listening;
  EXPECT_GE(backlog, 128) << listening;
}

TEST_F(HttpLimitsTest, AnOversizedBodyIsRefusedWithoutBeingHeld) {
  // 400 MB announced, 64 MiB sent: it stops reading after its budget.
  const int fd = testing::ConnectFrom(http_port_);
  const std::string head =
      "POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 400000000\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(head.size()));
  const size_t sent =
      SendUpTo(fd, std::string(size_t{64} * 1024, 'x'), size_t{64} << 20);
  const std::string response = ReadAll(fd);
  close(fd);
  EXPECT_LT(sent, size_t{64} << 20) << "the server read it all";
  EXPECT_THAT(response, ::testing::StartsWith("HTTP/1.1 413"));
  EXPECT_LT(GrowthKib(), 16 * 1024);
}

TEST_F(HttpLimitsTest, AChunkedBodyIsBoundedToo) {
  const int fd = testing::ConnectFrom(http_port_);
  const std::string head =
      "POST /anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n";
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  const std::string chunk =
      absl::StrCat("10000\r\n", std::string(0x10000, 'x'), "\r\n");
  const size_t sent = SendUpTo(fd, chunk, size_t{64} << 20);
  close(fd);
  EXPECT_LT(sent, size_t{64} << 20) << "the server read it all";
  EXPECT_LT(GrowthKib(), 16 * 1024);
}

TEST_F(HttpLimitsTest, EndlessHeadersAreCutOff) {
  // Header lines are each short, so no per-line limit stops them.
  const int fd = testing::ConnectFrom(http_port_);
  const std::string start = "GET /v1/images/img_nope HTTP/1.1\r\n";
  send(fd, start.data(), start.size(), MSG_NOSIGNAL);
  std::string lines;
  for (int i = 0; i < 4096; ++i) {
    lines += "X-Padding: aaaaaaaaaaaaaaaa\r\n";
  }
  const size_t sent = SendUpTo(fd, lines, size_t{64} << 20);
  close(fd);
  EXPECT_LT(sent, size_t{64} << 20) << "the server kept reading headers";
  EXPECT_LT(GrowthKib(), 16 * 1024);
}

TEST_F(HttpLimitsTest, SlowClientsCannotHoldTheListener) {
  // 64 connections from one address, each sending its headers a byte a second
  // (slowloris), while a legitimate client from another address asks.
  std::vector<int> slow;
  for (int i = 0; i < 64; ++i) {
    const int fd = testing::ConnectFrom(http_port_, "127.0.0.2");
    ASSERT_GE(fd, 0);
    const std::string start = "GET /v1/images/img_nope HTTP/1.1\r\nX-a: ";
    send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    slow.push_back(fd);
  }
  const absl::Time attack_start = absl::Now();
  int refused = 0;
  absl::Duration worst;
  for (int second = 0; second < 12; ++second) {
    absl::Duration took;
    EXPECT_EQ(LegitimateGet(http_port_, &took), "HTTP/1.1 404 Not Found");
    worst = std::max(worst, took);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (int& fd : slow) {
      if (fd >= 0 && send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
        close(fd);
        fd = -1;
        ++refused;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  // All of them are gone by now: the extra ones at once, the admitted ones
  // at the 10 s request deadline.
  for (int& fd : slow) {
    if (fd >= 0) {
      // Answered (503, 408) or closed: recv returns at once. Still waiting
      // for the rest of its headers: EAGAIN.
      char byte;
      const ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
      if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        ++refused;
      }
      close(fd);
    }
  }
  EXPECT_EQ(refused, 64) << "after " << absl::Now() - attack_start;
  // Waiting behind the slow ones would take their 10 s request deadline; 3 s
  // leaves room for a loaded CI host (ctest runs two suites at once), where
  // 1 s was once exceeded by 24 ms with nothing held.
  EXPECT_LT(worst, absl::Seconds(3))
      << "a legitimate request waited behind the slow ones";
  EXPECT_LT(GrowthKib(), 16 * 1024);
}

}  // namespace
}  // namespace roster

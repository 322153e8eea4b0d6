// What an unauthenticated upload flood makes the server receive (DESIGN §14).
// An upload without credentials is refused before its request is read, but
// the client may send as much of it as the stream's flow-control window
// allows first. With gRPC's BDP probing that window grows to megabytes under
// such a flood; without it, a refused call costs the server at most the
// initial 64 KiB window. Bytes are counted by the kernel (TCP_INFO) on the
// server's own sockets, which live in this process.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::TestServer;

constexpr char kSetProfileImage[] = "/roster.v1.BackendUsers/SetProfileImage";

// The port of a socket address, IPv4 or IPv6 (gRPC listens on IPv4 addresses
// through dual-stack sockets); 0 for other families.
int PortOf(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return 0;
}

// Bytes the server has received on its connections accepted on `port`
// (sockets of this process), counted by the kernel (TCP_INFO). gRPC closes a
// connection it sheds under memory pressure, and a closed socket's count
// cannot be read: each socket is remembered by inode with its count as last
// sampled, so a closed connection counts up to its last sample (an
// undercount, never more than was received).
class BytesReceived {
 public:
  explicit BytesReceived(int port) : port_(port) {}

  void Sample() {
    const std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry :
         std::filesystem::directory_iterator("/proc/self/fd")) {
      const int fd = std::stoi(entry.path().filename().string());
      struct stat file {};
      struct stat file_after {};
      sockaddr_storage local{};
      sockaddr_storage peer{};
      socklen_t local_size = sizeof(local);
      socklen_t peer_size = sizeof(peer);
      tcp_info info{};
      socklen_t info_size = sizeof(info);
      if (fstat(fd, &file) != 0 || !S_ISSOCK(file.st_mode) ||
          getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) !=
              0 ||
          PortOf(local) != port_ ||
          getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_size) !=
              0 ||
          getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_size) != 0 ||
          // The fd was closed and given to another socket between the calls:
          // its count is not this inode's.
          fstat(fd, &file_after) != 0 || file_after.st_ino != file.st_ino) {
        continue;  // Not a connection accepted on `port_` (or a listener).
      }
      uint64_t& seen = by_socket_[file.st_ino];
      seen = std::max<uint64_t>(seen, info.tcpi_bytes_received);
    }
  }

  uint64_t Total() {
    const std::lock_guard<std::mutex> lock(mu_);
    uint64_t total = 0;
    for (const auto& [socket, bytes] : by_socket_) {
      total += bytes;
    }
    return total;
  }

  int Connections() {
    const std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(by_socket_.size());
  }

 private:
  const int port_;
  std::mutex mu_;
  std::map<ino_t, uint64_t> by_socket_;  // Guarded by mu_.
};

// What a flood of refused uploads cost the server.
struct FloodOutcome {
  int calls = 0;
  int unauthenticated = 0;
  // Calls gRPC shed under its memory quota's pressure: RST_STREAM with
  // ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED), or GOAWAY (UNAVAILABLE).
  int shed = 0;
  std::string other_statuses;  // Any other status, code and message.
  double bytes_per_call = 0;
};

// Runs `calls_per_thread` unauthenticated 10 MiB SetProfileImage calls from
// each of 8 threads over one connection.
FloodOutcome FloodOfRefusedUploads(TestServer& server, int calls_per_thread) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // Its own link.
  arguments.SetMaxSendMessageSize(32 << 20);
  auto channel = grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", server.server().port()),
      grpc::InsecureChannelCredentials(), arguments);
  grpc::GenericStub stub(channel);
  // A PNG signature, then zeros: never parsed, since no call is let in.
  std::string image(10 << 20, '\0');
  image.replace(0, 8, "\x89PNG\r\n\x1a\n", 8);
  // Field 2 (`image`), its length 10 MiB as a varint, then the bytes.
  const std::string request =
      std::string("\x12", 1) + std::string("\x80\x80\x80\x05", 4) + image;
  const grpc::Slice slice(request);
  BytesReceived received(server.server().port());
  received.Sample();
  const uint64_t before = received.Total();
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  FloodOutcome outcome;
  std::mutex outcome_mutex;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < calls_per_thread; ++i) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(30));
        grpc::ByteBuffer request_buffer(&slice, 1);
        grpc::ByteBuffer response;
        std::promise<grpc::Status> done;
        stub.UnaryCall(
            &context, kSetProfileImage, grpc::StubOptions(), &request_buffer,
            &response,
            [&](const grpc::Status& status) { done.set_value(status); });
        const grpc::Status status = done.get_future().get();
        received.Sample();
        const std::lock_guard<std::mutex> lock(outcome_mutex);
        ++outcome.calls;
        switch (status.error_code()) {
          case grpc::StatusCode::UNAUTHENTICATED:
            ++outcome.unauthenticated;
            break;
          case grpc::StatusCode::RESOURCE_EXHAUSTED:
          case grpc::StatusCode::UNAVAILABLE:
            ++outcome.shed;
            break;
          default:
            absl::StrAppend(&outcome.other_statuses, status.error_code(), " ",
                            status.error_message(), "; ");
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  received.Sample();
  outcome.bytes_per_call =
      static_cast<double>(received.Total() - before) / outcome.calls;
  std::printf(
      "%d uploads: %d refused UNAUTHENTICATED, %d shed; %.0f bytes received "
      "per call over %d connections\n",
      outcome.calls, outcome.unauthenticated, outcome.shed,
      outcome.bytes_per_call, received.Connections());
  return outcome;
}

TEST(UploadWindowTest, ARefusedUploadCostsTheServerAtMostTheInitialWindow) {
  TestServer server;
  const FloodOutcome flood = FloodOfRefusedUploads(server, 25);
  // At 64 KiB a stream, the flood never presses on the memory quota: every
  // call is refused for want of credentials.
  EXPECT_EQ(flood.unauthenticated, flood.calls) << flood.other_statuses;
  // The initial window is 64 KiB; headers and framing add little.
  EXPECT_LE(flood.bytes_per_call, 128 << 10);
  EXPECT_GT(flood.bytes_per_call, 0);
}

TEST(UploadWindowTest, WithBdpProbingTheFloodSendsMegabytesPerRefusal) {
  // The flag operators can turn back on, for long links carrying large
  // legitimate uploads: this is what it costs under a flood. The window grows
  // only once gRPC's estimator has sampled the link, and on a loaded host
  // (CI's sanitizer stage) it once had not within the 200 calls: 9 KiB per
  // call against 3-4 MiB in the runs beside it. A fresh server is tried up to
  // three times; without BDP probing no run can pass 64 KiB and the window.
  // Megabyte windows on 8 streams can fill the listener's 64 MiB request
  // quota when the server reads slowly (a loaded host), and gRPC then sheds
  // calls to free memory: that is the quota doing its work, not a failure.
  // It sheds by closing the connection, and the flood goes on over a new one;
  // counted only over the sockets open at the end, such runs once measured
  // 73 bytes per call. BytesReceived keeps the closed ones' counts.
  std::string per_call_seen;
  for (int attempt = 0; attempt < 3; ++attempt) {
    TestServer server(
        [](app::ServerConfig& config) { config.grpc_bdp_probe = true; });
    const FloodOutcome flood = FloodOfRefusedUploads(server, 25);
    EXPECT_EQ(flood.unauthenticated + flood.shed, flood.calls)
        << flood.other_statuses;
    if (flood.bytes_per_call > 512 << 10) {
      return;
    }
    absl::StrAppend(&per_call_seen, flood.bytes_per_call, " ");
  }
  ADD_FAILURE() << "bytes per refused upload in three runs: " << per_call_seen;
}

}  // namespace
}  // namespace roster

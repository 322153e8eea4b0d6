// The attacks below gRPC: raw HTTP/2 frames on raw TCP connections to the
// public gRPC port, each connection opened again once the server closes it
// (server/app/http2_guard.h).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/abuse/abuse.h"
#include "tests/testing/http2_frames.h"
#include "tests/testing/tcp.h"

namespace roster::abuse {
namespace {

// The attacker's own address: the guard budgets connections by address, and
// the legitimate readers connect from 127.0.0.1.
constexpr char kAttackerAddress[] = "127.0.0.2";

using testing::EndlessHeaderBlockStart;
using testing::GrpcRequestHeaderBlock;
using testing::Http2ClientStart;
using testing::Http2Frame;
using testing::SendAll;

void HeaderBlockBombs(Target& target, absl::Duration duration, Outcome& out) {
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> cut_off{0};
  std::atomic<int64_t> bytes{0};
  const std::string start = EndlessHeaderBlockStart();
  const std::string continuation =
      Http2Frame(0x9, 0, 1, std::string(16384, 'a'));
  Flood(8, duration, [&](int) {
    const int fd = testing::ConnectFrom(target.port(), kAttackerAddress);
    if (fd < 0) {
      return;
    }
    ++connections;
    if (SendAll(fd, start)) {
      for (int i = 0; i < 4096; ++i) {  // Up to 64 MiB, until cut off.
        if (!SendAll(fd, continuation)) {
          ++cut_off;
          break;
        }
        bytes += static_cast<int64_t>(continuation.size());
      }
    }
    close(fd);
  });
  out.load = absl::StrCat(
      connections.load(),
      " connections, each a header declared 1 GiB long, sent in 16 KiB "
      "CONTINUATION frames until cut off (",
      bytes.load() >> 20, " MiB written in all)");
  out.result =
      absl::StrCat(cut_off.load(), " cut off by the server, ",
                   connections.load() - cut_off.load(), " sent 64 MiB");
  if (cut_off.load() < connections.load()) {
    out.missed.push_back("a header block of 64 MiB was read");
  }
}

void RapidReset(Target& target, absl::Duration duration, Outcome& out) {
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> cut_off{0};
  std::atomic<int64_t> streams{0};
  const std::string block =
      GrpcRequestHeaderBlock("/roster.v1.FrontendUsers/SignIn");
  const std::string cancel("\0\0\0\x08", 4);
  Flood(8, duration, [&](int) {
    const int fd = testing::ConnectFrom(target.port(), kAttackerAddress);
    if (fd < 0) {
      return;
    }
    ++connections;
    bool open = SendAll(fd, Http2ClientStart());
    // 100 streams opened and reset per write, up to 100,000 per connection.
    for (uint32_t stream = 1; open && stream < 200'000;) {
      std::string batch;
      for (int i = 0; i < 100; ++i, stream += 2) {
        batch += Http2Frame(0x1, 0x4, stream, block) +
                 Http2Frame(0x3, 0, stream, cancel);
      }
      open = SendAll(fd, batch);
      if (open) {
        streams += 100;
      } else {
        ++cut_off;
      }
    }
    close(fd);
  });
  out.load = absl::StrCat(streams.load(),
                          " streams written, each opened and reset at once "
                          "(SignIn), on ",
                          connections.load(), " connections");
  out.result =
      absl::StrCat(cut_off.load(), " connections cut off by the server");
  if (cut_off.load() < connections.load()) {
    out.missed.push_back("a connection reset 100,000 streams");
  }
}

// What the two attacks above come down to once the guard refuses them: TCP
// connections opened and closed as fast as one attacker can, each with the
// HTTP/2 preface and nothing else.
void ConnectionFlood(Target& target, absl::Duration duration, Outcome& out) {
  std::atomic<int64_t> connections{0};
  const std::string start = Http2ClientStart();
  Flood(8, duration, [&](int) {
    const int fd = testing::ConnectFrom(target.port(), kAttackerAddress);
    if (fd < 0) {
      return;
    }
    ++connections;
    SendAll(fd, start);
    close(fd);
  });
  out.load = absl::StrCat(connections.load(),
                          " TCP connections opened, sent the HTTP/2 preface "
                          "and closed");
  out.result = "nothing else sent";
}

// The same flood at a listener of the attacker's own that accepts and closes
// every connection, on a thread at the server's priority, roster-server left
// alone: what a connection flood costs the legitimate reader on this host
// when the server does nothing at all with it.
void ConnectionFloodElsewhere(Target& /*server*/, absl::Duration duration,
                              Outcome& out) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  if (listener < 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
      listen(listener, SOMAXCONN) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) !=
          0) {
    out.missed.push_back("the control listener could not be opened");
    if (listener >= 0) {
      close(listener);
    }
    return;
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> accepted{0};
  std::thread acceptor([&] {
    while (!stop.load()) {
      pollfd ready{listener, POLLIN, 0};
      if (poll(&ready, 1, 50) <= 0) {
        continue;
      }
      for (int fd; (fd = accept4(listener, nullptr, nullptr, 0)) >= 0;) {
        ++accepted;
        close(fd);
      }
    }
  });
  const int port = ntohs(address.sin_port);
  std::atomic<int64_t> connections{0};
  const std::string start = Http2ClientStart();
  Flood(8, duration, [&](int) {
    const int fd = testing::ConnectFrom(port, kAttackerAddress);
    if (fd < 0) {
      return;
    }
    ++connections;
    SendAll(fd, start);
    close(fd);
  });
  stop = true;
  acceptor.join();
  close(listener);
  out.load = absl::StrCat(
      connections.load(),
      " TCP connections opened to another process's listener, sent the "
      "HTTP/2 preface and closed");
  out.result = absl::StrCat(accepted.load(),
                            " accepted and closed there; roster-server "
                            "untouched (the control)");
}

}  // namespace

std::vector<Attack> Http2Attacks() {
  return {
      {"HTTP/2 header block bombs", {}, HeaderBlockBombs},
      {"HTTP/2 rapid reset", {}, RapidReset},
      {"TCP connection flood", {}, ConnectionFlood},
      {"TCP connection flood elsewhere (control)",
       {},
       ConnectionFloodElsewhere,
       /*control=*/true},
  };
}

}  // namespace roster::abuse

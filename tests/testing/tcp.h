// TCP for tests: a raw connection to speak to a listener byte by byte (slow
// or oversized HTTP requests), and a free port to give a server.
#ifndef ROSTER_TESTS_TESTING_TCP_H_
#define ROSTER_TESTS_TESTING_TCP_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <random>

namespace roster::testing {

// A TCP connection to 127.0.0.1:`port` from `source` (any 127/8 address: an
// attacker and a legitimate client are told apart by it), with 15 s send and
// receive timeouts. -1 on failure.
inline int ConnectFrom(int port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{15, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// A loopback TCP port nothing listens on now, for a server that must be told
// its port before it starts. It comes from below the kernel's ephemeral range
// (ip_local_port_range), so a listener that binds port 0 meanwhile, in this
// or a parallel test, can never be handed the same port. 0 if none is free.
inline int UnusedPort() {
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  const int lowest = std::max(1024, ephemeral_low - 8192);
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(lowest, ephemeral_low - 1);
  for (int attempt = 0; attempt < 64; ++attempt) {
    const int port = pick(random);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    // No SO_REUSEADDR: a port still in TIME_WAIT is not offered either.
    const bool free =
        bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) {
      return port;
    }
  }
  return 0;
}

// A loopback port held bound but not listening, for a server that is down:
// connections to it are refused at once, and UnusedPort() (here or in a
// parallel test) never offers it. Release() frees it just before the server
// comes up on it; port() stays. port() is 0 if no port could be held. Its
// socket is close-on-exec, as the others here are: a process the test spawns
// meanwhile (a provider, a mail sink) would otherwise keep it bound.
class ReservedPort {
 public:
  ReservedPort() {
    for (int attempt = 0; attempt < 8 && fd_ < 0; ++attempt) {
      const int port = UnusedPort();
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<uint16_t>(port));
      if (port != 0 && bind(fd, reinterpret_cast<sockaddr*>(&address),
                            sizeof(address)) == 0) {
        fd_ = fd;
        port_ = port;
      } else {
        close(fd);
      }
    }
  }
  ~ReservedPort() { Release(); }
  ReservedPort(const ReservedPort&) = delete;
  ReservedPort& operator=(const ReservedPort&) = delete;

  int port() const { return port_; }
  // The held socket, for a child that is to listen on it (Spawn's fd3); -1
  // once released.
  int fd() const { return fd_; }
  void Release() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_TCP_H_

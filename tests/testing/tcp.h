// A raw TCP connection for tests that speak to a listener byte by byte (slow
// or oversized HTTP requests).
#ifndef ROSTER_TESTS_TESTING_TCP_H_
#define ROSTER_TESTS_TESTING_TCP_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace roster::testing {

// A TCP connection to 127.0.0.1:`port` from `source` (any 127/8 address: an
// attacker and a legitimate client are told apart by it), with 15 s send and
// receive timeouts. -1 on failure.
inline int ConnectFrom(int port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
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

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_TCP_H_

// Raw HTTP/2 for tests that attack the gRPC port below gRPC: frames, HPACK
// literals and a request's header block, written by hand (RFC 9113, 7541).
#ifndef ROSTER_TESTS_TESTING_HTTP2_FRAMES_H_
#define ROSTER_TESTS_TESTING_HTTP2_FRAMES_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace roster::testing {

inline constexpr char kHttp2ClientPreface[] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// One frame: its 9-byte header, then `payload`.
inline std::string Http2Frame(uint8_t type, uint8_t flags, uint32_t stream,
                              const std::string& payload) {
  std::string frame;
  frame.push_back(static_cast<char>(payload.size() >> 16));
  frame.push_back(static_cast<char>(payload.size() >> 8));
  frame.push_back(static_cast<char>(payload.size()));
  frame.push_back(static_cast<char>(type));
  frame.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) {
    frame.push_back(static_cast<char>(stream >> shift));
  }
  return frame + payload;
}

// The preface and an empty SETTINGS frame: what a client sends first.
inline std::string Http2ClientStart() {
  return std::string(kHttp2ClientPreface) + Http2Frame(0x4, 0, 0, "");
}

// An HPACK integer with a 7-bit prefix (RFC 7541 §5.1).
inline std::string HpackLength(uint64_t value) {
  std::string out;
  if (value < 127) {
    out.push_back(static_cast<char>(value));
    return out;
  }
  out.push_back(static_cast<char>(127));
  value -= 127;
  while (value >= 128) {
    out.push_back(static_cast<char>((value % 128) | 128));
    value /= 128;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// The start of a literal header field without indexing, with a new name:
// the name, and the length of a value whose bytes follow separately.
inline std::string HpackLiteralStart(const std::string& name,
                                     uint64_t value_size) {
  return std::string(1, '\0') + HpackLength(name.size()) + name +
         HpackLength(value_size);
}

inline std::string HpackLiteral(const std::string& name,
                                const std::string& value) {
  return HpackLiteralStart(name, value.size()) + value;
}

// The header block of a gRPC request to `path`.
inline std::string GrpcRequestHeaderBlock(const std::string& path) {
  return HpackLiteral(":method", "POST") + HpackLiteral(":scheme", "http") +
         HpackLiteral(":path", path) + HpackLiteral(":authority", "roster") +
         HpackLiteral("content-type", "application/grpc") +
         HpackLiteral("te", "trailers");
}

// A client's start, then a HEADERS frame opening a header declared 1 GiB
// long and never ending its block: what follows are CONTINUATION frames.
inline std::string EndlessHeaderBlockStart() {
  return Http2ClientStart() +
         Http2Frame(0x1, 0, 1, HpackLiteralStart("x-bomb", uint64_t{1} << 30));
}

// `count` health checks, each reset (CANCEL) as soon as it is opened.
inline std::string StreamsOpenedAndReset(uint32_t count) {
  const std::string block =
      GrpcRequestHeaderBlock("/grpc.health.v1.Health/Check");
  std::string bytes;
  for (uint32_t stream = 1; stream < 2 * count; stream += 2) {
    bytes += Http2Frame(0x1, 0x4, stream, block) +
             Http2Frame(0x3, 0, stream, std::string("\0\0\0\x08", 4));
  }
  return bytes;
}

// Sends all of `bytes`; false once the peer has closed the connection.
inline bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n =
        send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_HTTP2_FRAMES_H_

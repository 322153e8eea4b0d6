#ifndef ROSTER_SERVER_APP_HTTP2_GUARD_H_
#define ROSTER_SERVER_APP_HTTP2_GUARD_H_

// Checks the HTTP/2 frames clients send to the gRPC listeners, for three
// denial-of-service flaws of gRPC 1.51 as Debian 12 ships it, none of which a
// channel argument bounds (docs/reliability.md, "HTTP/2 below gRPC"):
// - CVE-2023-33953: a header block is buffered whole, and copied again for
//   each CONTINUATION frame, before any size limit applies. One connection
//   sending a 30 MiB header slowly keeps a core busy for minutes.
// - CVE-2023-44487 (rapid reset): streams a client resets at once no longer
//   count against the stream limit. Ten seconds of it took the server past
//   2 GiB.
// - CVE-2023-4785: when accept4 fails for want of file descriptors, the
//   listener stops accepting for good.
//
// The guard sits where gRPC's TCP code meets libc: roster-server defines
// accept4 and recvmsg, which gRPC's shared library then calls (the executable's
// definitions come first in symbol lookup). A connection accepted on a
// protected port has its bytes checked in place as gRPC reads them, and a
// read that breaks a rule fails with ECONNRESET, which makes gRPC close the
// connection. Other sockets pass straight through. On a TLS listener those
// bytes are ciphertext, so the guard also defines SSL_read, with which gRPC
// decrypts: a server-side TLS session's plaintext is checked there (every
// server session in the process is a gRPC listener's), and a failed check
// fails the read, which closes the connection too.
#include <cstddef>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace roster::app {

// The limits a protected connection is held to.
struct Http2Limits {
  // A header block (HEADERS and its CONTINUATION frames), compressed. gRPC
  // itself refuses metadata over 8 KiB once decoded, and an HPACK encoder's
  // block is hardly larger than what it encodes.
  size_t max_header_block_bytes = 64 << 10;
  // RST_STREAM frames from the client: a bucket of `reset_burst`, refilled at
  // `resets_per_second`. A client that cancels more than that is closed.
  double reset_burst = 200;
  double resets_per_second = 20;
  // New connections from one client address (IPv6: its /64), a bucket of
  // `connection_burst` refilled at `connections_per_second`: a connection
  // past it is closed as soon as it is accepted, so that reconnecting does
  // not renew the reset budget faster than this.
  double connection_burst = 100;
  double connections_per_second = 20;
};

// `burst` tokens, refilled continuously at `per_second`.
class TokenBucket {
 public:
  TokenBucket(double burst, double per_second, absl::Time now)
      : burst_(burst), per_second_(per_second), tokens_(burst), at_(now) {}

  // Takes a token if there is one.
  bool Take(absl::Time now);
  // True when the bucket has refilled (nothing to remember).
  bool Full(absl::Time now) const;

 private:
  double burst_;
  double per_second_;
  double tokens_;
  absl::Time at_;
};

// What a protected connection's bytes have shown so far.
enum class Http2Verdict {
  kOk,
  kNotHttp2,  // No cleartext HTTP/2 preface (TLS): no longer checked.
  kHeaderBlockTooLarge,
  kTooManyResets,
};

// Follows the frames of one client-to-server byte stream, fed in the pieces
// they arrive in. Not thread-safe: one connection's reads are serialized.
class Http2ClientFrameCheck {
 public:
  explicit Http2ClientFrameCheck(const Http2Limits& limits,
                                 absl::Time now = absl::Now());

  // Checks the next `size` bytes of the stream, received at `now`. Once the
  // verdict is not kOk it stays.
  Http2Verdict Feed(const uint8_t* data, size_t size, absl::Time now);

  Http2Verdict verdict() const { return verdict_; }

 private:
  void OnFrameHeader(absl::Time now);

  size_t max_header_block_bytes_;
  Http2Verdict verdict_ = Http2Verdict::kOk;
  size_t preface_matched_ = 0;
  uint8_t header_[9] = {};
  size_t header_bytes_ = 0;
  uint64_t payload_left_ = 0;
  uint64_t header_block_bytes_ = 0;
  TokenBucket resets_;
};

// Checks connections accepted on `port` (a gRPC listener's bound port) from
// now on, with `limits`, and limits how fast one address may connect. Keeps
// the last eighth of the process's file descriptors (at most 64) from
// connections: one accepted onto them is closed at once, as are waiting
// connections when the process is out of descriptors, so the listener goes
// on. Thread-safe.
void ProtectGrpcPort(int port, const Http2Limits& limits);

// Stops checking new connections on `port` (the server is shutting down).
void UnprotectGrpcPort(int port);

// Connections closed by the guard since start-up, by rule.
struct Http2GuardCounts {
  uint64_t header_block_too_large = 0;
  uint64_t too_many_resets = 0;
  uint64_t connection_rate = 0;
  uint64_t shed_for_file_descriptors = 0;
};
Http2GuardCounts GuardCounts();

}  // namespace roster::app

#endif  // ROSTER_SERVER_APP_HTTP2_GUARD_H_

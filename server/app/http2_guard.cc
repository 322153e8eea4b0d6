#include "server/app/http2_guard.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "openssl/ssl.h"

namespace roster::app {
namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kPrefaceSize = sizeof(kPreface) - 1;
constexpr uint8_t kHeadersFrame = 0x1;
constexpr uint8_t kRstStreamFrame = 0x3;
constexpr uint8_t kContinuationFrame = 0x9;

// A protected connection: its checker, and which socket it is, since gRPC may
// close it and the number may come back as another socket.
struct Connection {
  dev_t device;
  ino_t inode;
  Http2ClientFrameCheck check;
};

struct Registry {
  absl::Mutex mu;
  absl::flat_hash_map<int, Http2Limits> ports ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<int, std::shared_ptr<Connection>> connections
      ABSL_GUARDED_BY(mu);
  // Held open so that, out of descriptors, one can be freed to accept and
  // close a waiting connection.
  int spare_fd ABSL_GUARDED_BY(mu) = -1;
  // Connections on descriptors from here up are closed at once: the rest is
  // left for the process's own files and for gRPC's work on the connections
  // it has (under UBSan, gRPC 1.51 setting up a connection with no
  // descriptor left failed inside libgrpc).
  int descriptor_ceiling ABSL_GUARDED_BY(mu) = 0;
  // What a TLS session is held to: its SSL object does not know its port,
  // so the limits the last protected port was given (the server gives every
  // port the same).
  Http2Limits tls_limits ABSL_GUARDED_BY(mu);
  std::atomic<bool> active{false};
  std::atomic<uint64_t> header_block_too_large{0};
  std::atomic<uint64_t> too_many_resets{0};
  std::atomic<uint64_t> connection_rate{0};
  std::atomic<uint64_t> shed{0};
  // Connection budgets by listener port and client address; at most
  // kMaxAddresses.
  absl::flat_hash_map<std::string, TokenBucket> addresses ABSL_GUARDED_BY(mu);
};

// Past this many addresses with budgets in use, a new address is let in
// unchecked rather than growing the map: that takes a botnet.
constexpr size_t kMaxAddresses = 65536;

// What `accept4` returns to ask its caller to accept again: the connection
// was closed.
constexpr int kRefused = -2;

Registry& TheRegistry() {
  static Registry* const registry = new Registry;  // NOLINT: lives forever.
  return *registry;
}

int RawAccept4(int fd, sockaddr* address, socklen_t* length, int flags) {
  return static_cast<int>(syscall(SYS_accept4, fd, address, length, flags));
}

// The local port `fd` is bound to, or -1.
int LocalPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return -1;
}

// Out of descriptors with connections waiting: frees the spare, accepts and
// closes waiting connections until none waits, and takes the spare back.
void ShedWaitingConnections(Registry& registry, int listener) {
  absl::MutexLock lock(&registry.mu);
  if (registry.spare_fd < 0) {
    return;
  }
  syscall(SYS_close, registry.spare_fd);
  registry.spare_fd = -1;
  for (;;) {
    const int waiting = RawAccept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (waiting < 0) {
      break;
    }
    syscall(SYS_close, waiting);
    registry.shed.fetch_add(1, std::memory_order_relaxed);
  }
  registry.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

// The budget key of a client address: IPv4 whole, IPv6 by its /64 (an
// IPv4-mapped address as IPv4). Empty for other families.
std::string AddressKey(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return std::string(reinterpret_cast<const char*>(&v4->sin_addr), 4);
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    const auto* bytes = reinterpret_cast<const char*>(&v6->sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      return std::string(bytes + 12, 4);
    }
    return std::string(bytes, 8);
  }
  return std::string();
}

// Whether `key` may open another connection now.
bool TakeConnectionBudget(Registry& registry, const std::string& key,
                          const Http2Limits& limits, absl::Time now)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry.mu) {
  auto found = registry.addresses.find(key);
  if (found == registry.addresses.end()) {
    if (registry.addresses.size() >= kMaxAddresses) {
      absl::erase_if(registry.addresses, [now](const auto& entry) {
        return entry.second.Full(now);
      });
      if (registry.addresses.size() >= kMaxAddresses) {
        return true;
      }
    }
    found = registry.addresses
                .emplace(key, TokenBucket(limits.connection_burst,
                                          limits.connections_per_second, now))
                .first;
  }
  return found->second.Take(now);
}

// After accept4 on `listener` returned `connection` (errno `accept_errno`)
// from `peer`: the connection to hand gRPC, -1 with errno set, or kRefused
// when the connection was closed and another should be accepted.
int OnAccept(int listener, int connection, int accept_errno,
             const sockaddr* peer) {
  Registry& registry = TheRegistry();
  const int port = LocalPort(listener);
  {
    absl::MutexLock lock(&registry.mu);
    const auto limits = registry.ports.find(port);
    if (limits == registry.ports.end()) {
      errno = accept_errno;
      return connection;
    }
    if (connection >= registry.descriptor_ceiling) {
      syscall(SYS_close, connection);
      registry.shed.fetch_add(1, std::memory_order_relaxed);
      return kRefused;
    }
    if (connection >= 0) {
      const absl::Time now = absl::Now();
      const std::string address = AddressKey(peer);
      const std::string key = absl::StrCat(port, "/", address);
      if (!address.empty() &&
          !TakeConnectionBudget(registry, key, limits->second, now)) {
        syscall(SYS_close, connection);
        registry.connection_rate.fetch_add(1, std::memory_order_relaxed);
        return kRefused;
      }
      struct stat identity {};
      if (fstat(connection, &identity) == 0) {
        registry.connections[connection] = std::make_shared<Connection>(
            Connection{identity.st_dev, identity.st_ino,
                       Http2ClientFrameCheck(limits->second, now)});
      }
      return connection;
    }
  }
  if (accept_errno == EMFILE || accept_errno == ENFILE) {
    // gRPC 1.51 stops listening on any other error than EAGAIN: shed what
    // waits, and report that nothing does.
    ShedWaitingConnections(registry, listener);
    errno = EAGAIN;
    return -1;
  }
  errno = accept_errno;
  return connection;
}

// Counts a connection closed for `verdict` (one that breaks a rule).
void CountClosed(Registry& registry, Http2Verdict verdict) {
  (verdict == Http2Verdict::kHeaderBlockTooLarge
       ? registry.header_block_too_large
       : registry.too_many_resets)
      .fetch_add(1, std::memory_order_relaxed);
}

// Checks the `received` bytes a recvmsg on `fd` just read into `message`.
// Returns `received`, or -1 (ECONNRESET) when they break a rule.
ssize_t OnReceive(int fd, const msghdr* message, ssize_t received) {
  Registry& registry = TheRegistry();
  std::shared_ptr<Connection> connection;
  {
    absl::MutexLock lock(&registry.mu);
    const auto found = registry.connections.find(fd);
    if (found == registry.connections.end()) {
      return received;
    }
    connection = found->second;
  }
  struct stat identity {};
  const bool same = fstat(fd, &identity) == 0 &&
                    identity.st_dev == connection->device &&
                    identity.st_ino == connection->inode;
  Http2Verdict verdict =
      same ? connection->check.verdict() : Http2Verdict::kNotHttp2;
  const absl::Time now = absl::Now();
  size_t left = static_cast<size_t>(received);
  for (size_t i = 0; same && i < message->msg_iovlen && left > 0 &&
                     verdict == Http2Verdict::kOk;
       ++i) {
    const size_t size = std::min(left, message->msg_iov[i].iov_len);
    verdict = connection->check.Feed(
        static_cast<const uint8_t*>(message->msg_iov[i].iov_base), size, now);
    left -= size;
  }
  if (verdict == Http2Verdict::kOk) {
    return received;
  }
  {
    absl::MutexLock lock(&registry.mu);
    const auto found = registry.connections.find(fd);
    if (found != registry.connections.end() && found->second == connection) {
      registry.connections.erase(found);
    }
  }
  if (verdict == Http2Verdict::kNotHttp2) {
    return received;
  }
  CountClosed(registry, verdict);
  shutdown(fd, SHUT_RDWR);
  errno = ECONNRESET;
  return -1;
}

// A TLS session's checker lives in its SSL object's ex_data and is freed with
// it.
void FreeTlsCheck(void* /*parent*/, void* check, CRYPTO_EX_DATA* /*data*/,
                  int /*index*/, long /*argl*/,  // NOLINT: OpenSSL's type.
                  void* /*argp*/) {
  const std::unique_ptr<Http2ClientFrameCheck> owned(
      static_cast<Http2ClientFrameCheck*>(check));
}

int TlsCheckIndex() {
  static const int kIndex =
      SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeTlsCheck);
  return kIndex;
}

// Checks the `size` bytes SSL_read just decrypted into `data` on the server
// session `ssl`. Returns `size`, or -1 when they break a rule.
int OnTlsRead(SSL* ssl, const void* data, int size) {
  Registry& registry = TheRegistry();
  const int index = TlsCheckIndex();
  const absl::Time now = absl::Now();
  auto* check =
      static_cast<Http2ClientFrameCheck*>(SSL_get_ex_data(ssl, index));
  if (check == nullptr) {
    Http2Limits limits;
    {
      absl::MutexLock lock(&registry.mu);
      if (registry.ports.empty()) {
        return size;
      }
      limits = registry.tls_limits;
    }
    auto owned = std::make_unique<Http2ClientFrameCheck>(limits, now);
    if (index < 0 || SSL_set_ex_data(ssl, index, owned.get()) != 1) {
      return size;
    }
    check = owned.release();  // Freed with the session (FreeTlsCheck).
  }
  const Http2Verdict before = check->verdict();
  const Http2Verdict verdict = check->Feed(static_cast<const uint8_t*>(data),
                                           static_cast<size_t>(size), now);
  if (verdict == Http2Verdict::kOk || verdict == Http2Verdict::kNotHttp2) {
    return size;
  }
  if (before == Http2Verdict::kOk) {
    CountClosed(registry, verdict);
  }
  return -1;
}

}  // namespace

Http2ClientFrameCheck::Http2ClientFrameCheck(const Http2Limits& limits,
                                             absl::Time now)
    : max_header_block_bytes_(limits.max_header_block_bytes),
      resets_(limits.reset_burst, limits.resets_per_second, now) {}

bool TokenBucket::Take(absl::Time now) {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - at_));
  at_ = std::max(at_, now);
  tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  if (tokens_ < 1) {
    return false;
  }
  tokens_ -= 1;
  return true;
}

bool TokenBucket::Full(absl::Time now) const {
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - at_));
  return tokens_ + elapsed * per_second_ >= burst_;
}

Http2Verdict Http2ClientFrameCheck::Feed(const uint8_t* data, size_t size,
                                         absl::Time now) {
  size_t i = 0;
  while (i < size && verdict_ == Http2Verdict::kOk) {
    if (preface_matched_ < kPrefaceSize) {
      if (data[i] != static_cast<uint8_t>(kPreface[preface_matched_])) {
        verdict_ = Http2Verdict::kNotHttp2;
        break;
      }
      ++preface_matched_;
      ++i;
    } else if (payload_left_ > 0) {
      const uint64_t skipped = std::min<uint64_t>(payload_left_, size - i);
      payload_left_ -= skipped;
      i += skipped;
    } else {
      header_[header_bytes_++] = data[i++];
      if (header_bytes_ == sizeof(header_)) {
        header_bytes_ = 0;
        OnFrameHeader(now);
      }
    }
  }
  return verdict_;
}

void Http2ClientFrameCheck::OnFrameHeader(absl::Time now) {
  const uint64_t length =
      (uint64_t{header_[0]} << 16) | (uint64_t{header_[1]} << 8) | header_[2];
  const uint8_t type = header_[3];
  payload_left_ = length;
  if (type == kHeadersFrame) {
    header_block_bytes_ = length;
  } else if (type == kContinuationFrame) {
    header_block_bytes_ += length;
  } else if (type == kRstStreamFrame && !resets_.Take(now)) {
    verdict_ = Http2Verdict::kTooManyResets;
    return;
  }
  if ((type == kHeadersFrame || type == kContinuationFrame) &&
      header_block_bytes_ > max_header_block_bytes_) {
    verdict_ = Http2Verdict::kHeaderBlockTooLarge;
  }
}

void ProtectGrpcPort(int port, const Http2Limits& limits) {
  Registry& registry = TheRegistry();
  absl::MutexLock lock(&registry.mu);
  registry.ports[port] = limits;
  registry.tls_limits = limits;
  rlimit descriptors{};
  if (getrlimit(RLIMIT_NOFILE, &descriptors) == 0 &&
      descriptors.rlim_cur != RLIM_INFINITY) {
    const auto limit = static_cast<int>(
        std::min<rlim_t>(descriptors.rlim_cur, rlim_t{INT32_MAX}));
    registry.descriptor_ceiling = limit - std::min(64, limit / 8);
  } else {
    registry.descriptor_ceiling = INT32_MAX;
  }
  if (registry.spare_fd < 0) {
    registry.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  registry.active.store(true, std::memory_order_release);
}

void UnprotectGrpcPort(int port) {
  Registry& registry = TheRegistry();
  absl::MutexLock lock(&registry.mu);
  registry.ports.erase(port);
}

Http2GuardCounts GuardCounts() {
  const Registry& registry = TheRegistry();
  Http2GuardCounts counts;
  counts.header_block_too_large =
      registry.header_block_too_large.load(std::memory_order_relaxed);
  counts.too_many_resets =
      registry.too_many_resets.load(std::memory_order_relaxed);
  counts.connection_rate =
      registry.connection_rate.load(std::memory_order_relaxed);
  counts.shed_for_file_descriptors =
      registry.shed.load(std::memory_order_relaxed);
  return counts;
}

}  // namespace roster::app

// gRPC's TCP code reaches libc through these two names; defined here, they
// come first. Everything but a protected connection is passed straight on.
extern "C" int accept4(int fd, sockaddr* address, socklen_t* length,
                       int flags) {
  if (!roster::app::TheRegistry().active.load(std::memory_order_acquire)) {
    return roster::app::RawAccept4(fd, address, length, flags);
  }
  for (;;) {
    // The peer's address is needed even when the caller does not ask for it.
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof(peer);
    const int connection = roster::app::RawAccept4(
        fd, reinterpret_cast<sockaddr*>(&peer), &peer_length, flags);
    const int result = roster::app::OnAccept(
        fd, connection, errno, reinterpret_cast<const sockaddr*>(&peer));
    if (result == roster::app::kRefused) {
      continue;
    }
    if (result >= 0 && address != nullptr && length != nullptr) {
      std::memcpy(address, &peer, std::min<size_t>(*length, peer_length));
      *length = peer_length;
    }
    return result;
  }
}

extern "C" ssize_t recvmsg(int fd, msghdr* message, int flags) {
  const auto received =
      static_cast<ssize_t>(syscall(SYS_recvmsg, fd, message, flags));
  if (received <= 0 || (flags & MSG_ERRQUEUE) != 0 ||
      !roster::app::TheRegistry().active.load(std::memory_order_acquire)) {
    return received;
  }
  return roster::app::OnReceive(fd, message, received);
}

// gRPC's TLS (tsi's do_ssl_read) decrypts a connection's bytes with SSL_read
// into its own buffer. A server session's plaintext is checked there; a
// client's (libcurl's, a gRPC channel's) is passed straight on. A failed
// check returns -1 with OpenSSL's error queue empty: SSL_get_error says
// SSL_ERROR_SYSCALL, and gRPC closes the connection.
extern "C" int SSL_read(SSL* ssl, void* buffer, int size) {
  using SslRead = int (*)(SSL*, void*, int);
  // OpenSSL 3's symbol by its version (Debian 12's); any other libssl's by
  // its default version.
  static const auto kRealSslRead = [] {
    void* real = dlvsym(RTLD_NEXT, "SSL_read", "OPENSSL_3.0.0");
    return reinterpret_cast<SslRead>(
        real != nullptr ? real : dlsym(RTLD_NEXT, "SSL_read"));
  }();
  const int read = kRealSslRead(ssl, buffer, size);
  if (read <= 0 ||
      !roster::app::TheRegistry().active.load(std::memory_order_acquire) ||
      SSL_is_server(ssl) != 1) {
    return read;
  }
  return roster::app::OnTlsRead(ssl, buffer, read);
}

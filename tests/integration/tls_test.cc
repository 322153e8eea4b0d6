// gRPC over TLS and mTLS on a real server, with certificates made by the
// openssl command line for each test, and a certificate rotated on disk while
// the server runs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/app/http2_guard.h"
#include "tests/testing/binaries.h"
#include "tests/testing/http2_frames.h"
#include "tests/testing/tcp.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::roster::testing::EndlessHeaderBlockStart;
using ::roster::testing::Http2ClientStart;
using ::roster::testing::Http2Frame;
using ::roster::testing::StreamsOpenedAndReset;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `command` in `dir` through the shell; true when it exits 0.
bool Run(const TempDir& dir, const std::string& command) {
  const std::string line =
      absl::StrCat("cd '", dir.path(), "' && ", command, " >/dev/null 2>&1");
  return std::system(line.c_str()) == 0;
}

// A CA, and certificates it signs for `name` (a server for localhost and
// 127.0.0.1, or a client).
class Pki {
 public:
  explicit Pki(const TempDir& dir) : dir_(dir) {
    EXPECT_TRUE(Run(dir_,
                    "openssl req -x509 -newkey ec -pkeyopt "
                    "ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca "
                    "-keyout ca.key -out ca.pem"));
  }

  // Writes <name>.key and <name>.pem; `cn` is the certificate's subject.
  void Issue(const std::string& name, const std::string& cn) {
    std::ofstream(dir_.File(name + ".ext"))
        << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    EXPECT_TRUE(
        Run(dir_, absl::StrCat("openssl req -newkey ec -pkeyopt "
                               "ec_paramgen_curve:P-256 -nodes -subj /CN=",
                               cn, " -keyout ", name, ".key -out ", name,
                               ".csr && openssl x509 -req -in ", name,
                               ".csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                               "-days 2 -extfile ",
                               name, ".ext -out ", name, ".pem")));
  }

  std::string File(const std::string& name) const { return dir_.File(name); }

  // Has `config` serve the certificate issued as "server".
  void ServeServerCertificate(app::ServerConfig& config) const {
    config.tls_cert_file = File("server.pem");
    config.tls_key_file = File("server.key");
  }

 private:
  const TempDir& dir_;
};

// Targets are IP literals: resolving "localhost" goes through c-ares, which
// leaks a few bytes that LeakSanitizer reports. The certificates carry
// IP:127.0.0.1.
// A health check over a fresh TLS channel; the server's certificate CN lands
// in `server_cn`.
grpc::Status Check(int port, const grpc::SslCredentialsOptions& options,
                   std::string* server_cn = nullptr) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::SslCredentials(options));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  HealthCheckResponse response;
  grpc::Status status = Health::NewStub(channel)->Check(
      &context, HealthCheckRequest(), &response);
  if (status.ok() && server_cn != nullptr) {
    for (const auto& value :
         context.auth_context()->FindPropertyValues("x509_common_name")) {
      *server_cn = std::string(value.data(), value.size());
    }
  }
  return status;
}

TEST(TlsTest, ServesTlsAndRefusesPlaintext) {
  TempDir dir;
  Pki pki(dir);
  pki.Issue("server", "roster-one");
  TestServer server(
      [&](app::ServerConfig& config) { pki.ServeServerCertificate(config); });
  grpc::SslCredentialsOptions trust;
  trust.pem_root_certs = Read(pki.File("ca.pem"));
  std::string cn;
  grpc::Status tls = Check(server.server().port(), trust, &cn);
  ASSERT_TRUE(tls.ok()) << tls.error_message();
  EXPECT_EQ(cn, "roster-one");

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  HealthCheckResponse response;
  auto plaintext =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.server().port()),
                          grpc::InsecureChannelCredentials());
  EXPECT_FALSE(Health::NewStub(plaintext)
                   ->Check(&context, HealthCheckRequest(), &response)
                   .ok());
}

TEST(TlsTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  TempDir dir;
  Pki pki(dir);
  pki.Issue("server", "roster");
  pki.Issue("client", "billing-service");
  TestServer server([&](app::ServerConfig& config) {
    pki.ServeServerCertificate(config);
    config.tls_client_ca_file = pki.File("ca.pem");
  });
  grpc::SslCredentialsOptions anonymous;
  anonymous.pem_root_certs = Read(pki.File("ca.pem"));
  EXPECT_FALSE(Check(server.server().port(), anonymous).ok());

  grpc::SslCredentialsOptions with_cert = anonymous;
  with_cert.pem_private_key = Read(pki.File("client.key"));
  with_cert.pem_cert_chain = Read(pki.File("client.pem"));
  grpc::Status status = Check(server.server().port(), with_cert);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(TlsTest, TheCliSpeaksTlsAndMutualTls) {
  TempDir dir;
  Pki pki(dir);
  pki.Issue("server", "roster");
  pki.Issue("client", "ops");
  TestServer server([&](app::ServerConfig& config) {
    pki.ServeServerCertificate(config);
    config.tls_client_ca_file = pki.File("ca.pem");
  });
  const std::string cli = absl::StrCat(
      ::roster::testing::CliBinary(),
      " --addr=127.0.0.1:", server.server().port(), " --timeout=5s ");
  auto exit_code = [&](const std::string& flags) {
    const int status =
        std::system((cli + flags + " health >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(exit_code(""), 14);  // Plaintext to a TLS server: UNAVAILABLE.
  EXPECT_EQ(exit_code("--ca_file=" + pki.File("ca.pem")), 14)
      << "no client certificate";
  EXPECT_EQ(exit_code(absl::StrCat("--ca_file=", pki.File("ca.pem"),
                                   " --cert_file=", pki.File("client.pem"),
                                   " --key_file=", pki.File("client.key"))),
            0);
}

TEST(TlsTest, ARotatedCertificateIsServedWithoutARestart) {
  TempDir dir;
  Pki pki(dir);
  pki.Issue("server", "roster-one");
  TestServer server([&](app::ServerConfig& config) {
    pki.ServeServerCertificate(config);
    config.tls_reload_interval = absl::Seconds(1);
  });
  grpc::SslCredentialsOptions trust;
  trust.pem_root_certs = Read(pki.File("ca.pem"));
  // A channel opened before the rotation.
  auto old_channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.server().port()),
                          grpc::SslCredentials(trust));
  auto old_stub = Health::NewStub(old_channel);
  {
    grpc::ClientContext context;
    HealthCheckResponse response;
    ASSERT_TRUE(
        old_stub->Check(&context, HealthCheckRequest(), &response).ok());
  }

  pki.Issue("server", "roster-two");  // Overwrites server.pem and server.key.
  std::string cn;
  testing::WaitUntil(
      [&] {
        EXPECT_TRUE(Check(server.server().port(), trust, &cn).ok());
        return cn == "roster-two";
      },
      absl::Seconds(10));
  EXPECT_EQ(cn, "roster-two");
  grpc::ClientContext context;
  HealthCheckResponse response;
  EXPECT_TRUE(old_stub->Check(&context, HealthCheckRequest(), &response).ok())
      << "the connection made before the rotation keeps working";
}

// A TLS connection to 127.0.0.1:`port` offering ALPN h2, as gRPC clients do,
// that sends raw HTTP/2 frames. It trusts any certificate.
class RawTlsConnection {
 public:
  explicit RawTlsConnection(int port)
      : fd_(::roster::testing::ConnectFrom(port)),
        context_(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free),
        ssl_(SSL_new(context_.get()), &SSL_free) {
    static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
    connected_ = fd_ >= 0 &&
                 SSL_set_alpn_protos(ssl_.get(), kAlpn, sizeof(kAlpn)) == 0 &&
                 SSL_set_fd(ssl_.get(), fd_) == 1 &&
                 SSL_connect(ssl_.get()) == 1;
  }
  ~RawTlsConnection() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  RawTlsConnection(const RawTlsConnection&) = delete;
  RawTlsConnection& operator=(const RawTlsConnection&) = delete;

  bool connected() const { return connected_; }

  // False once the server has closed the connection.
  bool Send(const std::string& bytes) {
    const NoSigpipe no_sigpipe;
    return SSL_write(ssl_.get(), bytes.data(),
                     static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }

  // True if the server closes the connection within `within`; what it sends
  // until then is read and dropped.
  bool ClosedByServer(absl::Duration within) {
    timeval tick{0, 200'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
    const absl::Time deadline = absl::Now() + within;
    char buffer[16384];
    const NoSigpipe no_sigpipe;  // A failed read may send an alert.
    while (absl::Now() < deadline) {
      const int n = SSL_read(ssl_.get(), buffer, sizeof(buffer));
      if (n <= 0 && SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_READ) {
        return true;
      }
    }
    return false;
  }

 private:
  // OpenSSL's socket BIO writes without MSG_NOSIGNAL, so a write to a
  // connection the server has closed raises SIGPIPE, which would end the test
  // process. Blocked on this thread while one lives; one raised meanwhile is
  // taken before the mask is restored.
  class NoSigpipe {
   public:
    NoSigpipe() {
      sigemptyset(&sigpipe_);
      sigaddset(&sigpipe_, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &sigpipe_, &before_);
    }
    ~NoSigpipe() {
      const timespec no_wait{0, 0};
      while (sigtimedwait(&sigpipe_, nullptr, &no_wait) == SIGPIPE) {
      }
      pthread_sigmask(SIG_SETMASK, &before_, nullptr);
    }
    NoSigpipe(const NoSigpipe&) = delete;
    NoSigpipe& operator=(const NoSigpipe&) = delete;

   private:
    sigset_t sigpipe_{};
    sigset_t before_{};
  };

  int fd_;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context_;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
  bool connected_ = false;
};

TEST(TlsTest, TheHttp2GuardChecksWhatTlsDecrypts) {
  // The attacks of Http2GuardTest, sent inside TLS: the guard reads the
  // plaintext SSL_read hands gRPC, so a TLS listener is held to the same rules.
  TempDir dir;
  Pki pki(dir);
  pki.Issue("server", "localhost");
  TestServer server(
      [&](app::ServerConfig& config) { pki.ServeServerCertificate(config); });
  const int port = server.server().port();
  const app::Http2GuardCounts before = app::GuardCounts();

  RawTlsConnection bomb(port);
  ASSERT_TRUE(bomb.connected());
  ASSERT_TRUE(bomb.Send(EndlessHeaderBlockStart()));
  const std::string continuation =
      Http2Frame(0x9, 0, 1, std::string(16384, 'a'));
  // Up to 1 MiB, 16 times the limit: the server closes the connection on the
  // way, and the sends after that fail (EPIPE).
  for (int i = 0; i < 64 && bomb.Send(continuation); ++i) {
  }
  EXPECT_TRUE(bomb.ClosedByServer(absl::Seconds(5)));
  EXPECT_EQ(app::GuardCounts().header_block_too_large,
            before.header_block_too_large + 1);

  RawTlsConnection resets(port);
  ASSERT_TRUE(resets.connected());
  resets.Send(Http2ClientStart() + StreamsOpenedAndReset(1000));
  EXPECT_TRUE(resets.ClosedByServer(absl::Seconds(5)));
  EXPECT_EQ(app::GuardCounts().too_many_resets, before.too_many_resets + 1);

  grpc::SslCredentialsOptions options;
  options.pem_root_certs = Read(pki.File("ca.pem"));
  EXPECT_TRUE(Check(port, options).ok());
}

}  // namespace
}  // namespace roster

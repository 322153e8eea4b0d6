// gRPC over TLS and mTLS on a real server, with certificates made by the
// openssl command line for each test, and a certificate rotated on disk while
// the server runs.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/binaries.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
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
  TestServer server([&](app::ServerConfig& config) {
    config.tls_cert_file = pki.File("server.pem");
    config.tls_key_file = pki.File("server.key");
  });
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
    config.tls_cert_file = pki.File("server.pem");
    config.tls_key_file = pki.File("server.key");
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
    config.tls_cert_file = pki.File("server.pem");
    config.tls_key_file = pki.File("server.key");
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
    config.tls_cert_file = pki.File("server.pem");
    config.tls_key_file = pki.File("server.key");
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

}  // namespace
}  // namespace roster

// A provider over HTTPS: Roster verifies its certificate, and trusts one no
// public CA signed only through --oauth_ca_file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/error_details.h"
#include "tests/testing/oauth_helpers.h"
#include "tests/testing/openid_provider.h"
#include "tests/testing/server_process.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::roster::testing::NoCredentials;
using ::roster::testing::ProvidersFrom;
using ::roster::testing::ReasonOf;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using namespace roster::v1;  // NOLINT: the API's request and response types.

constexpr char kApp[] = "https://app.example.com/auth";
constexpr char kProvider[] = "oauth_custom_tls";

// A provider over HTTPS with a certificate no public CA signed: refused with
// the system's trust store, trusted once --oauth_ca_file names it. The
// provider is `openssl s_server -WWW` serving its discovery document.
class ProviderTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string cert = testing::SelfSignedCertificate(dir_);
    const std::string www = dir_.File("www");
    std::filesystem::create_directories(www + "/.well-known");
    // On port 0 s_server binds a free port and names it ("ACCEPT host:port");
    // -WWW reads each file as it is asked for, so the document naming the
    // port is written once it is known.
    const std::string out = dir_.File("s_server.out");
    pid_ = testing::Spawn(
        {"/bin/sh", "-c",
         absl::StrCat("cd ", www,
                      " && exec openssl s_server -WWW -accept 127.0.0.1:0",
                      " -cert ", cert, " -key ", dir_.File("key.pem"),
                      " </dev/null >", out, " 2>&1")});
    ASSERT_GT(pid_, 0);
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          std::string line;
          // Only a whole line: one still being written could be cut short.
          for (std::ifstream in(out); std::getline(in, line) && !in.eof();) {
            if (absl::StartsWith(line, "ACCEPT 127.0.0.1:")) {
              return absl::SimpleAtoi(line.substr(17), &port_);
            }
          }
          return false;
        },
        absl::Seconds(20)))
        << "openssl s_server did not start";
    issuer_ = absl::StrCat("https://127.0.0.1:", port_);
    std::ofstream(www + "/.well-known/openid-configuration") << nlohmann::json{
        {"issuer", issuer_},
        {"authorization_endpoint", issuer_ + "/auth"},
        {"token_endpoint", issuer_ + "/token"},
        {"jwks_uri", issuer_ + "/jwks"}}.dump();
    std::ofstream(dir_.File("secret")) << testing::kProviderClientSecret;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // StartOAuth on a server that trusts `ca_file` ("" for the system's store).
  grpc::Status Start(const std::string& ca_file, std::string* url) {
    auto providers = ProvidersFrom(
        nlohmann::json{{{"provider", kProvider},
                        {"client_id", "roster"},
                        {"client_secret_file", dir_.File("secret")},
                        {"issuer", issuer_}}});
    EXPECT_TRUE(providers.ok()) << providers.status();
    TestServer server([&](app::ServerConfig& config) {
      config.http_listen = "127.0.0.1:0";
      config.oauth.providers = *providers;
      config.oauth.allowed_redirect_urls = {kApp};
      config.oauth.ca_file = ca_file;
    });
    StartOAuthRequest request;
    request.set_provider(kProvider);
    request.set_redirect_url(kApp);
    request.set_action(StartOAuthRequest::ACTION_SIGN_IN);
    StartOAuthResponse response;
    grpc::Status status =
        FrontendUsers::NewStub(server.channel())
            ->StartOAuth(NoCredentials().get(), request, &response);
    *url = response.authorization_url();
    return status;
  }

  TempDir dir_;
  int port_ = 0;
  std::string issuer_;
  pid_t pid_ = -1;
};

TEST_F(ProviderTlsTest, AnUntrustedCertificateIsRefusedAndTheCaFileTrustsIt) {
  std::string url;
  const grpc::Status refused = Start("", &url);
  EXPECT_EQ(refused.error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(refused), "OAUTH_PROVIDER_ERROR");
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "certificate"))
      << refused.error_message();
  EXPECT_EQ(url, "");

  const grpc::Status trusted = Start(dir_.File("cert.pem"), &url);
  ASSERT_TRUE(trusted.ok()) << trusted.error_message();
  EXPECT_TRUE(absl::StartsWith(url, issuer_ + "/auth?")) << url;
}

}  // namespace
}  // namespace roster

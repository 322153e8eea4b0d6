// Browsers' way in (DESIGN §12) on a real server: FrontendUsers over Connect
// (JSON and binary protobuf) and gRPC-Web (binary and text) on the HTTP
// listener, answering what the gRPC port answers; errors as Connect JSON
// with ErrorInfo and BadRequest; BackendUsers only with --http_backend; CORS
// from --allowed_origins; and the HTTP caller's own address, not the
// gateway's, behind the per-address limits.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "nlohmann/json.hpp"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/error_details.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/tcp.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::WithToken;
using namespace roster::v1;  // NOLINT: the API's request and response types.

constexpr char kWebApp[] = "https://app.example.com";
constexpr char kConnectPassword[] = "correct horse battery";

// A gRPC-Web frame: flags, big-endian length, bytes.
std::string WebFrame(uint8_t flags, const std::string& bytes) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(flags);
  for (size_t i = 0; i < 4; ++i) {
    out[4 - i] = static_cast<char>((bytes.size() >> (8 * i)) & 0xff);
  }
  return out + bytes;
}

// A gRPC-Web response body split into its message (if any) and trailers.
struct WebReply {
  std::string message;
  std::string trailers;
};
WebReply SplitFrames(const std::string& body) {
  WebReply reply;
  size_t at = 0;
  while (at + 5 <= body.size()) {
    size_t length = 0;
    for (size_t i = 1; i < 5; ++i) {
      length = (length << 8) | static_cast<uint8_t>(body[at + i]);
    }
    const std::string bytes = body.substr(at + 5, length);
    ((static_cast<uint8_t>(body[at]) & 0x80) != 0 ? reply.trailers
                                                  : reply.message) = bytes;
    at += 5 + length;
  }
  return reply;
}

class ConnectTest : public ::testing::Test {
 protected:
  virtual void Configure(app::ServerConfig& /*config*/) {}

  void SetUp() override {
    server_ = std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config.http_listen = "127.0.0.1:0";
      config.web.allowed_origins = {kWebApp};
      Configure(config);
    });
    http_port_ = server_->server().http_port();
    backend_ = server_->Backend();
    frontend_ = FrontendUsers::NewStub(server_->channel());
    CreateUserRequest create;
    create.add_email_addresses("ada@example.com");
    create.set_first_name("Ada");
    create.set_password(kConnectPassword);
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &ada_).ok());
  }

  httplib::Result Post(const std::string& method, const std::string& type,
                       const std::string& body,
                       const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", http_port_);
    return client.Post(absl::StrCat("/roster.v1.", method).c_str(), headers,
                       body, type.c_str());
  }

  // A session token for Ada, by SignIn over Connect JSON.
  std::string SignInOverConnect() {
    auto answer = Post("FrontendUsers/SignIn", "application/json",
                       nlohmann::json{{"identifier", "ada@example.com"},
                                      {"password", kConnectPassword}}
                           .dump());
    EXPECT_TRUE(answer);
    if (!answer) {
      return "";
    }
    EXPECT_EQ(answer->status, 200) << answer->body;
    const auto json = nlohmann::json::parse(answer->body, nullptr, false);
    EXPECT_EQ(json.value("status", ""), "STATUS_COMPLETE") << answer->body;
    return json.value("sessionToken", "");
  }

  // GetMe over gRPC, to compare with.
  FrontendUser MeOverGrpc(const std::string& token) {
    FrontendUser me;
    EXPECT_TRUE(
        frontend_->GetMe(WithToken(token).get(), GetMeRequest(), &me).ok());
    return me;
  }

  int http_port_ = 0;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<BackendUsers::Stub> backend_;
  std::unique_ptr<FrontendUsers::Stub> frontend_;
  User ada_;
};

TEST_F(ConnectTest, EachProtocolAnswersWhatTheGrpcPortAnswers) {
  const std::string token = SignInOverConnect();
  ASSERT_FALSE(token.empty());
  const FrontendUser expected = MeOverGrpc(token);
  ASSERT_EQ(expected.id(), ada_.id());
  const httplib::Headers bearer = {
      {"Authorization", absl::StrCat("Bearer ", token)}};
  const auto same = [&](const FrontendUser& me, const std::string& what) {
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(me, expected))
        << what << ": " << me.DebugString();
  };

  // Connect JSON: lowerCamelCase names, as protojson writes them.
  auto json = Post("FrontendUsers/GetMe", "application/json", "{}", bearer);
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200) << json->body;
  EXPECT_EQ(json->get_header_value("Content-Type"), "application/json");
  EXPECT_TRUE(absl::StrContains(json->body, "\"firstName\":\"Ada\""))
      << json->body;
  FrontendUser from_json;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json->body, &from_json).ok());
  same(from_json, "Connect JSON");

  // Connect binary protobuf.
  auto proto = Post("FrontendUsers/GetMe", "application/proto",
                    GetMeRequest().SerializeAsString(), bearer);
  ASSERT_TRUE(proto);
  EXPECT_EQ(proto->status, 200);
  FrontendUser from_proto;
  ASSERT_TRUE(from_proto.ParseFromString(proto->body));
  same(from_proto, "Connect proto");

  // gRPC-Web, binary and base64 text.
  auto web = Post("FrontendUsers/GetMe", "application/grpc-web+proto",
                  WebFrame(0, GetMeRequest().SerializeAsString()), bearer);
  ASSERT_TRUE(web);
  EXPECT_EQ(web->status, 200);
  WebReply reply = SplitFrames(web->body);
  EXPECT_TRUE(absl::StrContains(reply.trailers, "grpc-status:0"))
      << reply.trailers;
  FrontendUser from_web;
  ASSERT_TRUE(from_web.ParseFromString(reply.message));
  same(from_web, "gRPC-Web");

  auto text = Post("FrontendUsers/GetMe", "application/grpc-web-text",
                   absl::Base64Escape(WebFrame(0, "")), bearer);
  ASSERT_TRUE(text);
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(text->body, &decoded)) << text->body;
  reply = SplitFrames(decoded);
  FrontendUser from_text;
  ASSERT_TRUE(from_text.ParseFromString(reply.message));
  same(from_text, "gRPC-Web text");
}

TEST_F(ConnectTest, ErrorsCarryTheirCodeReasonAndFieldViolations) {
  // No token: 401, unauthenticated, ErrorInfo with the reason.
  auto refused = Post("FrontendUsers/GetMe", "application/json", "{}");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  auto error = nlohmann::json::parse(refused->body, nullptr, false);
  EXPECT_EQ(error.value("code", ""), "unauthenticated") << refused->body;
  ASSERT_TRUE(error.contains("details")) << refused->body;
  const auto& detail = error["details"][0];
  EXPECT_EQ(detail.value("type", ""), "google.rpc.ErrorInfo");
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(detail.value("value", ""), &bytes));
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(info.ParseFromString(bytes));
  EXPECT_EQ(info.reason(), "UNAUTHENTICATED");
  EXPECT_EQ(detail["debug"].value("reason", ""), "UNAUTHENTICATED");

  // A missing field: 400 with a BadRequest naming it.
  auto invalid = Post("FrontendUsers/StartOAuth", "application/json", "{}");
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 400);
  error = nlohmann::json::parse(invalid->body, nullptr, false);
  EXPECT_EQ(error.value("code", ""), "invalid_argument");
  bool named = false;
  for (const auto& each : error["details"]) {
    if (each.value("type", "") == "google.rpc.BadRequest") {
      ASSERT_TRUE(absl::Base64Unescape(each.value("value", ""), &bytes));
      google::rpc::BadRequest bad;
      ASSERT_TRUE(bad.ParseFromString(bytes));
      named = bad.field_violations_size() == 1 &&
              bad.field_violations(0).field() == "action";
    }
  }
  EXPECT_TRUE(named) << invalid->body;

  // Hostile bodies: malformed JSON, a frame whose length lies, an unknown
  // content type, an unknown method. None reaches a service; none hurts.
  auto malformed =
      Post("FrontendUsers/SignIn", "application/json", R"({"identifier":)");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_TRUE(absl::StrContains(malformed->body, "roster.v1.SignInRequest"));
  auto lying = Post("FrontendUsers/GetMe", "application/grpc-web",
                    std::string("\0\0\0\1\0", 5));
  ASSERT_TRUE(lying);
  EXPECT_TRUE(
      absl::StrContains(SplitFrames(lying->body).trailers, "grpc-status:3"))
      << lying->body;
  auto unsupported = Post("FrontendUsers/GetMe", "text/xml", "<GetMe/>");
  ASSERT_TRUE(unsupported);
  EXPECT_EQ(unsupported->status, 415);
  auto unknown = Post("FrontendUsers/Nothing", "application/json", "{}");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 501);
  EXPECT_TRUE(absl::StrContains(unknown->body, "\"unimplemented\""));

  // gRPC-Web errors travel in the trailers, details and all.
  auto web =
      Post("FrontendUsers/GetMe", "application/grpc-web", WebFrame(0, ""));
  ASSERT_TRUE(web);
  EXPECT_EQ(web->status, 200);
  const std::string trailers = SplitFrames(web->body).trailers;
  EXPECT_TRUE(absl::StrContains(trailers, "grpc-status:16")) << trailers;
  EXPECT_TRUE(absl::StrContains(trailers, "grpc-status-details-bin:"))
      << trailers;
}

// ProtoJSON's bools are true and false: "y" (or 'yes', as protobuf's own
// parser also takes single quotes) accepts no terms, though that parser would
// read it as true.
TEST_F(ConnectTest, ABoolGivenAsAStringIsRefused) {
  for (const char* spelled : {R"("y")", "'yes'"}) {
    auto quoted = Post("FrontendUsers/CreateSignUp", "application/json",
                       absl::StrCat(R"({"emailAddress":"kai@example.com",)",
                                    R"("password":"correct horse battery",)",
                                    R"("legalAccepted":)", spelled, "}"));
    ASSERT_TRUE(quoted);
    EXPECT_EQ(quoted->status, 400) << spelled;
    const auto error = nlohmann::json::parse(quoted->body, nullptr, false);
    EXPECT_EQ(error.value("code", ""), "invalid_argument") << quoted->body;
    EXPECT_TRUE(
        absl::StrContains(error.value("message", ""), "(legal_accepted)"))
        << quoted->body;
  }
  EXPECT_EQ(server_->database().Int("SELECT count(*) FROM sign_ups"), 0);

  auto plain =
      Post("FrontendUsers/CreateSignUp", "application/json",
           R"({"emailAddress":"kai@example.com",)"
           R"("password":"correct horse battery","legalAccepted":true})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200) << plain->body;
  EXPECT_EQ(server_->database().Int("SELECT count(*) FROM sign_ups"), 1);
}

TEST_F(ConnectTest, BackendUsersIsNotServedOverHttpByDefault) {
  auto answer = Post(
      "BackendUsers/ListUsers", "application/json", "{}",
      {{"Authorization", absl::StrCat("Bearer ", testing::kTestSecretKey)}});
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 501) << answer->body;
}

class ConnectBackendTest : public ConnectTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.web.http_backend = true;
  }
};

TEST_F(ConnectBackendTest, BackendUsersNeedsItsSecretKeyOverHttpToo) {
  auto anonymous = Post("BackendUsers/ListUsers", "application/json", "{}");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto listed = Post(
      "BackendUsers/ListUsers", "application/json", "{}",
      {{"Authorization", absl::StrCat("Bearer ", testing::kTestSecretKey)}});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200) << listed->body;
  EXPECT_TRUE(absl::StrContains(listed->body, ada_.id())) << listed->body;
}

TEST_F(ConnectTest, CorsAllowsOnlyTheConfiguredOrigins) {
  httplib::Client client("127.0.0.1", http_port_);
  auto preflight = client.Options("/roster.v1.FrontendUsers/GetMe",
                                  {{"Origin", kWebApp},
                                   {"Access-Control-Request-Method", "POST"},
                                   {"Access-Control-Request-Headers",
                                    "content-type, authorization, x-evil"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"),
            kWebApp);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Headers"),
            "content-type, authorization");
  EXPECT_FALSE(preflight->has_header("Access-Control-Allow-Credentials"));

  auto other = client.Options("/roster.v1.FrontendUsers/GetMe",
                              {{"Origin", "https://evil.example.com"},
                               {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));

  auto allowed = Post("FrontendUsers/GetMe", "application/json", "{}",
                      {{"Origin", kWebApp}});
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->get_header_value("Access-Control-Allow-Origin"), kWebApp);
  auto refused = Post("FrontendUsers/GetMe", "application/json", "{}",
                      {{"Origin", "https://evil.example.com"}});
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->has_header("Access-Control-Allow-Origin"));
}

class ConnectLimitsTest : public ConnectTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.sign_in_attempts_per_address_per_hour = 3;
  }
};

// The gateway passes on its caller's address: browsers on one address share
// that address's budget (with gRPC callers from it), not one budget for the
// whole HTTP listener; and no gRPC caller can claim another address.
TEST_F(ConnectLimitsTest, TheHttpCallersAddressIsTheOneLimited) {
  for (int i = 0; i < 3; ++i) {
    auto started = Post("FrontendUsers/StartSignIn", "application/json",
                        R"({"identifier":"ada@example.com"})");
    ASSERT_TRUE(started);
    EXPECT_EQ(started->status, 200) << started->body;
  }
  auto limited = Post("FrontendUsers/StartSignIn", "application/json",
                      R"({"identifier":"ada@example.com"})");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429) << limited->body;
  EXPECT_TRUE(absl::StrContains(limited->body, "google.rpc.RetryInfo"))
      << limited->body;

  // The same address over gRPC, even claiming to be the gateway's caller
  // from elsewhere: the same spent budget.
  grpc::ClientContext context;
  context.AddMetadata("roster-client-address", "ipv4:10.1.2.3:4000");
  context.AddMetadata("roster-gateway-key", std::string(64, '0'));
  StartSignInRequest request;
  request.set_identifier("ada@example.com");
  SignInAttempt attempt;
  const grpc::Status status =
      frontend_->StartSignIn(&context, request, &attempt);
  EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(status), "TOO_MANY_ATTEMPTS");
}

// The README's curl block, run as written against this server's listener.
TEST_F(ConnectTest, TheReadmesCurlBlockWorks) {
  std::ifstream in(absl::StrCat(ROSTER_TEST_DATA_DIR, "/../../README.md"));
  std::stringstream readme;
  readme << in.rdbuf();
  const std::string text = readme.str();
  const size_t marker = text.find(
      "(this block is run by `ConnectTest.TheReadmesCurlBlockWorks`)");
  ASSERT_NE(marker, std::string::npos);
  const size_t start = text.find("```sh\n", marker) + 6;
  std::string block = text.substr(start, text.find("```", start) - start);
  const std::string dev_url = "HTTP=http://127.0.0.1:8081";
  ASSERT_TRUE(absl::StartsWith(block, dev_url)) << block;
  block.replace(0, dev_url.size(),
                absl::StrCat("HTTP=http://127.0.0.1:", http_port_));
  const std::string script =
      absl::StrCat(::testing::TempDir(), "readme-connect.sh");
  std::ofstream(script) << "set -euo pipefail\n" << block;
  FILE* pipe = popen(absl::StrCat("bash ", script).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    out += buffer;
  }
  EXPECT_EQ(pclose(pipe), 0)
      << out << " (curl comes from scripts/bootstrap.sh)";
  EXPECT_TRUE(
      absl::StrContains(out, absl::StrCat("\"id\":\"", ada_.id(), "\"")))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "\"firstName\":\"Ada\"")) << out;
  EXPECT_TRUE(absl::StrContains(out, "{\"code\":\"unauthenticated\"")) << out;
}

// Profile images are the one large request a browser sends: their path gets
// a body budget of its own, and only two are read at once.
using ConnectUploadTest = ConnectTest;

// A PNG (a valid 1x1 image followed by `padding` bytes) of about `size`.
std::string LargePng(size_t padding) {
  const unsigned char png[] = {
      0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D,
      0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
      0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
      0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x00, 0x02, 0x00,
      0x00, 0x05, 0x00, 0x01, 0xE9, 0xFA, 0xDC, 0xD8, 0x00, 0x00, 0x00, 0x00,
      0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(png), sizeof(png)) +
         std::string(padding, '\x5a');
}

TEST_F(ConnectTest, AnswersCarryTheRequestId) {
  // The caller's own id comes back, on success and on failure.
  for (const char* body : {R"({"identifier":"ada@example.com"})", R"({})"}) {
    auto answer = Post("FrontendUsers/StartSignIn", "application/json", body,
                       {{"x-request-id", "browser-report-42"}});
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->get_header_value("x-request-id"), "browser-report-42")
        << answer->status;
  }
  // Without one, the id the server made up for its log line.
  auto answer = Post("FrontendUsers/GetJwks", "application/json", "{}");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->get_header_value("x-request-id").size(), 32u);
}

TEST_F(ConnectUploadTest, AMegabytesImageUploadsOverConnectJson) {
  const std::string token = SignInOverConnect();
  const std::string image = LargePng(size_t{3} << 20);
  auto answer =
      Post("FrontendUsers/SetMyProfileImage", "application/json",
           nlohmann::json{{"image", absl::Base64Escape(image)}}.dump(),
           {{"authorization", absl::StrCat("Bearer ", token)}});
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body.substr(0, 500);
  const std::string url =
      nlohmann::json::parse(answer->body).value("imageUrl", "");
  httplib::Client client("127.0.0.1", http_port_);
  auto served = client.Get(url.substr(url.find("/v1/images/")).c_str());
  ASSERT_TRUE(served);
  EXPECT_EQ(served->body, image);
  // Other paths keep the small budget.
  auto other = Post("FrontendUsers/UpdateMe", "application/json",
                    std::string(size_t{100} * 1024, ' '),
                    {{"authorization", absl::StrCat("Bearer ", token)}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 413);
}

TEST_F(ConnectUploadTest, UploadsBeyondTheirSlotsAreTurnedAway) {
  // Two slow uploads hold both slots: headers and a first few bytes.
  const std::string head = absl::StrCat(
      "POST /roster.v1.FrontendUsers/SetMyProfileImage HTTP/1.1\r\n"
      "Host: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 5000000\r\n\r\n{\"image\":\"");
  const auto start_slow_upload = [&] {
    const int fd = testing::ConnectFrom(http_port_);
    EXPECT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(head.size()));
    return fd;
  };
  std::vector<int> slow = {start_slow_upload(), start_slow_upload()};
  // The third waits for neither: 503 with Retry-After, its body unread.
  auto busy = [&] {
    return Post("FrontendUsers/SetMyProfileImage", "application/json",
                R"({"image":""})");
  };
  int status = 0;
  // The two are admitted in the server's own time, so probe until both are
  // in. A probe holds a slot while it is answered: a slow upload that reached
  // the server then was turned away itself (an answer, then a close), and is
  // sent again.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (status != 503 && absl::Now() < give_up) {
    for (int& fd : slow) {
      pollfd answered{fd, POLLIN, 0};
      if (poll(&answered, 1, 0) > 0) {
        close(fd);
        fd = start_slow_upload();
      }
    }
    auto answer = busy();
    ASSERT_TRUE(answer);
    status = answer->status;
    if (status == 503) {
      EXPECT_EQ(answer->get_header_value("Retry-After"), "1");
    }
  }
  EXPECT_EQ(status, 503);
  // An announced body over the upload budget is refused before it is read.
  const int huge = testing::ConnectFrom(http_port_);
  const std::string huge_head =
      "POST /roster.v1.FrontendUsers/SetMyProfileImage HTTP/1.1\r\n"
      "Host: x\r\nContent-Length: 16777216\r\n\r\n";
  ASSERT_EQ(send(huge, huge_head.data(), huge_head.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(huge_head.size()));
  char reply[64] = {};
  ASSERT_GT(recv(huge, reply, sizeof(reply) - 1, 0), 0);
  EXPECT_TRUE(absl::StartsWith(reply, "HTTP/1.1 413")) << reply;
  close(huge);
  for (int fd : slow) {
    close(fd);
  }
  // Once they are gone, uploads are read again (unauthenticated: 401).
  for (int attempt = 0; attempt < 500 && status == 503; ++attempt) {
    auto answer = busy();
    ASSERT_TRUE(answer);
    status = answer->status;
  }
  EXPECT_EQ(status, 401);
}

}  // namespace
}  // namespace roster

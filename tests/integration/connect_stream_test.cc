// Server streaming on the HTTP listener (DESIGN §12): WatchEvents over
// Connect's streaming protocol and gRPC-Web, its errors in the end-of-stream
// frame or the trailers, and the stream slots: bounded, and given back when
// the browser leaves.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "roster/v1/backend_users.grpc.pb.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/tcp.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::TestServer;
using namespace roster::v1;  // NOLINT: the API's request and response types.

struct StreamFrame {
  uint8_t flags = 0;
  std::string bytes;
};

// An envelope: flags, big-endian length, bytes.
std::string Envelope(uint8_t flags, const std::string& bytes) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(flags);
  for (size_t i = 0; i < 4; ++i) {
    out[4 - i] = static_cast<char>((bytes.size() >> (8 * i)) & 0xff);
  }
  return out + bytes;
}

// The whole frames at the front of `buffer`, which keeps any partial one.
std::vector<StreamFrame> TakeFrames(std::string& buffer) {
  std::vector<StreamFrame> frames;
  while (buffer.size() >= 5) {
    size_t length = 0;
    for (size_t i = 1; i < 5; ++i) {
      length = (length << 8) | static_cast<uint8_t>(buffer[i]);
    }
    if (buffer.size() < 5 + length) {
      break;
    }
    frames.push_back(
        {static_cast<uint8_t>(buffer[0]), buffer.substr(5, length)});
    buffer.erase(0, 5 + length);
  }
  return frames;
}

class ConnectStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config.http_listen = "127.0.0.1:0";
      config.web.http_backend = true;
    });
    http_port_ = server_->server().http_port();
    backend_ = server_->Backend();
    for (const char* email : {"ada@example.com", "grace@example.com"}) {
      CreateUserRequest create;
      create.add_email_addresses(email);
      User user;
      ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &user).ok());
    }
  }

  // POSTs a WatchEvents stream of `content_type` and reads frames until
  // `enough` says so (then leaves, closing the connection) or the stream
  // ends. Returns the HTTP status; `frames` gets what arrived.
  int Watch(const std::string& content_type, const std::string& body,
            bool with_key, const std::function<bool(size_t)>& enough,
            std::vector<StreamFrame>* frames) {
    httplib::Client client("127.0.0.1", http_port_);
    client.set_read_timeout(10, 0);
    httplib::Request request;
    request.method = "POST";
    request.path = "/roster.v1.BackendUsers/WatchEvents";
    request.body = body;
    request.set_header("Content-Type", content_type);
    if (with_key) {
      request.set_header("Authorization",
                         absl::StrCat("Bearer ", testing::kTestSecretKey));
    }
    std::string buffer;
    request.content_receiver = [&](const char* data, size_t size,
                                   uint64_t /*offset*/, uint64_t /*length*/) {
      buffer.append(data, size);
      for (StreamFrame& frame : TakeFrames(buffer)) {
        frames->push_back(std::move(frame));
      }
      return !enough(frames->size());
    };
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    client.send(request, response, error);
    return response.status;
  }

  int http_port_ = 0;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<BackendUsers::Stub> backend_;
};

TEST_F(ConnectStreamTest, EventsStreamOverConnectJsonAndGrpcWeb) {
  std::vector<StreamFrame> frames;
  const int status = Watch(
      "application/connect+json",
      Envelope(0, R"({"afterSequence":"0","types":["user.created"]})"), true,
      [](size_t n) { return n >= 2; }, &frames);
  EXPECT_EQ(status, 200);
  ASSERT_EQ(frames.size(), 2u);
  for (const StreamFrame& frame : frames) {
    EXPECT_EQ(frame.flags, 0);
    const auto event = nlohmann::json::parse(frame.bytes, nullptr, false);
    EXPECT_EQ(event.value("type", ""), "user.created") << frame.bytes;
  }

  // gRPC-Web, binary: protobuf Events in data frames.
  WatchEventsRequest request;
  request.add_types("user.created");
  std::vector<StreamFrame> web;
  Watch(
      "application/grpc-web+proto", Envelope(0, request.SerializeAsString()),
      true, [](size_t n) { return n >= 2; }, &web);
  ASSERT_EQ(web.size(), 2u);
  Event event;
  ASSERT_TRUE(event.ParseFromString(web[1].bytes));
  EXPECT_EQ(event.type(), "user.created");
  EXPECT_EQ(event.user().email_addresses(0).email_address(),
            "grace@example.com");
}

TEST_F(ConnectStreamTest, ErrorsEndTheStreamInItsOwnFormat) {
  // No key: Connect says so in the end-of-stream frame, HTTP 200.
  std::vector<StreamFrame> frames;
  EXPECT_EQ(Watch(
                "application/connect+json", Envelope(0, "{}"), false,
                [](size_t) { return false; }, &frames),
            200);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].flags, 0x02);
  const auto end = nlohmann::json::parse(frames[0].bytes, nullptr, false);
  EXPECT_EQ(end["error"].value("code", ""), "unauthenticated")
      << frames[0].bytes;
  EXPECT_EQ(end["metadata"]["x-request-id"][0].get<std::string>().size(), 32u);

  // gRPC-Web: the trailers frame.
  std::vector<StreamFrame> web;
  Watch(
      "application/grpc-web+proto", Envelope(0, ""), false,
      [](size_t) { return false; }, &web);
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].flags, 0x80);
  EXPECT_TRUE(absl::StrContains(web[0].bytes, "grpc-status:16"))
      << web[0].bytes;

  // A lying envelope, and a compressed one, are refused.
  for (const std::string& body :
       {std::string("\0\0\0\0\x09{}", 7), Envelope(1, "{}")}) {
    std::vector<StreamFrame> refused;
    Watch(
        "application/connect+json", body, true, [](size_t) { return false; },
        &refused);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_TRUE(absl::StrContains(refused[0].bytes, "invalid_argument"))
        << refused[0].bytes;
  }
}

TEST_F(ConnectStreamTest,
       StreamSlotsAreBoundedAndComeBackWhenTheBrowserLeaves) {
  // Four streams that stay: raw sockets that sent a whole request.
  const std::string body = Envelope(0, "{}");
  const std::string head = absl::StrCat(
      "POST /roster.v1.BackendUsers/WatchEvents HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/connect+json\r\nAuthorization: Bearer ",
      testing::kTestSecretKey, "\r\nContent-Length: ", body.size(), "\r\n\r\n",
      body);
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(testing::ConnectFrom(http_port_));
    ASSERT_EQ(send(held.back(), head.data(), head.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(head.size()));
    char first[16];
    ASSERT_GT(recv(held.back(), first, sizeof(first), 0), 0);  // Its head.
  }
  std::vector<StreamFrame> frames;
  EXPECT_EQ(Watch(
                "application/connect+json", body, true,
                [](size_t) { return true; }, &frames),
            503);
  for (int fd : held) {
    close(fd);
  }
  // The server notices within 200 ms; then a stream opens again.
  int status = 503;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(10);
       status == 503 && absl::Now() < give_up;) {
    status = Watch(
        "application/connect+json", body, true, [](size_t n) { return n >= 1; },
        &frames);
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace roster

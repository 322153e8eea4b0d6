// A real roster-server (the production RosterServer) on 127.0.0.1:0 over a
// SQLite file in a temp directory, or a scratch PostgreSQL database when
// ROSTER_TEST_STORE=postgres (test_database.h), and helpers to call it through
// the generated stubs.
#ifndef ROSTER_TESTS_TESTING_TEST_SERVER_H_
#define ROSTER_TESTS_TESTING_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "server/app/roster_server.h"
#include "tests/testing/error_details.h"
#include "tests/testing/fakes.h"
#include "tests/testing/frontend_response_scanner.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_database.h"

namespace roster::testing {

inline constexpr char kTestSecretKey[] =
    "sk_test_0123456789abcdefghijklmnopqrstuv";

class TestServer {
 public:
  // Starts a server on a SQLite file in a fresh temp dir; `adjust` may change
  // the configuration first.
  explicit TestServer(
      const std::function<void(app::ServerConfig&)>& adjust = nullptr) {
    config_.listen = "127.0.0.1:0";
    config_.db_path = database_.db();
    config_.secret_keys = {kTestSecretKey,
                           "sk_test_second_key_for_rotation_000000"};
    if (adjust) {
      adjust(config_);
    }
    Start();
  }

  void Start() {
    auto server = app::RosterServer::Start(config_, &clock_);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    const std::string target = absl::StrCat("127.0.0.1:", server_->port());
    std::vector<
        std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
        scanners;
    scanners.push_back(std::make_unique<FrontendResponseScannerFactory>());
    channel_ = grpc::experimental::CreateCustomChannelWithInterceptors(
        target, grpc::InsecureChannelCredentials(), grpc::ChannelArguments(),
        std::move(scanners));
    raw_channel_ =
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  }

  // Stops and starts again on the same database file.
  void Restart() {
    Stop();
    Start();
  }
  // Stops the server and releases its store (Start brings it back).
  void Stop() {
    server_->Shutdown(absl::Seconds(5));
    server_.reset();
  }

  app::RosterServer& server() { return *server_; }
  // Moves the server's clock ahead: what a test would otherwise sleep for.
  void AdvanceClock(absl::Duration d) { clock_.Advance(d); }
  absl::Time Now() const { return clock_.Now(); }
  const app::ServerConfig& config() const { return config_; }
  // The SQLite path or PostgreSQL DSN the server runs on.
  const std::string& db_path() const { return config_.db_path; }
  const TestDatabase& database() const { return database_; }
  // Typed stubs only: every FrontendUsers response on it is scanned for
  // private metadata and password digests.
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // For grpc::GenericStub (raw bytes, which the scanner cannot read).
  std::shared_ptr<grpc::Channel> raw_channel() const { return raw_channel_; }
  std::unique_ptr<roster::v1::BackendUsers::Stub> Backend() const {
    return roster::v1::BackendUsers::NewStub(channel_);
  }

 private:
  TempDir dir_;
  TestDatabase database_{dir_};
  app::ServerConfig config_;
  OffsetClock clock_;  // Declared before the server, which reads it.
  std::unique_ptr<app::RosterServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::shared_ptr<grpc::Channel> raw_channel_;
};

// A client context carrying `key` as the bearer secret key, with a deadline.
inline std::unique_ptr<grpc::ClientContext> Authed(
    const std::string& key = kTestSecretKey) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + key);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

// A client context carrying a FrontendUsers session token, with a deadline.
inline std::unique_ptr<grpc::ClientContext> WithToken(
    const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

// A client context with no credentials (the sign-up and sign-in calls), with
// a deadline.
inline std::unique_ptr<grpc::ClientContext> NoCredentials() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

// A session token for `user_id` from BackendUsers.CreateSession (the backend
// vouches for the user); "" and a test failure when it is refused.
inline std::string NewSessionToken(roster::v1::BackendUsers::Stub& backend,
                                   const std::string& user_id) {
  roster::v1::CreateSessionRequest request;
  request.set_user_id(user_id);
  roster::v1::CreateSessionResponse session;
  const grpc::Status status =
      backend.CreateSession(Authed().get(), request, &session);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return session.session_token();
}

// The BadRequest field paths in a failed call's details.
inline std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  std::vector<std::string> fields;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) {
    return fields;
  }
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&bad_request)) {
      for (const auto& v : bad_request.field_violations()) {
        fields.push_back(v.field());
      }
    }
  }
  return fields;
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_TEST_SERVER_H_

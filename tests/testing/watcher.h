// Reads BackendUsers.WatchEvents as a consumer (e.g. a mail service) would.
#ifndef ROSTER_TESTS_TESTING_WATCHER_H_
#define ROSTER_TESTS_TESTING_WATCHER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "roster/v1/backend_users.grpc.pb.h"
#include "tests/testing/test_server.h"

namespace roster::testing {

// A WatchEvents stream read synchronously, with a deadline so a missing event
// fails the test instead of hanging it.
class Watcher {
 public:
  Watcher(roster::v1::BackendUsers::Stub& stub, int64_t after_sequence,
          const std::vector<std::string>& types = {},
          std::chrono::seconds deadline = std::chrono::seconds(60)) {
    context_.AddMetadata("authorization",
                         std::string("Bearer ") + kTestSecretKey);
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    roster::v1::WatchEventsRequest request;
    request.set_after_sequence(after_sequence);
    for (auto& t : types) {
      request.add_types(t);
    }
    reader_ = stub.WatchEvents(&context_, request);
  }
  ~Watcher() {
    if (!finished_) {
      context_.TryCancel();
      Finish();
    }
  }

  // The next `n` events; fewer if the stream ended.
  std::vector<roster::v1::Event> Next(int n) {
    std::vector<roster::v1::Event> events;
    roster::v1::Event event;
    while (static_cast<int>(events.size()) < n && reader_->Read(&event)) {
      events.push_back(event);
    }
    return events;
  }

  // Reads until the stream ends and returns its status.
  grpc::Status Finish() {
    roster::v1::Event ignored;
    while (reader_->Read(&ignored)) {
    }
    finished_ = true;
    return reader_->Finish();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<roster::v1::Event>> reader_;
  bool finished_ = false;
};

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_WATCHER_H_

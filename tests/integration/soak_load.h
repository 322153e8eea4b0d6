// The soak's load (soak_test.cc): workers that run every RPC of both services
// in realistic cycles against one server, and a tally of the calls that did
// not end as expected.
#ifndef ROSTER_TESTS_INTEGRATION_SOAK_LOAD_H_
#define ROSTER_TESTS_INTEGRATION_SOAK_LOAD_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"

namespace roster::soak {

// The secret key the soak's server accepts.
inline constexpr char kKey[] = "sk_test_soak_0123456789abcdefghijklmnop";

// Counts calls and the ones that did not end as expected (with a sample).
class Tally {
 public:
  void Check(const grpc::Status& status, const char* what,
             grpc::StatusCode expected = grpc::StatusCode::OK) {
    ++calls_;
    if (status.error_code() == expected) {
      return;
    }
    if (unexpected_++ < 10) {
      std::cerr << "unexpected: " << what << ": " << status.error_code() << " "
                << status.error_message() << "\n";
    }
  }
  int64_t calls() const { return calls_; }
  int64_t unexpected() const { return unexpected_; }

 private:
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> unexpected_{0};
};

class Worker {
 public:
  Worker(const std::shared_ptr<grpc::Channel>& channel, int index, Tally* tally)
      : backend_(roster::v1::BackendUsers::NewStub(channel)),
        frontend_(roster::v1::FrontendUsers::NewStub(channel)),
        index_(index),
        tally_(tally) {}

  // Runs cycles until `stop`: a backend one each time, an import one in ten,
  // a frontend one in ten.
  void Run(const std::atomic<bool>& stop);

 private:
  std::string Unique(const char* kind, int64_t i) {
    return absl::StrCat(kind, "-w", index_, "-", i, "-", ++serial_);
  }
  std::string Email(int64_t i) { return Unique("soak", i) + "@example.com"; }
  std::string Phone() {
    return absl::StrFormat("+1415%d%06d", index_, ++phone_serial_ % 1000000);
  }
  void Check(const grpc::Status& status, const char* what,
             grpc::StatusCode expected = grpc::StatusCode::OK) {
    tally_->Check(status, what, expected);
  }

  // One user through BackendUsers: create, read, list, update, metadata,
  // identifiers, external accounts, images, bans, locks, events, deletion.
  void BackendCycle(int64_t i);
  // ImportUsers, then deleting what it made.
  void ImportCycle(int64_t i);
  // A user's own account through FrontendUsers: sign-in, tokens, sessions,
  // profile, identifiers and their verification, password changes,
  // self-deletion.
  void FrontendCycle(int64_t i);

  std::unique_ptr<roster::v1::BackendUsers::Stub> backend_;
  std::unique_ptr<roster::v1::FrontendUsers::Stub> frontend_;
  const int index_;
  Tally* tally_;
  int64_t serial_ = 0;
  int64_t phone_serial_ = 0;
};

}  // namespace roster::soak

#endif  // ROSTER_TESTS_INTEGRATION_SOAK_LOAD_H_

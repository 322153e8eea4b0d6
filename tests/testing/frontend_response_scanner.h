// A gRPC client interceptor on every typed TestServer channel that inspects
// each FrontendUsers response message: no backend User and no private
// metadata field may appear in it, and no string anywhere in it may hold
// kPrivateSentinel (the value tests store as private metadata) or look like a
// password digest. A finding fails the running test, so every frontend call of
// the suite is checked.
#ifndef ROSTER_TESTS_TESTING_FRONTEND_RESPONSE_SCANNER_H_
#define ROSTER_TESTS_TESTING_FRONTEND_RESPONSE_SCANNER_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/client_interceptor.h>
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"

namespace roster::testing {

// Tests put this in private metadata; no frontend response may contain it.
inline constexpr char kPrivateSentinel[] = "private-sentinel-never-frontend";

// Frontend responses scanned by this process so far.
inline std::atomic<int> frontend_responses_scanned{0};

class FrontendResponseScanner : public grpc::experimental::Interceptor {
 public:
  explicit FrontendResponseScanner(std::string method)
      : method_(std::move(method)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      // Typed stubs hand over their generated message (single inheritance
      // from Message); raw byte callers use the unscanned raw channel.
      Scan(*static_cast<const google::protobuf::Message*>(
          methods->GetRecvMessage()));
      ++frontend_responses_scanned;
    }
    methods->Proceed();
  }

 private:
  void Scan(const google::protobuf::Message& message) {
    const auto* descriptor = message.GetDescriptor();
    const auto* reflection = message.GetReflection();
    // Frontend answers use FrontendUser, which has no private metadata; the
    // backend User must never appear in one.
    EXPECT_NE(descriptor->full_name(), "roster.v1.User")
        << method_ << " returned a backend User";
    const auto* private_metadata =
        descriptor->FindFieldByName("private_metadata");
    if (private_metadata != nullptr) {
      EXPECT_FALSE(reflection->HasField(message, private_metadata))
          << method_ << " returned private metadata";
    }
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const auto* field = descriptor->field(i);
      const int count = field->is_repeated()
                            ? reflection->FieldSize(message, field)
                            : (reflection->HasField(message, field) ? 1 : 0);
      for (int j = 0; j < count; ++j) {
        if (field->cpp_type() ==
            google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
          Scan(field->is_repeated()
                   ? reflection->GetRepeatedMessage(message, field, j)
                   : reflection->GetMessage(message, field));
        } else if (field->cpp_type() ==
                   google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
          CheckString(field->is_repeated()
                          ? reflection->GetRepeatedString(message, field, j)
                          : reflection->GetString(message, field));
        }
      }
    }
  }

  void CheckString(const std::string& value) {
    EXPECT_FALSE(absl::StrContains(value, kPrivateSentinel))
        << method_ << " returned private metadata";
    for (const char* digest : {"$argon2", "$2a$", "$2b$", "$2y$", "$scrypt",
                               "pbkdf2_sha", "$pbkdf2", "bcrypt_sha256$"}) {
      EXPECT_FALSE(absl::StrContains(value, digest))
          << method_ << " returned something shaped like a password digest";
    }
  }

  const std::string method_;
};

class FrontendResponseScannerFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    const std::string method = info->method();
    if (!absl::StartsWith(method, "/roster.v1.FrontendUsers/")) {
      return nullptr;
    }
    // gRPC owns the returned interceptor.
    return std::make_unique<FrontendResponseScanner>(method).release();
  }
};

// Prints the count when the test binary ends (docs/reliability.md quotes it).
class FrontendScanReport : public ::testing::Environment {
 public:
  void TearDown() override {
    if (frontend_responses_scanned > 0) {
      std::cout << "frontend responses scanned for private metadata and "
                   "password digests: "
                << frontend_responses_scanned << "\n";
    }
  }
};

// gtest owns registered environments.
inline ::testing::Environment* const kFrontendScanReport =
    ::testing::AddGlobalTestEnvironment(
        std::make_unique<FrontendScanReport>().release());

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_FRONTEND_RESPONSE_SCANNER_H_

// Builds a request with the installed stubs and creates a channel; links only
// roster::roster_proto. Prints the request's JSON-free debug form.
#include <grpcpp/grpcpp.h>

#include <iostream>

#include "roster/v1/backend_users.grpc.pb.h"

int main() {
  auto stub = roster::v1::BackendUsers::NewStub(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  roster::v1::GetUserRequest request;
  request.set_user_id("user_123");
  std::cout << request.ShortDebugString() << "\n";
  return stub != nullptr && request.user_id() == "user_123" ? 0 : 1;
}

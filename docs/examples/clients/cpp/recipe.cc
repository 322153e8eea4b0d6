// Roster from a C++ service: BackendUsers with the secret key, error details,
// and session tokens checked offline with roster::SessionVerifier.
//
// Run: ROSTER_ADDR=localhost:50051 ROSTER_SECRET_KEY=sk_... recipe EMAIL
// It creates a user, shows two decoded errors, opens a session and verifies its
// token, then verifies each token read from stdin, one per line ("valid SUB
// SID" or "refused WHY").
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "roster/client/session_verifier.h"
#include "roster/v1/backend_users.grpc.pb.h"

namespace {

std::string Env(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

// Prints the code, the ErrorInfo reason and the BadRequest fields of a failed
// call: grpc-status-details-bin arrives as error_details().
void PrintError(const grpc::Status& status) {
  std::cout << "error "
            << absl::StatusCodeToString(
                   static_cast<absl::StatusCode>(status.error_code()));
  google::rpc::Status details;
  details.ParseFromString(status.error_details());
  std::string reason;
  std::string fields;
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&info)) {
      reason = info.reason();
    } else if (any.UnpackTo(&bad_request)) {
      for (const auto& violation : bad_request.field_violations()) {
        fields += " " + violation.field();
      }
    }
  }
  std::cout << " " << reason << fields << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: recipe EMAIL\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(Env("ROSTER_ADDR"),
                                     grpc::InsecureChannelCredentials());
  auto backend = roster::v1::BackendUsers::NewStub(channel);
  const std::string bearer = "Bearer " + Env("ROSTER_SECRET_KEY");

  roster::v1::CreateUserRequest request;
  request.add_email_addresses(argv[1]);
  roster::v1::User user;
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", bearer);
    if (grpc::Status s = backend->CreateUser(&context, request, &user);
        !s.ok()) {
      PrintError(s);
      return 1;
    }
  }
  std::cout << "created " << user.id() << "\n";
  for (const std::string email :
       {std::string(argv[1]), std::string("not-an-email")}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", bearer);
    request.set_email_addresses(0, email);
    roster::v1::User ignored;
    if (grpc::Status s = backend->CreateUser(&context, request, &ignored);
        !s.ok()) {
      PrintError(s);
    }
  }
  roster::v1::CreateSessionRequest session_request;
  session_request.set_user_id(user.id());
  roster::v1::CreateSessionResponse session;
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", bearer);
    if (grpc::Status s =
            backend->CreateSession(&context, session_request, &session);
        !s.ok()) {
      PrintError(s);
      return 1;
    }
  }

  roster::SessionVerifierOptions options;
  options.issuer = Env("ROSTER_ISSUER", "roster");
  options.refetch_interval = absl::Seconds(
      std::atof(Env("ROSTER_JWKS_REFETCH_SECONDS", "30").c_str()));
  auto verifier = roster::SessionVerifier::ForChannel(channel, options);
  int fetches = 0;
  auto check = [&](const std::string& token) {
    absl::StatusOr<roster::SessionClaims> claims = verifier->Verify(token);
    for (; fetches < verifier->key_fetches(); ++fetches) {
      std::cout << "jwks fetched\n";
    }
    if (claims.ok()) {
      std::cout << "valid " << claims->user_id << " " << claims->session_id
                << "\n";
    } else {
      std::cout << "refused " << claims.status().message() << "\n";
    }
    std::cout.flush();
  };
  check(session.session_token());
  for (std::string line; std::getline(std::cin, line);) {
    check(line);
  }
  return 0;
}

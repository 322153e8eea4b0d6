// The authentication matrix: every RPC of both services, enumerated from the
// service descriptors (so a new RPC is covered without editing this file),
// called with each kind of bad credential. Every such call must fail with
// UNAUTHENTICATED before the server looks at the request.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <future>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/clock.h"
#include "server/domain/tokens.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::TestServer;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

// A fixed signing seed, so the test can mint tokens the server would sign.
constexpr char kSeedHex[] =
    "8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
// FrontendUsers calls that take no credentials.
// The sign-up calls' capability is the sign-up id (DESIGN §10).
const std::set<std::string> kPublicMethods = {"SignIn",
                                              "RefreshSessionToken",
                                              "GetJwks",
                                              "CreateSignUp",
                                              "UpdateSignUp",
                                              "PrepareSignUpVerification",
                                              "AttemptSignUpVerification",
                                              "StartSignIn",
                                              "PrepareSignInFactor",
                                              "AttemptSignInFactor",
                                              "ResetPassword",
                                              "SignInWithTicket",
                                              "StartOAuth"};

std::string Base64Url(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);
  return out;
}

// Calls `method` (full path) with an empty request and `authorization`
// (none when empty), and returns the status.
grpc::Status CallWith(grpc::GenericStub& stub, const std::string& method,
                      const std::string& authorization) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  if (!authorization.empty()) {
    context.AddMetadata("authorization", authorization);
  }
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](const grpc::Status& status) { done.set_value(status); });
  return done.get_future().get();
}

class AuthMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateUserRequest create;
    create.add_email_addresses("ada@example.com");
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &ada_).ok());
    valid_token_ = NewToken(ada_.id());

    // A banned user's token and a deleted user's token.
    User banned, deleted;
    create.set_email_addresses(0, "banned@example.com");
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &banned).ok());
    banned_token_ = NewToken(banned.id());
    BanUserRequest ban;
    ban.set_user_id(banned.id());
    ASSERT_TRUE(backend_->BanUser(Authed().get(), ban, &banned).ok());
    create.set_email_addresses(0, "deleted@example.com");
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &deleted).ok());
    deleted_token_ = NewToken(deleted.id());
    DeleteUserRequest remove;
    remove.set_user_id(deleted.id());
    DeletedObject gone;
    ASSERT_TRUE(backend_->DeleteUser(Authed().get(), remove, &gone).ok());
  }

  std::string NewToken(const std::string& user_id) {
    CreateSessionRequest request;
    request.set_user_id(user_id);
    CreateSessionResponse session;
    EXPECT_TRUE(
        backend_->CreateSession(Authed().get(), request, &session).ok());
    session_id_ = session.session().id();
    return session.session_token();
  }

  // A token for ada's session with the server's own key, but expired.
  std::string ExpiredToken() {
    auto key = domain::SigningKey::Parse(kSeedHex);
    EXPECT_TRUE(key.ok());
    domain::TokenClaims claims;
    claims.issuer = "roster";
    claims.user_id = ada_.id();
    claims.session_id = session_id_;
    claims.issued_at = absl::Now() - absl::Hours(1);
    claims.not_before = claims.issued_at;
    claims.expires_at = absl::Now() - absl::Minutes(30);
    return key->Sign(claims);
  }

  // A well-formed token signed by a key the server does not know.
  std::string ForeignToken() {
    domain::SystemRandom random;
    domain::TokenClaims claims;
    claims.issuer = "roster";
    claims.user_id = ada_.id();
    claims.session_id = session_id_;
    claims.issued_at = claims.not_before = absl::Now();
    claims.expires_at = absl::Now() + absl::Minutes(5);
    return domain::SigningKey::Generate(random).Sign(claims);
  }

  // The valid token's claims under {"alg":"none"} and no signature.
  std::string AlgNoneToken() {
    const size_t dot = valid_token_.find('.');
    const size_t second = valid_token_.find('.', dot + 1);
    return absl::StrCat(Base64Url(R"({"alg":"none","typ":"JWT"})"), ".",
                        valid_token_.substr(dot + 1, second - dot - 1), ".");
  }

  TestServer server_{
      [](app::ServerConfig& config) { config.signing_key = kSeedHex; }};
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
  grpc::GenericStub generic_{server_.raw_channel()};
  User ada_;
  std::string valid_token_, banned_token_, deleted_token_, session_id_;
};

std::vector<std::string> MethodsOf(const std::string& service,
                                   const std::set<std::string>& except = {}) {
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          service);
  std::vector<std::string> methods;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const std::string& name = descriptor->method(i)->name();
    if (except.count(name) == 0) {
      methods.push_back(absl::StrCat("/", service, "/", name));
    }
  }
  return methods;
}

TEST_F(AuthMatrixTest, EveryBackendRpcRefusesEveryBadCredential) {
  const std::vector<std::pair<std::string, std::string>> credentials = {
      {"none", ""},
      {"malformed header", "Basic c2VjcmV0"},
      {"empty bearer", "Bearer "},
      {"wrong secret key", "Bearer sk_wrong_0123456789abcdefghijklmnopqrstuv"},
      {"the right key with a suffix",
       absl::StrCat("Bearer ", testing::kTestSecretKey, "x")},
      {"a session token", "Bearer " + valid_token_},
  };
  const auto methods = MethodsOf("roster.v1.BackendUsers");
  ASSERT_GE(methods.size(), 30u);
  int checked = 0;
  for (const auto& method : methods) {
    for (const auto& [what, authorization] : credentials) {
      const grpc::Status status = CallWith(generic_, method, authorization);
      EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED)
          << method << " with " << what << ": " << status.error_message();
      EXPECT_EQ(testing::ReasonOf(status), "UNAUTHENTICATED") << method;
      ++checked;
    }
  }
  std::cout << checked << " backend calls refused\n";
}

// Authentication comes before validation: a caller without a key learns
// nothing about what the server would accept, even from an oversized field.
TEST_F(AuthMatrixTest, InvalidInputWithoutCredentialsIsUnauthenticated) {
  VerifyPasswordRequest verify;
  verify.set_user_id(ada_.id());
  verify.set_password(std::string(300, 'x'));
  VerifyPasswordResponse verified;
  grpc::ClientContext anonymous;
  grpc::Status status = backend_->VerifyPassword(&anonymous, verify, &verified);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED)
      << status.error_message();
  // With the key, the same request is the field's own error.
  status = backend_->VerifyPassword(testing::Authed().get(), verify, &verified);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ReasonOf(status), "PASSWORD_TOO_LONG");
}

TEST_F(AuthMatrixTest, EveryFrontendRpcRefusesEveryBadCredential) {
  const std::vector<std::pair<std::string, std::string>> credentials = {
      {"none", ""},
      {"malformed header", "Token " + valid_token_},
      {"not a JWT", "Bearer not.a.jwt"},
      {"the secret key", absl::StrCat("Bearer ", testing::kTestSecretKey)},
      {"expired token", "Bearer " + ExpiredToken()},
      {"token signed by another key", "Bearer " + ForeignToken()},
      {"alg none", "Bearer " + AlgNoneToken()},
      {"tampered signature",
       "Bearer " + valid_token_.substr(0, valid_token_.size() - 2) +
           (valid_token_.back() == 'A' ? "BB" : "AA")},
      {"banned user's token", "Bearer " + banned_token_},
      {"deleted user's token", "Bearer " + deleted_token_},
  };
  const auto methods = MethodsOf("roster.v1.FrontendUsers", kPublicMethods);
  ASSERT_GE(methods.size(), 20u);
  int checked = 0;
  for (const auto& method : methods) {
    for (const auto& [what, authorization] : credentials) {
      const grpc::Status status = CallWith(generic_, method, authorization);
      EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED)
          << method << " with " << what << ": " << status.error_message();
      ++checked;
    }
  }
  // The valid token still works (the matrix is not refusing everything).
  EXPECT_TRUE(CallWith(generic_, "/roster.v1.FrontendUsers/GetMe",
                       "Bearer " + valid_token_)
                  .ok());
  std::cout << checked << " frontend calls refused\n";
}

}  // namespace
}  // namespace roster

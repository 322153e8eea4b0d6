// FrontendUsers end to end: sign-in, tokens, sessions and the signed-in user's
// own account.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/tokens.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NewSessionToken;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::WithToken;
using ::testing::HasSubstr;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

constexpr char kPassword[] = "correct horse battery";

class FrontendUsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateUserRequest create;
    create.add_email_addresses("ada@example.com");
    create.add_phone_numbers("+14155550100");
    create.set_username("ada_l");
    create.set_password(kPassword);
    (*create.mutable_private_metadata()->mutable_fields())["secret"]
        .set_string_value(testing::kPrivateSentinel);
    (*create.mutable_public_metadata()->mutable_fields())["plan"]
        .set_string_value("pro");
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &ada_).ok());
  }

  grpc::Status SignIn(const std::string& identifier,
                      const std::string& password, SignInResponse* response) {
    SignInRequest request;
    request.set_identifier(identifier);
    request.set_password(password);
    grpc::ClientContext context;
    return frontend_->SignIn(&context, request, response);
  }

  SignInResponse SignedIn() {
    SignInResponse response;
    grpc::Status status = SignIn("ada@example.com", kPassword, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status GetMe(const std::string& token, FrontendUser* me) {
    return frontend_->GetMe(WithToken(token).get(), GetMeRequest(), me);
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
  std::unique_ptr<FrontendUsers::Stub> frontend_ =
      FrontendUsers::NewStub(server_.channel());
  User ada_;
};

TEST_F(FrontendUsersTest, SignInByEachIdentifierKindThenGetMe) {
  for (const char* identifier :
       {"ADA@example.com", "+1 415 555 0100", "Ada_L"}) {
    SignInResponse signed_in;
    grpc::Status status = SignIn(identifier, kPassword, &signed_in);
    ASSERT_TRUE(status.ok()) << identifier << ": " << status.error_message();
    EXPECT_EQ(signed_in.session().user_id(), ada_.id());
    EXPECT_EQ(signed_in.session().status(), Session::STATUS_ACTIVE);
    EXPECT_FALSE(signed_in.session_secret().empty());
    EXPECT_EQ(signed_in.user().id(), ada_.id());
    FrontendUser me;
    ASSERT_TRUE(GetMe(signed_in.session_token(), &me).ok());
    EXPECT_EQ(me.id(), ada_.id());
    EXPECT_EQ(me.public_metadata().fields().at("plan").string_value(), "pro");
    EXPECT_TRUE(me.has_last_sign_in_at());
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(me, &json).ok());
    EXPECT_EQ(json.find(testing::kPrivateSentinel), std::string::npos) << json;
  }
}

TEST_F(FrontendUsersTest, OnlyVerifiedEmailAddressesSignIn) {
  CreateEmailAddressRequest add;
  add.set_user_id(ada_.id());
  add.set_email_address("unconfirmed@example.com");
  EmailAddress email;
  ASSERT_TRUE(backend_->CreateEmailAddress(Authed().get(), add, &email).ok());
  SignInResponse response;
  grpc::Status status = SignIn("unconfirmed@example.com", kPassword, &response);
  EXPECT_EQ(ReasonOf(status),
            "PASSWORD_INCORRECT");  // Reads as an unknown identifier.
  UpdateEmailAddressRequest verify;
  verify.set_email_address_id(email.id());
  verify.set_verified(true);
  ASSERT_TRUE(
      backend_->UpdateEmailAddress(Authed().get(), verify, &email).ok());
  EXPECT_TRUE(SignIn("unconfirmed@example.com", kPassword, &response).ok());
}

TEST_F(FrontendUsersTest,
       UnknownIdentifierAndWrongPasswordAreIndistinguishable) {
  SignInResponse response;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status wrong = SignIn("ada@example.com", "not the password", &response);
  const auto wrong_took = std::chrono::steady_clock::now() - start;
  const auto start_unknown = std::chrono::steady_clock::now();
  grpc::Status unknown =
      SignIn("nobody@example.com", "not the password", &response);
  const auto unknown_took = std::chrono::steady_clock::now() - start_unknown;
  grpc::Status no_such_user = SignIn("nobody_here", kPassword, &response);
  for (const auto& status : {wrong, unknown, no_such_user}) {
    EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
    EXPECT_EQ(ReasonOf(status), "PASSWORD_INCORRECT");
    EXPECT_EQ(status.error_message(), wrong.error_message());
  }
  // Both paths pay for one argon2id check (~30 ms here).
  EXPECT_GT(wrong_took, std::chrono::milliseconds(5));
  EXPECT_GT(unknown_took, std::chrono::milliseconds(5));
}

TEST_F(FrontendUsersTest, RefreshingATokenMarksTheUserActive) {
  SignInResponse signed_in = SignedIn();
  GetUserRequest get;
  get.set_user_id(ada_.id());
  User before;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &before).ok());
  server_.AdvanceClock(absl::Seconds(1));
  RefreshSessionTokenRequest refresh;
  refresh.set_session_id(signed_in.session().id());
  refresh.set_session_secret(signed_in.session_secret());
  RefreshSessionTokenResponse refreshed;
  grpc::ClientContext context;
  ASSERT_TRUE(
      frontend_->RefreshSessionToken(&context, refresh, &refreshed).ok());
  User after;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &after).ok());
  const auto micros = [](const google::protobuf::Timestamp& t) {
    return t.seconds() * 1000000 + t.nanos() / 1000;
  };
  EXPECT_GT(micros(after.last_active_at()), micros(before.last_active_at()));
  EXPECT_EQ(after.etag(),
            before.etag());  // Activity is not a change to the user.
}

TEST_F(FrontendUsersTest, TokensRefreshAndStopWorkingWhenTheSessionEnds) {
  SignInResponse signed_in = SignedIn();
  RefreshSessionTokenRequest refresh;
  refresh.set_session_id(signed_in.session().id());
  refresh.set_session_secret(signed_in.session_secret());
  RefreshSessionTokenResponse refreshed;
  grpc::ClientContext refresh_context;
  ASSERT_TRUE(
      frontend_->RefreshSessionToken(&refresh_context, refresh, &refreshed)
          .ok());
  FrontendUser me;
  ASSERT_TRUE(GetMe(refreshed.session_token(), &me).ok());

  RefreshSessionTokenRequest wrong_secret = refresh;
  wrong_secret.set_session_secret("guess");
  grpc::ClientContext wrong_context;
  grpc::Status status =
      frontend_->RefreshSessionToken(&wrong_context, wrong_secret, &refreshed);
  EXPECT_EQ(ReasonOf(status), "SESSION_INVALID");

  Session ended;
  ASSERT_TRUE(frontend_
                  ->SignOut(WithToken(signed_in.session_token()).get(),
                            SignOutRequest(), &ended)
                  .ok());
  EXPECT_EQ(ended.status(), Session::STATUS_REVOKED);
  status = GetMe(refreshed.session_token(), &me);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "SESSION_INVALID");
  grpc::ClientContext again;
  EXPECT_EQ(
      ReasonOf(frontend_->RefreshSessionToken(&again, refresh, &refreshed)),
      "SESSION_INVALID");
}

// Replicas' clocks disagree by seconds: a token is good 30 s past its `exp`,
// not 31 (DESIGN §14).
TEST_F(FrontendUsersTest, ATokenOutlivesItsExpiryByTheLeewayOnly) {
  SignInResponse signed_in = SignedIn();
  FrontendUser me;
  server_.AdvanceClock(absl::Minutes(5) + absl::Seconds(25));
  EXPECT_TRUE(GetMe(signed_in.session_token(), &me).ok());
  server_.AdvanceClock(absl::Seconds(6));
  EXPECT_EQ(GetMe(signed_in.session_token(), &me).error_code(),
            grpc::UNAUTHENTICATED);
}

TEST(TokenIssuerTest, TokensCarryTheConfiguredIssuerAndAudience) {
  const auto start = [](const std::string& issuer,
                        const std::string& audience) {
    return std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config.token_issuer = issuer;
      config.token_audience = audience;
      config.signing_key = std::string(64, 'b');
    });
  };
  auto shop = start("https://id.example.com", "shop");
  CreateUserRequest create;
  create.set_username("grace_h");
  create.set_password(kPassword);
  User user;
  ASSERT_TRUE(shop->Backend()->CreateUser(Authed().get(), create, &user).ok());
  SignInRequest request;
  request.set_identifier("grace_h");
  request.set_password(kPassword);
  SignInResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(FrontendUsers::NewStub(shop->channel())
                  ->SignIn(&context, request, &response)
                  .ok());
  const std::vector<std::string> parts =
      absl::StrSplit(response.session_token(), '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &payload));
  EXPECT_THAT(payload, HasSubstr(R"("iss":"https://id.example.com")"));
  EXPECT_THAT(payload, HasSubstr(R"("aud":"shop")"));
  FrontendUser me;
  EXPECT_TRUE(FrontendUsers::NewStub(shop->channel())
                  ->GetMe(WithToken(response.session_token()).get(),
                          GetMeRequest(), &me)
                  .ok());
  // The same session, signed by the same key, for another audience or none:
  // not for this server.
  auto key = domain::SigningKey::Parse(std::string(64, 'b'));
  ASSERT_TRUE(key.ok());
  domain::TokenClaims claims;
  claims.issuer = "https://id.example.com";
  claims.user_id = user.id();
  claims.session_id = response.session().id();
  claims.issued_at = claims.not_before = absl::Now();
  claims.expires_at = absl::Now() + absl::Minutes(1);
  for (const char* audience : {"shop", "blog", ""}) {
    claims.audience = audience;
    EXPECT_EQ(
        FrontendUsers::NewStub(shop->channel())
            ->GetMe(WithToken(key->Sign(claims)).get(), GetMeRequest(), &me)
            .ok(),
        claims.audience == "shop")
        << audience;
  }
}

// Signing in again and again leaves at most 100 active and 100 ended
// sessions: the oldest active one is revoked, the oldest ended ones deleted.
TEST_F(FrontendUsersTest, ASessionFloodKeepsAHundredActiveAndAHundredEnded) {
  std::vector<std::string> created;
  for (int i = 0; i < 230; ++i) {
    CreateSessionRequest request;
    request.set_user_id(ada_.id());
    CreateSessionResponse response;
    ASSERT_TRUE(
        backend_->CreateSession(Authed().get(), request, &response).ok())
        << i;
    created.push_back(response.session().id());
  }
  std::map<std::string, Session::Status> status;
  ListSessionsRequest list;
  list.set_user_id(ada_.id());
  list.set_limit(500);
  ListSessionsResponse page;
  ASSERT_TRUE(backend_->ListSessions(Authed().get(), list, &page).ok());
  int active = 0;
  for (const Session& session : page.sessions()) {
    status[session.id()] = session.status();
    active += session.status() == Session::STATUS_ACTIVE ? 1 : 0;
  }
  EXPECT_EQ(active, 100);
  EXPECT_EQ(page.sessions_size(), 200);
  // The newest 100 are the active ones; of the ended, the newest 100 stay.
  for (size_t i = 0; i < created.size(); ++i) {
    const auto found = status.find(created[i]);
    if (i < 30) {
      EXPECT_EQ(found, status.end()) << i;
      continue;
    }
    ASSERT_NE(found, status.end()) << i;
    EXPECT_EQ(found->second,
              i >= 130 ? Session::STATUS_ACTIVE : Session::STATUS_REVOKED)
        << i;
  }
}

// A password guesser gets 5 failures per identifier per window, known or not,
// and is then refused (before the hash pool) with RetryInfo (DESIGN §14).
TEST_F(FrontendUsersTest, SignInFailuresArePerIdentifierLimited) {
  SignInResponse response;
  for (const char* identifier : {"ada@example.com", "nobody@example.com"}) {
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(ReasonOf(SignIn(identifier, "wrong guess", &response)),
                "PASSWORD_INCORRECT")
          << identifier << " " << i;
    }
    const grpc::Status limited = SignIn(identifier, "wrong guess", &response);
    EXPECT_EQ(limited.error_code(), grpc::RESOURCE_EXHAUSTED) << identifier;
    EXPECT_EQ(ReasonOf(limited), "TOO_MANY_ATTEMPTS") << identifier;
    google::rpc::Status details;
    ASSERT_TRUE(details.ParseFromString(limited.error_details()));
    google::rpc::RetryInfo retry;
    EXPECT_TRUE(
        std::any_of(details.details().begin(), details.details().end(),
                    [&](const auto& any) { return any.UnpackTo(&retry); }));
    EXPECT_GT(retry.retry_delay().seconds(), 800);
    EXPECT_LE(retry.retry_delay().seconds(), 900);
  }
  // Even the right password waits out the window for that identifier; the
  // user's other identifiers are counted apart.
  EXPECT_EQ(ReasonOf(SignIn("ada@example.com", kPassword, &response)),
            "TOO_MANY_ATTEMPTS");
  EXPECT_TRUE(SignIn("ada_l", kPassword, &response).ok());
}

// Each change is an event kept for 30 days: a user churning their own account
// is capped per hour; reading it, and backends, are not (DESIGN §14).
TEST(SelfServiceWritesTest, OneUsersChangesAreCappedPerHour) {
  TestServer server([](app::ServerConfig& config) {
    config.self_service_writes_per_hour = 5;
  });
  auto backend = server.Backend();
  auto frontend = FrontendUsers::NewStub(server.channel());
  CreateUserRequest create;
  create.set_username("churn");
  User user;
  ASSERT_TRUE(backend->CreateUser(Authed().get(), create, &user).ok());
  std::string token = NewSessionToken(*backend, user.id());
  const auto churn = [&] {
    UpdateMyMetadataRequest update;
    (*update.mutable_unsafe_metadata()->mutable_fields())["n"].set_string_value(
        std::string(4096, 'x'));
    FrontendUser me;
    return frontend->UpdateMyMetadata(WithToken(token).get(), update, &me);
  };
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(churn().ok()) << i;
  }
  const grpc::Status sixth = churn();
  EXPECT_EQ(sixth.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(sixth), "TOO_MANY_ATTEMPTS");
  FrontendUser me;
  EXPECT_TRUE(
      frontend->GetMe(WithToken(token).get(), GetMeRequest(), &me).ok());
  UpdateUserRequest rename;
  rename.set_user_id(user.id());
  rename.set_first_name("Still");
  EXPECT_TRUE(backend->UpdateUser(Authed().get(), rename, &user).ok());
  server.AdvanceClock(absl::Hours(1));
  token = NewSessionToken(*backend, user.id());  // The old one has expired.
  EXPECT_TRUE(churn().ok()) << "a new hour, a new allowance";
}

TEST(SignInLimitsTest, FailuresPerClientAddressAreLimitedAcrossIdentifiers) {
  TestServer server([](app::ServerConfig& config) {
    config.sign_in_failures_per_address = 8;
  });
  auto frontend = FrontendUsers::NewStub(server.channel());
  int refused = 0;
  for (int i = 0; i < 12; ++i) {
    SignInRequest request;
    request.set_identifier(absl::StrCat("user", i, "@example.com"));
    request.set_password("guess");
    SignInResponse response;
    grpc::ClientContext context;
    const grpc::Status status = frontend->SignIn(&context, request, &response);
    refused += ReasonOf(status) == "TOO_MANY_ATTEMPTS" ? 1 : 0;
    EXPECT_EQ(ReasonOf(status),
              i < 8 ? "PASSWORD_INCORRECT" : "TOO_MANY_ATTEMPTS")
        << i;
  }
  EXPECT_EQ(refused, 4);
}

TEST_F(FrontendUsersTest, BanRevokesEverySessionAtOnceAndBackendSessionsWork) {
  SignInResponse first = SignedIn();
  CreateSessionRequest create;
  create.set_user_id(ada_.id());
  CreateSessionResponse second;
  ASSERT_TRUE(backend_->CreateSession(Authed().get(), create, &second).ok());
  FrontendUser me;
  ASSERT_TRUE(GetMe(second.session_token(), &me).ok());
  BanUserRequest ban;
  ban.set_user_id(ada_.id());
  User banned;
  ASSERT_TRUE(backend_->BanUser(Authed().get(), ban, &banned).ok());
  for (const auto& token : {first.session_token(), second.session_token()}) {
    EXPECT_EQ(ReasonOf(GetMe(token, &me)), "SESSION_INVALID");
  }
  ListSessionsRequest list;
  list.set_user_id(ada_.id());
  ListSessionsResponse sessions;
  ASSERT_TRUE(backend_->ListSessions(Authed().get(), list, &sessions).ok());
  ASSERT_EQ(sessions.sessions_size(), 2);
  for (const auto& s : sessions.sessions()) {
    EXPECT_EQ(s.status(), Session::STATUS_REVOKED);
  }
  SignInResponse response;
  EXPECT_EQ(ReasonOf(SignIn("ada@example.com", kPassword, &response)),
            "USER_BANNED");
  CreateSessionResponse refused;
  EXPECT_EQ(ReasonOf(backend_->CreateSession(Authed().get(), create, &refused)),
            "USER_BANNED");
  ListEventsRequest events_request;
  events_request.add_types("session.revoked");
  ListEventsResponse events;
  ASSERT_TRUE(
      backend_->ListEvents(Authed().get(), events_request, &events).ok());
  EXPECT_EQ(events.events_size(), 2);
}

TEST_F(FrontendUsersTest, TheUserManagesTheirOwnAccountOnly) {
  SignInResponse signed_in = SignedIn();
  const std::string& token = signed_in.session_token();
  UpdateMeRequest update;
  update.set_first_name("Ada");
  FrontendUser me;
  ASSERT_TRUE(frontend_->UpdateMe(WithToken(token).get(), update, &me).ok());
  EXPECT_EQ(me.first_name(), "Ada");
  UpdateMyMetadataRequest metadata;
  (*metadata.mutable_unsafe_metadata()->mutable_fields())["theme"]
      .set_string_value("dark");
  ASSERT_TRUE(
      frontend_->UpdateMyMetadata(WithToken(token).get(), metadata, &me).ok());
  EXPECT_EQ(me.unsafe_metadata().fields().at("theme").string_value(), "dark");
  GetUserRequest get;
  get.set_user_id(ada_.id());
  User full;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &full).ok());
  EXPECT_EQ(full.private_metadata().fields().at("secret").string_value(),
            testing::kPrivateSentinel);

  // Another user's session is not ours to see or revoke.
  CreateUserRequest other_create;
  User other;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), other_create, &other).ok());
  CreateSessionRequest create;
  create.set_user_id(other.id());
  CreateSessionResponse other_session;
  ASSERT_TRUE(
      backend_->CreateSession(Authed().get(), create, &other_session).ok());
  RevokeMySessionRequest revoke;
  revoke.set_session_id(other_session.session().id());
  Session revoked;
  grpc::Status status =
      frontend_->RevokeMySession(WithToken(token).get(), revoke, &revoked);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
  ASSERT_TRUE(GetMe(other_session.session_token(), &me).ok());
  EXPECT_EQ(me.id(), other.id());
  // Nor is another user's email address: it cannot become this user's primary.
  CreateUserRequest third_create;
  third_create.add_email_addresses("third@example.com");
  User third;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), third_create, &third).ok());
  UpdateMeRequest steal;
  steal.set_primary_email_address_id(third.email_addresses(0).id());
  status = frontend_->UpdateMe(WithToken(token).get(), steal, &me);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "PRIMARY_MUST_BE_VERIFIED");
  get.set_user_id(third.id());
  User third_after;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &third_after).ok());
  EXPECT_EQ(third_after.etag(), third.etag());
  ListMySessionsResponse mine;
  ASSERT_TRUE(frontend_
                  ->ListMySessions(WithToken(token).get(),
                                   ListMySessionsRequest(), &mine)
                  .ok());
  ASSERT_EQ(mine.sessions_size(), 1);
  EXPECT_EQ(mine.sessions(0).id(), signed_in.session().id());
}

TEST_F(FrontendUsersTest,
       ChangingThePasswordNeedsTheCurrentOneAndCanSignOutOthers) {
  SignInResponse here = SignedIn();
  SignInResponse elsewhere = SignedIn();
  ChangeMyPasswordRequest change;
  change.set_current_password("wrong one!");
  change.set_new_password("a new good password");
  change.set_sign_out_of_other_sessions(true);
  FrontendUser me;
  grpc::Status status = frontend_->ChangeMyPassword(
      WithToken(here.session_token()).get(), change, &me);
  EXPECT_EQ(ReasonOf(status), "PASSWORD_INCORRECT");
  change.set_current_password(kPassword);
  ASSERT_TRUE(
      frontend_
          ->ChangeMyPassword(WithToken(here.session_token()).get(), change, &me)
          .ok());
  EXPECT_TRUE(GetMe(here.session_token(), &me).ok());
  EXPECT_EQ(ReasonOf(GetMe(elsewhere.session_token(), &me)), "SESSION_INVALID");
  SignInResponse response;
  EXPECT_EQ(ReasonOf(SignIn("ada@example.com", kPassword, &response)),
            "PASSWORD_INCORRECT");
  EXPECT_TRUE(SignIn("ada@example.com", "a new good password", &response).ok());

  RemoveMyPasswordRequest remove;
  remove.set_current_password("a new good password");
  ASSERT_TRUE(
      frontend_
          ->RemoveMyPassword(WithToken(here.session_token()).get(), remove, &me)
          .ok());
  EXPECT_FALSE(me.password_enabled());
}

TEST_F(FrontendUsersTest, ThePasswordCannotBeRemovedWhenItIsTheOnlyWayIn) {
  CreateUserRequest create;
  create.set_username("only_a_password");
  create.set_password(kPassword);
  User user;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &user).ok());
  SignInResponse signed_in;
  ASSERT_TRUE(SignIn("only_a_password", kPassword, &signed_in).ok());
  RemoveMyPasswordRequest remove;
  remove.set_current_password(kPassword);
  FrontendUser me;
  grpc::Status status = frontend_->RemoveMyPassword(
      WithToken(signed_in.session_token()).get(), remove, &me);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "LAST_IDENTIFIER");
  EXPECT_TRUE(
      SignIn("only_a_password", kPassword, &signed_in).ok());  // Still there.
}

TEST_F(FrontendUsersTest, DeleteMeOnlyWhenEnabled) {
  UpdateUserRequest disable;
  disable.set_user_id(ada_.id());
  disable.set_delete_self_enabled(false);
  User user;
  ASSERT_TRUE(backend_->UpdateUser(Authed().get(), disable, &user).ok());
  SignInResponse signed_in = SignedIn();
  DeletedObject deleted;
  grpc::Status status = frontend_->DeleteMe(
      WithToken(signed_in.session_token()).get(), DeleteMeRequest(), &deleted);
  EXPECT_EQ(status.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(status), "DELETE_SELF_DISABLED");
  disable.set_delete_self_enabled(true);
  ASSERT_TRUE(backend_->UpdateUser(Authed().get(), disable, &user).ok());
  ASSERT_TRUE(frontend_
                  ->DeleteMe(WithToken(signed_in.session_token()).get(),
                             DeleteMeRequest(), &deleted)
                  .ok());
  EXPECT_EQ(deleted.id(), ada_.id());
  FrontendUser me;
  EXPECT_EQ(ReasonOf(GetMe(signed_in.session_token(), &me)), "SESSION_INVALID");
}

TEST_F(FrontendUsersTest, JwksVerifiesTheTokenSignatureIndependently) {
  SignInResponse signed_in = SignedIn();
  grpc::ClientContext context;
  Jwks jwks;
  ASSERT_TRUE(frontend_->GetJwks(&context, GetJwksRequest(), &jwks).ok());
  ASSERT_EQ(jwks.keys_size(), 1);
  const Jwk& jwk = jwks.keys(0);
  EXPECT_EQ(jwk.kty(), "OKP");
  EXPECT_EQ(jwk.crv(), "Ed25519");
  EXPECT_EQ(jwk.alg(), "EdDSA");
  const std::vector<std::string> parts =
      absl::StrSplit(signed_in.session_token(), '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string header, public_key, signature;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
  EXPECT_NE(header.find(jwk.kid()), std::string::npos);
  ASSERT_TRUE(absl::WebSafeBase64Unescape(jwk.x(), &public_key));
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[2], &signature));
  ASSERT_EQ(public_key.size(), 32u);
  const std::string signed_part = parts[0] + "." + parts[1];
  EXPECT_EQ(crypto_sign_verify_detached(
                reinterpret_cast<const unsigned char*>(signature.data()),
                reinterpret_cast<const unsigned char*>(signed_part.data()),
                signed_part.size(),
                reinterpret_cast<const unsigned char*>(public_key.data())),
            0);
}

TEST_F(FrontendUsersTest, EveryAuthenticatedRpcRefusesMissingOrForgedTokens) {
  SignInResponse signed_in = SignedIn();
  const std::vector<std::string> parts =
      absl::StrSplit(signed_in.session_token(), '.');
  const std::string none =
      absl::WebSafeBase64Escape(R"({"alg":"none"})") + "." + parts[1] + ".";
  for (const std::string& token :
       {std::string(), std::string("garbage"), none}) {
    auto call = [&]() {
      return token.empty() ? std::make_unique<grpc::ClientContext>()
                           : WithToken(token);
    };
    FrontendUser me;
    Session session;
    DeletedObject deleted;
    ListMySessionsResponse sessions;
    std::vector<grpc::Status> statuses = {
        frontend_->GetMe(call().get(), GetMeRequest(), &me),
        frontend_->UpdateMe(call().get(), UpdateMeRequest(), &me),
        frontend_->UpdateMyMetadata(call().get(), UpdateMyMetadataRequest(),
                                    &me),
        frontend_->DeleteMe(call().get(), DeleteMeRequest(), &deleted),
        frontend_->ChangeMyPassword(call().get(), ChangeMyPasswordRequest(),
                                    &me),
        frontend_->RemoveMyPassword(call().get(), RemoveMyPasswordRequest(),
                                    &me),
        frontend_->ListMySessions(call().get(), ListMySessionsRequest(),
                                  &sessions),
        frontend_->RevokeMySession(call().get(), RevokeMySessionRequest(),
                                   &session),
        frontend_->SignOut(call().get(), SignOutRequest(), &session),
    };
    for (size_t i = 0; i < statuses.size(); ++i) {
      EXPECT_EQ(statuses[i].error_code(), grpc::UNAUTHENTICATED)
          << "rpc " << i << " " << token;
    }
  }
  FrontendUser me;
  ASSERT_TRUE(
      GetMe(signed_in.session_token(), &me).ok());  // Nothing was changed.
  EXPECT_TRUE(me.password_enabled());
}

}  // namespace
}  // namespace roster

// Invitations end to end (DESIGN §10): BackendUsers creates, lists and revokes
// them; the ticket reaches the invitee through the outbox; a sign-up with the
// ticket on a restricted server has the address verified, takes the public
// metadata, and completing it accepts the invitation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/test_server.h"
#include "tests/testing/watcher.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::roster::testing::Watcher;
using ::testing::ElementsAre;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

class InvitationsTest : public ::testing::Test {
 protected:
  grpc::Status Invite(const std::string& email, Invitation* out,
                      bool notify = true) {
    CreateInvitationRequest request;
    request.set_email_address(email);
    request.set_notify(notify);
    return backend_->CreateInvitation(Authed().get(), request, out);
  }

  grpc::Status SignUpWith(const std::string& ticket, bool with_password,
                          SignUpResponse* out) {
    CreateSignUpRequest request;
    request.set_ticket(ticket);
    if (with_password) {
      request.set_password("correct horse battery");
    }
    return frontend_->CreateSignUp(NoCredentials().get(), request, out);
  }

  ListInvitationsResponse List(const ListInvitationsRequest& request) {
    ListInvitationsResponse out;
    grpc::Status status =
        backend_->ListInvitations(Authed().get(), request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return out;
  }

  TestServer server_{
      [](app::ServerConfig& config) { config.sign_up_mode = "restricted"; }};
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
  std::unique_ptr<FrontendUsers::Stub> frontend_ =
      FrontendUsers::NewStub(server_.channel());
};

TEST_F(InvitationsTest, TheTicketReachesTheInviteeAndCompletesASignUp) {
  Watcher mail(*backend_, 0, {"email.created"});
  CreateInvitationRequest request;
  request.set_email_address(" Guest@Example.com ");
  request.set_redirect_url("https://app.example/join?from=mail#welcome");
  (*request.mutable_public_metadata()->mutable_fields())["plan"]
      .set_string_value("pro");
  Invitation invitation;
  ASSERT_TRUE(
      backend_->CreateInvitation(Authed().get(), request, &invitation).ok());
  EXPECT_TRUE(absl::StartsWith(invitation.id(), "inv_"));
  EXPECT_EQ(invitation.email_address(), "guest@example.com");
  EXPECT_EQ(invitation.status(), Invitation::STATUS_PENDING);
  EXPECT_TRUE(absl::StartsWith(invitation.ticket(), "tkt_"));
  EXPECT_EQ(invitation.url(), "https://app.example/join?from=mail&ticket=" +
                                  invitation.ticket() + "#welcome");

  const auto events = mail.Next(1);
  ASSERT_EQ(events.size(), 1u);
  const EmailMessage& email = events[0].email();
  EXPECT_EQ(email.purpose(), "invitation");
  EXPECT_EQ(email.invitation_id(), invitation.id());
  EXPECT_EQ(email.email_address(), "guest@example.com");
  EXPECT_EQ(email.ticket(), invitation.ticket());
  EXPECT_EQ(email.url(), invitation.url());

  // Restricted: no sign-up without a ticket; with it, no code is needed.
  SignUpResponse refused;
  CreateSignUpRequest without;
  without.set_email_address("guest@example.com");
  grpc::Status status =
      frontend_->CreateSignUp(NoCredentials().get(), without, &refused);
  EXPECT_EQ(status.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(status), "SIGN_UP_RESTRICTED");

  SignUpResponse done;
  status = SignUpWith(email.ticket(), true, &done);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(done.sign_up().status(), SignUp::STATUS_COMPLETE);
  EXPECT_FALSE(done.session_token().empty());
  ASSERT_EQ(done.user().email_addresses_size(), 1);
  EXPECT_EQ(done.user().email_addresses(0).verification().status(),
            Verification::STATUS_VERIFIED);
  EXPECT_EQ(done.user().public_metadata().fields().at("plan").string_value(),
            "pro");

  ListInvitationsRequest accepted;
  accepted.set_status(Invitation::STATUS_ACCEPTED);
  const auto page = List(accepted);
  ASSERT_EQ(page.invitations_size(), 1);
  EXPECT_EQ(page.invitations(0).accepted_user_id(), done.user().id());
  EXPECT_TRUE(page.invitations(0).ticket().empty());  // Shown once only.

  // A ticket works once.
  status = SignUpWith(email.ticket(), true, &refused);
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "TICKET_INVALID");
}

TEST_F(InvitationsTest, RevokedAndExpiredTicketsStopWorking) {
  Invitation first;
  ASSERT_TRUE(Invite("first@example.com", &first, false).ok());
  // A sign-up begun with the ticket cannot complete once it is revoked.
  SignUpResponse begun;
  ASSERT_TRUE(SignUpWith(first.ticket(), false, &begun).ok());
  EXPECT_EQ(begun.sign_up().status(), SignUp::STATUS_MISSING_REQUIREMENTS);
  RevokeInvitationRequest revoke;
  revoke.set_invitation_id(first.id());
  Invitation revoked;
  ASSERT_TRUE(
      backend_->RevokeInvitation(Authed().get(), revoke, &revoked).ok());
  EXPECT_EQ(revoked.status(), Invitation::STATUS_REVOKED);
  UpdateSignUpRequest password;
  password.set_sign_up_id(begun.sign_up().id());
  password.set_password("correct horse battery");
  SignUpResponse out;
  grpc::Status status =
      frontend_->UpdateSignUp(NoCredentials().get(), password, &out);
  EXPECT_EQ(ReasonOf(status), "TICKET_INVALID");
  EXPECT_EQ(ReasonOf(SignUpWith(first.ticket(), true, &out)), "TICKET_INVALID");
  status = backend_->RevokeInvitation(Authed().get(), revoke, &revoked);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(status), "ATTEMPT_STATE");

  Invitation second;
  ASSERT_TRUE(Invite("second@example.com", &second, false).ok());
  server_.AdvanceClock(absl::Hours(24 * 31));
  EXPECT_EQ(ReasonOf(SignUpWith(second.ticket(), true, &out)),
            "TICKET_INVALID");
  ListInvitationsRequest expired;
  expired.set_status(Invitation::STATUS_EXPIRED);
  const auto page = List(expired);
  ASSERT_EQ(page.invitations_size(), 1);
  EXPECT_EQ(page.invitations(0).id(), second.id());
  // An expired invitation no longer blocks a new one to the same address.
  Invitation again;
  EXPECT_TRUE(Invite("second@example.com", &again, false).ok());
}

TEST_F(InvitationsTest, BadInputNamesItsFieldAndClashesAreRefused) {
  struct Case {
    const char* what;
    std::function<void(CreateInvitationRequest&)> set;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"no email", [](auto&) {}, "email_address"},
      {"bad email", [](auto& r) { r.set_email_address("nope"); },
       "email_address"},
      {"script url", [](auto& r) { r.set_redirect_url("javascript:alert(1)"); },
       "redirect_url"},
      {"no host", [](auto& r) { r.set_redirect_url("https:///x"); },
       "redirect_url"},
      {"zero days", [](auto& r) { r.set_expires_in_days(0); },
       "expires_in_days"},
      {"too many days", [](auto& r) { r.set_expires_in_days(366); },
       "expires_in_days"},
      {"large metadata",
       [](auto& r) {
         (*r.mutable_public_metadata()->mutable_fields())["k"].set_string_value(
             std::string(9000, 'x'));
       },
       "public_metadata"},
  };
  for (const Case& c : cases) {
    CreateInvitationRequest request;
    if (std::string(c.what) != "no email") {
      request.set_email_address("ok@example.com");
    }
    c.set(request);
    Invitation out;
    grpc::Status status =
        backend_->CreateInvitation(Authed().get(), request, &out);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(ViolatedFields(status), ElementsAre(c.field)) << c.what;
  }
  EXPECT_EQ(List(ListInvitationsRequest()).total_count(), 0);

  CreateUserRequest user;
  user.add_email_addresses("member@example.com");
  User member;
  ASSERT_TRUE(backend_->CreateUser(Authed().get(), user, &member).ok());
  Invitation out;
  grpc::Status status = Invite("member@example.com", &out);
  EXPECT_EQ(status.error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(status), "IDENTIFIER_EXISTS");
  ASSERT_TRUE(Invite("twice@example.com", &out).ok());
  status = Invite("twice@example.com", &out);
  EXPECT_EQ(ReasonOf(status), "IDENTIFIER_EXISTS");

  RevokeInvitationRequest revoke;
  revoke.set_invitation_id("inv_bad");
  status = backend_->RevokeInvitation(Authed().get(), revoke, &out);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("invitation_id"));
  revoke.set_invitation_id("inv_2Nq000000000000000000000000");
  status = backend_->RevokeInvitation(Authed().get(), revoke, &out);
  EXPECT_EQ(status.error_code(), grpc::NOT_FOUND);
}

TEST_F(InvitationsTest, ListingFiltersAndPagesNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    Invitation out;
    ASSERT_TRUE(Invite(absl::StrCat("p", i, "@example.com"), &out, false).ok());
    server_.AdvanceClock(absl::Seconds(1));
  }
  Invitation other;
  ASSERT_TRUE(Invite("x_y@other.example", &other, false).ok());

  ListInvitationsRequest request;
  request.set_limit(2);
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    const auto page = List(request);
    EXPECT_EQ(page.total_count(), 6);
    for (const auto& invitation : page.invitations()) {
      seen.push_back(invitation.email_address());
    }
    ++pages;
    if (page.next_page_token().empty()) {
      break;
    }
    request.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(
      seen, ElementsAre("x_y@other.example", "p4@example.com", "p3@example.com",
                        "p2@example.com", "p1@example.com", "p0@example.com"));

  ListInvitationsRequest query;
  query.set_query("OTHER");
  EXPECT_EQ(List(query).total_count(), 1);
  query.set_query("x_y");  // LIKE's wildcards match only themselves.
  EXPECT_EQ(List(query).total_count(), 1);
  query.set_query("p_@");
  EXPECT_EQ(List(query).total_count(), 0);
  ListInvitationsRequest pending;
  pending.set_status(Invitation::STATUS_PENDING);
  EXPECT_EQ(List(pending).total_count(), 6);

  // A token is bound to its filter.
  ListInvitationsRequest first_page;
  first_page.set_limit(2);
  query.set_page_token(List(first_page).next_page_token());
  ListInvitationsResponse out;
  grpc::Status status = backend_->ListInvitations(Authed().get(), query, &out);
  EXPECT_THAT(ViolatedFields(status), ElementsAre("page_token"));
}

// Invitees often share an address (an office's): a good ticket's sign-ups are
// counted against the ticket, not the address, so the address's limit stays
// for sign-ups nobody vouched for. A made-up ticket counts against the address.
TEST(InvitationSignUpLimitTest, AGoodTicketCountsAgainstItselfNotTheAddress) {
  TestServer server([](app::ServerConfig& config) {
    config.sign_ups_per_address_per_hour = 2;
  });
  std::unique_ptr<BackendUsers::Stub> backend = server.Backend();
  std::unique_ptr<FrontendUsers::Stub> frontend =
      FrontendUsers::NewStub(server.channel());
  auto sign_up = [&](const std::string& ticket) {
    CreateSignUpRequest request;
    request.set_ticket(ticket);
    SignUpResponse out;
    return frontend->CreateSignUp(NoCredentials().get(), request, &out);
  };
  // Three invitees from one address, each loading their link twice.
  for (const char* email :
       {"a@example.com", "b@example.com", "c@example.com"}) {
    CreateInvitationRequest request;
    request.set_email_address(email);
    Invitation invitation;
    ASSERT_TRUE(
        backend->CreateInvitation(Authed().get(), request, &invitation).ok());
    for (int load = 0; load < 2; ++load) {
      grpc::Status status = sign_up(invitation.ticket());
      EXPECT_TRUE(status.ok())
          << email << " " << load << ": " << status.error_message();
    }
    // Each ticket has a limit of its own: the address's number.
    grpc::Status status = sign_up(invitation.ticket());
    EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED) << email;
    EXPECT_EQ(status.error_message(),
              "too many sign-ups with this invitation; try again later");
  }
  // None of that counted against the address: its two sign-ups are left, and
  // a made-up ticket takes one of them.
  EXPECT_EQ(ReasonOf(sign_up("tkt_made-up")), "TICKET_INVALID");
  EXPECT_TRUE(sign_up("").ok());
  grpc::Status status = sign_up("");
  EXPECT_EQ(status.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(status), "TOO_MANY_ATTEMPTS");
  EXPECT_EQ(status.error_message(),
            "too many sign-ups from this address; try again later");
}

// Without a redirect_url the link leads to the account portal's sign-up page,
// which reads the ticket from it (the portal test follows such a link).
TEST(InvitationLinkTest, WithoutARedirectUrlItLeadsToThePortalsSignUpPage) {
  TestServer server([](app::ServerConfig& config) {
    config.public_http_url = "https://accounts.example/";
  });
  std::unique_ptr<BackendUsers::Stub> backend = server.Backend();
  CreateInvitationRequest request;
  request.set_email_address("guest@example.com");
  Invitation invitation;
  ASSERT_TRUE(
      backend->CreateInvitation(Authed().get(), request, &invitation).ok());
  EXPECT_EQ(invitation.url(),
            "https://accounts.example/sign-up?ticket=" + invitation.ticket());

  // Without an HTTP listener there is no portal, and so no link.
  TestServer bare;
  backend = bare.Backend();
  ASSERT_TRUE(
      backend->CreateInvitation(Authed().get(), request, &invitation).ok());
  EXPECT_FALSE(invitation.ticket().empty());
  EXPECT_EQ(invitation.url(), "");
}

}  // namespace
}  // namespace roster

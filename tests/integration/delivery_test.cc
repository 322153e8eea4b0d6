// Code delivery (DESIGN §13) against real receivers on loopback: an SMTP
// server (aiosmtpd) that requires STARTTLS and AUTH, a webhook receiver that
// checks the HMAC signature with OpenSSL (not the libsodium that signed it),
// and a stand-in for Twilio's Messages API. Codes come from sign-in attempts
// and are compared with the email.created / sms.created events that carry
// them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/hmac.h>
#include <sys/wait.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/app/open_store.h"
#include "tests/testing/smtp_sink.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::NoCredentials;
using ::roster::testing::SmtpSink;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using ::roster::testing::WaitUntil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

constexpr char kWebhookSecret[] = "whsec_0123456789abcdefghijklmnopqrstuvwxyz";

// A counter or gauge from the server's /metrics text; -1 when absent.
double MetricValue(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double value = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) {
        return value;
      }
    }
  }
  return -1;
}

// Users to send codes to, and the codes' events as the outbox holds them.
class CodeSource {
 public:
  explicit CodeSource(TestServer& server)
      : backend_(server.Backend()),
        frontend_(FrontendUsers::NewStub(server.channel())) {}

  void AddUser(const std::string& email, const std::string& phone) {
    CreateUserRequest create;
    create.add_email_addresses(email);
    create.add_phone_numbers(phone);
    User user;
    ASSERT_TRUE(backend_->CreateUser(Authed().get(), create, &user).ok());
  }

  // Starts a sign-in by `identifier` and asks for a code (`email_code` or
  // `phone_code`).
  void SendCode(const std::string& identifier, const std::string& strategy) {
    StartSignInRequest start;
    start.set_identifier(identifier);
    SignInAttempt attempt;
    ASSERT_TRUE(
        frontend_->StartSignIn(NoCredentials().get(), start, &attempt).ok());
    PrepareSignInFactorRequest prepare;
    prepare.set_sign_in_attempt_id(attempt.id());
    prepare.set_strategy(strategy);
    grpc::Status status = frontend_->PrepareSignInFactor(NoCredentials().get(),
                                                         prepare, &attempt);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // The outbox's code events of `type`, oldest first.
  std::vector<Event> Events(const std::string& type) {
    ListEventsRequest request;
    request.add_types(type);
    request.set_limit(500);
    ListEventsResponse events;
    EXPECT_TRUE(backend_->ListEvents(Authed().get(), request, &events).ok());
    return {events.events().begin(), events.events().end()};
  }

 private:
  std::unique_ptr<BackendUsers::Stub> backend_;
  std::unique_ptr<FrontendUsers::Stub> frontend_;
};

class SmtpDeliveryTest : public ::testing::Test {
 protected:
  SmtpDeliveryTest()
      : cert_(testing::SelfSignedCertificate(dir_)),
        server_([this](app::ServerConfig& config) {
          delivery::SmtpOptions smtp;
          smtp.url = absl::StrCat("smtp://127.0.0.1:", smtp_port_.port());
          smtp.username = testing::kSmtpUser;
          smtp.password = testing::kSmtpPassword;
          smtp.from = "Acme Accounts <no-reply@acme.test>";
          smtp.transport.ca_file = cert_;
          smtp.transport.timeout = absl::Seconds(10);
          config.delivery.smtp = smtp;
          config.delivery.app_name = "Acme & Co";
          config.delivery.poll = absl::Milliseconds(50);
        }) {}

  std::string Metrics() { return server_.server().RenderMetrics(); }

  TempDir dir_;
  std::string cert_;
  // Held until a test starts its SMTP server there: until then the server is
  // down, and no parallel test can listen on its port instead.
  testing::ReservedPort smtp_port_;
  TestServer server_;
  CodeSource codes_{server_};
};

TEST_F(SmtpDeliveryTest, ACodeArrivesOverStartTlsWithAuthAndBothParts) {
  smtp_port_.Release();
  SmtpSink sink(dir_, smtp_port_.port());
  codes_.AddUser("kim@example.com", "+15555550100");
  codes_.SendCode("kim@example.com", "email_code");
  const auto messages = sink.WaitFor(1);
  ASSERT_EQ(messages.size(), 1u);
  const auto events = codes_.Events("email.created");
  ASSERT_EQ(events.size(), 1u);
  const EmailMessage& sent = events[0].email();
  ASSERT_EQ(sent.code().size(), 6u);

  const nlohmann::json& mail = messages[0];
  EXPECT_TRUE(mail["tls"].get<bool>()) << "STARTTLS was required";
  EXPECT_TRUE(mail["authenticated"].get<bool>());
  EXPECT_EQ(mail["mail_from"], "no-reply@acme.test");
  EXPECT_EQ(mail["rcpt_tos"], nlohmann::json::array({"kim@example.com"}));
  const nlohmann::json& headers = mail["headers"];
  EXPECT_EQ(headers["from"], "Acme Accounts <no-reply@acme.test>");
  EXPECT_EQ(headers["to"], "kim@example.com");
  EXPECT_EQ(headers["subject"], "Sign in to Acme & Co");
  EXPECT_EQ(headers["message-id"],
            absl::StrCat("<", events[0].id(), "@acme.test>"));
  EXPECT_TRUE(headers.contains("date"));
  EXPECT_EQ(mail["content_type"], "multipart/alternative");
  EXPECT_EQ(mail["content_type_headers"], 1);
  const std::string text = mail["text"];
  const std::string html = mail["html"];
  EXPECT_THAT(text, HasSubstr(absl::StrCat("code is ", sent.code())));
  EXPECT_THAT(text, HasSubstr("It expires in 10 minutes"));
  EXPECT_THAT(html, HasSubstr(absl::StrCat(">", sent.code(), "</p>")));
  // Values are escaped in HTML, and only there.
  EXPECT_THAT(html, HasSubstr("Acme &amp; Co"));
  EXPECT_THAT(text, HasSubstr("Acme & Co"));

  EXPECT_TRUE(WaitUntil([&] {
    return MetricValue(Metrics(),
                       "roster_deliveries_sent_total{channel=\"email\"}") == 1;
  })) << Metrics();
  EXPECT_EQ(MetricValue(Metrics(), "roster_delivery_lease_held"), 1);
}

TEST_F(SmtpDeliveryTest, CodesWaitForADownServerAndArriveOnceEachInOrder) {
  codes_.AddUser("kim@example.com", "+15555550100");
  codes_.AddUser("lee@example.com", "+15555550101");
  for (int round = 0; round < 2; ++round) {
    codes_.SendCode("kim@example.com", "email_code");
    codes_.SendCode("lee@example.com", "email_code");
  }
  // Nothing listens yet: every first try fails and is queued.
  ASSERT_TRUE(WaitUntil([&] {
    return MetricValue(Metrics(), "roster_delivery_retries_pending") == 4;
  })) << Metrics();
  EXPECT_GE(MetricValue(Metrics(),
                        "roster_deliveries_retried_total{channel=\"email\"}"),
            2);

  smtp_port_.Release();
  SmtpSink sink(dir_, smtp_port_.port());
  // The backoff runs on the server's clock: move it rather than wait.
  ASSERT_TRUE(WaitUntil(
      [&] {
        server_.AdvanceClock(absl::Seconds(5));
        return MetricValue(Metrics(), "roster_delivery_retries_pending") == 0;
      },
      absl::Seconds(30)))
      << Metrics();
  const auto messages = sink.Messages();
  const auto events = codes_.Events("email.created");
  ASSERT_EQ(events.size(), 4u);
  ASSERT_EQ(messages.size(), 4u) << "exactly one message per code";
  // Per recipient, the codes arrive in the order they were made.
  std::map<std::string, std::vector<std::string>> made, arrived;
  for (const Event& event : events) {
    made[event.email().email_address()].push_back(event.email().code());
  }
  for (const auto& mail : messages) {
    const std::string text = mail["text"];
    std::smatch code;
    ASSERT_TRUE(std::regex_search(text, code, std::regex("code is (\\d{6})")));
    arrived[mail["rcpt_tos"][0]].push_back(code[1]);
  }
  EXPECT_EQ(arrived, made);
  EXPECT_EQ(
      MetricValue(Metrics(), "roster_deliveries_sent_total{channel=\"email\"}"),
      4);
  EXPECT_EQ(MetricValue(Metrics(), "roster_deliveries_duplicates_total"), 0);
}

TEST_F(SmtpDeliveryTest, ACodeThatExpiresWhileTheServerIsDownIsDropped) {
  codes_.AddUser("kim@example.com", "+15555550100");
  codes_.SendCode("kim@example.com", "email_code");
  ASSERT_TRUE(WaitUntil([&] {
    return MetricValue(Metrics(), "roster_delivery_retries_pending") == 1;
  })) << Metrics();
  server_.AdvanceClock(absl::Minutes(11));
  smtp_port_.Release();
  SmtpSink sink(dir_, smtp_port_.port());
  ASSERT_TRUE(WaitUntil([&] {
    return MetricValue(Metrics(),
                       "roster_deliveries_expired_total{channel=\"email\"}") ==
           1;
  })) << Metrics();
  EXPECT_EQ(MetricValue(Metrics(), "roster_delivery_retries_pending"), 0);
  EXPECT_TRUE(sink.Messages().empty());
}

// Delivery starts from the newest event when the server starts, not when
// its sender first holds the lease. Here another replica's lease outlives the
// start, on a database where delivery never ran: a code made meanwhile is
// sent once the lease passes to this server. (The sender's first pass chose
// the start before; a code made between the listeners opening and that pass,
// as in a loaded CI run, was skipped and never sent.)
TEST_F(SmtpDeliveryTest, ACodeMadeBeforeTheSenderHoldsTheLeaseIsSent) {
  server_.Stop();
  {
    auto store = app::OpenStore(server_.db_path(), 0);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)
                    ->Write([&](storage::WriteTransaction& txn) {
                      storage::DeliveryStateRecord state;
                      state.lease_owner = "another replica";
                      state.lease_until =
                          absl::ToUnixMicros(server_.Now() + absl::Minutes(1));
                      return txn.PutDeliveryState(state);
                    })
                    .ok());
  }
  server_.Start();
  smtp_port_.Release();
  SmtpSink sink(dir_, smtp_port_.port());
  CodeSource codes(server_);  // On the restarted server's port.
  codes.AddUser("kim@example.com", "+15555550100");
  codes.SendCode("kim@example.com", "email_code");
  server_.AdvanceClock(absl::Minutes(2));  // The other replica's lease ends.
  ASSERT_EQ(sink.WaitFor(1).size(), 1u) << Metrics();
  // Counted once the relay has answered, which may be after the sink has it.
  EXPECT_TRUE(WaitUntil([&] {
    return MetricValue(Metrics(),
                       "roster_deliveries_sent_total{channel=\"email\"}") == 1;
  })) << Metrics();
}

// An HTTP receiver on loopback that records each request.
class Receiver {
 public:
  Receiver() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([this] { return server_.is_running(); });
  }
  ~Receiver() {
    Release();
    server_.stop();
    thread_.join();
  }
  // Answers 200 to requests on `path`, after 503 to the first `failures`.
  // The answer to request number `hold` (from 1) waits for Release(): a send
  // that takes as long as the test needs.
  void Handle(const std::string& path, int failures = 0, int hold = 0) {
    server_.Post(path, [this, failures, hold](const httplib::Request& request,
                                              httplib::Response& response) {
      std::unique_lock<std::mutex> lock(mu_);
      requests_.push_back(request);
      const int number = static_cast<int>(requests_.size());
      response.status = number <= failures ? 503 : 200;
      if (number == hold) {
        released_cv_.wait(lock, [this] { return released_; });
      }
    });
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    released_cv_.notify_all();
  }
  std::vector<httplib::Request> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::vector<httplib::Request> requests_;
};

// OpenSSL's HMAC-SHA256 of "<t>.<body>", hex: what a receiver computes.
std::string ExpectedSignature(const std::string& secret,
                              const std::string& timestamp,
                              const std::string& body) {
  const std::string text = absl::StrCat(timestamp, ".", body);
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac,
       &length);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac), length));
}

// docs/examples/verify_sms_webhook.py's exit status for one request.
int RunVerifier(const std::string& secret_file, const std::string& header,
                const std::string& body) {
  const std::string command =
      absl::StrCat("/usr/bin/python3 ", ROSTER_WEBHOOK_VERIFIER, " '",
                   secret_file, "' '", header, "' >/dev/null");
  FILE* pipe = popen(command.c_str(), "w");
  if (pipe == nullptr) {
    return -1;
  }
  fwrite(body.data(), 1, body.size(), pipe);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The header's t=, in seconds.
int64_t SignedAt(const httplib::Request& request) {
  const std::string header = request.get_header_value("Roster-Signature");
  std::smatch parts;
  int64_t seconds = -1;
  if (std::regex_search(header, parts, std::regex("t=(\\d+)"))) {
    EXPECT_TRUE(absl::SimpleAtoi(parts[1].str(), &seconds)) << header;
  }
  return seconds;
}

class SmsWebhookTest : public ::testing::Test {
 protected:
  SmsWebhookTest()
      : server_([this](app::ServerConfig& config) {
          delivery::SmsWebhookOptions webhook;
          webhook.url =
              absl::StrCat("http://127.0.0.1:", receiver_.port(), "/sms");
          webhook.secret = kWebhookSecret;
          config.delivery.sms_webhook = webhook;
          config.delivery.poll = absl::Milliseconds(50);
        }) {}

  // Moves the server's clock past each retry's backoff until the receiver
  // has had `count` requests.
  bool AdvanceUntilRequests(size_t count) {
    return WaitUntil(
        [&] {
          server_.AdvanceClock(absl::Seconds(3));
          return receiver_.Requests().size() >= count;
        },
        absl::Seconds(20));
  }

  Receiver receiver_;
  TestServer server_;
  CodeSource codes_{server_};
};

TEST_F(SmsWebhookTest, ASignedPostCarriesTheCodeAndSurvivesAFailure) {
  receiver_.Handle("/sms", /*failures=*/1);
  codes_.AddUser("kim@example.com", "+15555550100");
  codes_.SendCode("+15555550100", "phone_code");
  ASSERT_TRUE(AdvanceUntilRequests(2));
  const auto events = codes_.Events("sms.created");
  ASSERT_EQ(events.size(), 1u);
  const auto requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 2u) << "one failure, then one delivery";
  for (const httplib::Request& request : requests) {
    const std::string header = request.get_header_value("Roster-Signature");
    std::smatch parts;
    ASSERT_TRUE(std::regex_match(header, parts,
                                 std::regex("t=(\\d+),v1=([0-9a-f]{64})")))
        << header;
    EXPECT_EQ(parts[2],
              ExpectedSignature(kWebhookSecret, parts[1], request.body));
    EXPECT_NE(parts[2], ExpectedSignature(std::string(kWebhookSecret) + "x",
                                          parts[1], request.body));
    EXPECT_EQ(request.get_header_value("Content-Type"), "application/json");
    const auto body = nlohmann::json::parse(request.body);
    EXPECT_EQ(body["to"], "+15555550100");
    EXPECT_EQ(body["purpose"], "sign_in");
    EXPECT_EQ(body["event_id"], events[0].id());
    EXPECT_THAT(body["body"].get<std::string>(),
                HasSubstr(events[0].sms().code()));
  }
  // The retry is signed anew: its t= is not the failed attempt's.
  EXPECT_GT(SignedAt(requests[1]), SignedAt(requests[0]));
  // The receiver in docs/examples verifies it, and refuses it altered.
  TempDir dir;
  const std::string secret_file = dir.File("webhook.secret");
  std::ofstream(secret_file) << kWebhookSecret << "\n";
  const std::string header = requests[1].get_header_value("Roster-Signature");
  EXPECT_EQ(RunVerifier(secret_file, header, requests[1].body), 0);
  std::string altered = requests[1].body;
  altered.replace(altered.find("sign_in"), 7, "sign_up");
  EXPECT_EQ(RunVerifier(secret_file, header, altered), 1);
  // The email channel is not configured: nothing else was attempted.
  const std::string metrics = server_.server().RenderMetrics();
  EXPECT_EQ(
      MetricValue(metrics, "roster_deliveries_sent_total{channel=\"sms\"}"), 1);
  EXPECT_EQ(
      MetricValue(metrics, "roster_deliveries_retried_total{channel=\"sms\"}"),
      1);
}

TEST_F(SmsWebhookTest,
       AMessageIsSignedAndTimedWhenItIsSentNotWhenItsPassBegan) {
  // kim's code fails once; its retry's answer is held, so the pass that sends
  // it is still under way when lee's code is made three minutes later.
  receiver_.Handle("/sms", /*failures=*/1, /*hold=*/2);
  codes_.AddUser("kim@example.com", "+15555550100");
  codes_.AddUser("lee@example.com", "+15555550101");
  codes_.SendCode("+15555550100", "phone_code");
  ASSERT_TRUE(AdvanceUntilRequests(2));
  server_.AdvanceClock(absl::Minutes(3));
  const int64_t lee_made = absl::ToUnixSeconds(server_.Now());
  codes_.SendCode("+15555550101", "phone_code");
  receiver_.Release();
  ASSERT_TRUE(WaitUntil([&] { return receiver_.Requests().size() >= 3; },
                        absl::Seconds(20)));
  const httplib::Request lee = receiver_.Requests()[2];
  const auto body = nlohmann::json::parse(lee.body);
  ASSERT_EQ(body["to"], "+15555550101");
  // Timed from the pass's start, its signature would look three minutes old
  // to a receiver that checks the age (and an email would say its code
  // expires in 13 minutes: the same time goes to every sender).
  EXPECT_GE(SignedAt(lee), lee_made);
}

class TwilioDeliveryTest : public ::testing::Test {
 protected:
  TwilioDeliveryTest()
      : server_([this](app::ServerConfig& config) {
          delivery::TwilioOptions twilio;
          twilio.base_url = absl::StrCat("http://127.0.0.1:", receiver_.port());
          twilio.account_sid = "AC0123456789abcdef0123456789abcdef";
          twilio.auth_token = "twilio-token-0123456789";
          twilio.from = "+15005550006";
          config.delivery.twilio = twilio;
          config.delivery.poll = absl::Milliseconds(50);
        }) {}

  Receiver receiver_;
  TestServer server_;
  CodeSource codes_{server_};
};

TEST_F(TwilioDeliveryTest, PostsTheMessagesApiForm) {
  receiver_.Handle(
      "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  codes_.AddUser("kim@example.com", "+15555550100");
  codes_.SendCode("+15555550100", "phone_code");
  ASSERT_TRUE(WaitUntil([&] { return !receiver_.Requests().empty(); },
                        absl::Seconds(20)));
  const httplib::Request request = receiver_.Requests()[0];
  EXPECT_EQ(request.get_header_value("Authorization"),
            absl::StrCat("Basic ",
                         absl::Base64Escape("AC0123456789abcdef0123456789abcdef"
                                            ":twilio-token-0123456789")));
  EXPECT_EQ(request.get_header_value("Content-Type"),
            "application/x-www-form-urlencoded");
  EXPECT_EQ(request.get_param_value("To"), "+15555550100");
  EXPECT_EQ(request.get_param_value("From"), "+15005550006");
  const auto events = codes_.Events("sms.created");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(request.get_param_value("Body"),
              HasSubstr(events[0].sms().code()));
}

}  // namespace
}  // namespace roster

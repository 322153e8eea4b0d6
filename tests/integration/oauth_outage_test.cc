// Social sign-in while a provider is down: it takes connections and never
// answers (the stand-in hangs on request). Each call waiting on it is held
// for the transport's 10 s, so however many there are, they must hold no
// thread or worker the rest of the service needs (DESIGN §14).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/domain/data_keys.h"
#include "tests/integration/oauth_stand_in.h"
#include "tests/testing/error_details.h"
#include "tests/testing/metrics.h"
#include "tests/testing/tcp.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::kStandInApp;
using ::roster::testing::kStandInProvider;
using ::roster::testing::NoCredentials;
using ::roster::testing::QueryValue;
using ::roster::testing::StandInProviderTest;
using namespace roster::v1;  // NOLINT: the API's request and response types.

class ProviderOutageTest : public StandInProviderTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.data_keys = domain::DataKeys::NewFile();
    config.metrics_listen = "127.0.0.1:0";
  }

  // The server's StartOAuth calls not yet finished (its metrics).
  int64_t StartOAuthCallsInFlight() {
    return testing::MetricValue(
        server_->server().metrics_port(),
        R"(roster_rpcs_in_flight{method="/roster.v1.FrontendUsers/)"
        R"(StartOAuth"})");
  }

  // Starts a social sign-in with `context`, as anyone may; `url` (unless
  // null) gets the provider's authorization URL.
  grpc::Status StartSignIn(grpc::ClientContext& context,
                           std::string* url = nullptr) {
    StartOAuthRequest request;
    request.set_provider(kStandInProvider);
    request.set_redirect_url(kStandInApp);
    request.set_action(StartOAuthRequest::ACTION_SIGN_IN);
    StartOAuthResponse response;
    grpc::Status status = frontend_->StartOAuth(&context, request, &response);
    if (url != nullptr) {
      *url = response.authorization_url();
    }
    return status;
  }

  // Sends a request (`lines`: its request line and headers, each ending in
  // CRLF, then `body`) to the HTTP listener from 127.0.0.<2 + n / 16>, as the
  // listener takes 16 connections from one address. The answer's status
  // code, or "" if none came.
  std::string StatusFrom(size_t n, const std::string& lines,
                         const std::string& body = "") {
    const std::string from = absl::StrCat("127.0.0.", 2 + n / 16);
    const int fd = testing::ConnectFrom(http_port_, from.c_str());
    const std::string request =
        absl::StrCat(lines, "Host: roster\r\nConnection: close\r\n\r\n", body);
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char status_line[12] = {};  // "HTTP/1.1 303"
    const ssize_t got = recv(fd, status_line, sizeof(status_line), MSG_WAITALL);
    close(fd);
    return got == static_cast<ssize_t>(sizeof(status_line))
               ? std::string(status_line + 9, 3)
               : "";
  }
};

// A provider that accepts connections and never answers holds each social
// sign-in for the transport's 10 s. An unauthenticated caller starting more
// of them than the server has write threads (32) must not hold up every
// other write with them (DESIGN §14): provider calls have threads of their
// own.
TEST_F(ProviderOutageTest, AHungProviderHoldsUpNoOtherWrite) {
  HangDiscovery();
  constexpr size_t kStarts = 40;
  std::vector<std::thread> starts;
  starts.reserve(kStarts);
  for (size_t i = 0; i < kStarts; ++i) {
    starts.emplace_back([&] { StartSignIn(*NoCredentials()); });
  }
  // One discovery is held, and every provider-call thread waits on it.
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return HeldRequests() == 1 && StartOAuthCallsInFlight() >= 8; }));

  CreateUserRequest create;
  create.add_email_addresses("kay@example.com");
  auto context = Authed();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(3));
  User kay;
  const grpc::Status created =
      backend_->CreateUser(context.get(), create, &kay);
  EXPECT_TRUE(created.ok()) << created.error_message();

  AnswerAgain();
  for (std::thread& start : starts) {
    start.join();
  }
}

// The provider's token endpoint hanging holds each return to
// /v1/oauth/callback instead. Returns from a few addresses (16 connections
// each) must not take every worker of the HTTP listener (64), which serves
// the portal and its RPCs: past 16 at once they are answered 503, and their
// state is kept for the browser to try again.
TEST_F(ProviderOutageTest, AHungProviderHoldsUpNoOtherPage) {
  constexpr size_t kReturns = 72;
  std::vector<std::string> urls;
  for (size_t i = 0; i < kReturns; ++i) {
    ASSERT_TRUE(StartSignIn(*NoCredentials(), &urls.emplace_back()).ok());
  }
  HangTokens();
  std::vector<std::string> answers(kReturns);
  std::atomic<size_t> answered{0};
  std::vector<std::thread> returns;
  returns.reserve(kReturns);
  for (size_t i = 0; i < kReturns; ++i) {
    returns.emplace_back([&, i] {
      answers[i] = StatusFrom(
          i, absl::StrCat("GET /v1/oauth/callback?code=c&state=",
                          QueryValue(urls[i], "state"), " HTTP/1.1\r\n"));
      ++answered;
    });
  }
  // Every worker the returns can get is waiting on the provider.
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return static_cast<size_t>(HeldRequests()) + answered >= 64; },
      absl::Seconds(8)));

  httplib::Client page("127.0.0.1", http_port_);
  page.set_read_timeout(3, 0);
  const auto served = page.Get("/nothing-here");
  ASSERT_TRUE(served) << "no worker answered: " << served.error();
  EXPECT_EQ(served->status, 404);
  // All but 16 are answered while the provider hangs.
  EXPECT_TRUE(testing::WaitUntil([&] { return answered == kReturns - 16; }))
      << answered << " answered, " << HeldRequests() << " held";

  AnswerAgain();
  for (std::thread& done : returns) {
    done.join();
  }
  const auto refused = static_cast<size_t>(absl::c_count(answers, "503"));
  EXPECT_EQ(refused, kReturns - 16);
  EXPECT_EQ(absl::c_count(answers, "303"), 16);
  // A refused return's state still signs in.
  const auto again =
      static_cast<size_t>(absl::c_find(answers, "503") - answers.begin());
  {
    absl::MutexLock lock(&mu_);
    id_token_ = SignedBy(key_, "k1")(urls[again]);
  }
  const auto back = page.Get(absl::StrCat("/v1/oauth/callback?code=c&state=",
                                          QueryValue(urls[again], "state")));
  ASSERT_TRUE(back);
  EXPECT_TRUE(absl::StartsWith(
      QueryValue(back->get_header_value("Location"), "roster_ticket"), "sit_"))
      << back->get_header_value("Location");
}

// The portal starts a social sign-in over Connect, on a worker of the HTTP
// listener that waits for StartOAuth. Only as many wait as provider calls
// have threads and places in their queue (8 each); the rest are refused at
// once, so the listener keeps workers for everything else.
TEST_F(ProviderOutageTest, SignInsStartedFromBrowsersHoldUpNoOtherPage) {
  HangDiscovery();
  constexpr size_t kStarts = 72;  // More than the listener's 64 workers.
  const std::string body =
      absl::StrCat(R"({"provider":")", kStandInProvider, R"(","redirectUrl":")",
                   kStandInApp, R"(","action":"ACTION_SIGN_IN"})");
  std::vector<std::string> answers(kStarts);
  std::atomic<size_t> answered{0};
  std::vector<std::thread> starts;
  starts.reserve(kStarts);
  for (size_t i = 0; i < kStarts; ++i) {
    starts.emplace_back([&, i] {
      answers[i] = StatusFrom(
          i,
          absl::StrCat("POST /roster.v1.FrontendUsers/StartOAuth HTTP/1.1\r\n"
                       "Content-Type: application/json\r\nContent-Length: ",
                       body.size(), "\r\n"),
          body);
      ++answered;
    });
  }
  // All but the 16 that run or wait are refused while the provider hangs.
  EXPECT_TRUE(testing::WaitUntil([&] { return answered == kStarts - 16; }))
      << answered << " answered, " << HeldRequests() << " held";

  httplib::Client page("127.0.0.1", http_port_);
  page.set_read_timeout(3, 0);
  const auto served = page.Get("/nothing-here");
  ASSERT_TRUE(served) << "no worker answered: " << served.error();
  EXPECT_EQ(served->status, 404);

  AnswerAgain();
  for (std::thread& start : starts) {
    start.join();
  }
  EXPECT_EQ(static_cast<size_t>(absl::c_count(answers, "429")), kStarts - 16)
      << absl::StrJoin(answers, ",");
  EXPECT_EQ(absl::c_count(answers, "200"), 16);
}

// Callers who wait for another call's refresh leave when their deadline
// passes, and free the thread they waited on: a refresh hanging at the
// provider (10 s) must not keep eight callers who gave up after 1 s, and
// with them every provider call, for ten seconds each.
TEST_F(ProviderOutageTest, CallersWhoGaveUpDoNotWaitForARefresh) {
  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  server_->AdvanceClock(absl::Minutes(2));  // Past the minute "at-0" lasts.
  HangTokens();
  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(signed_in.user().id());
  request.set_provider(kStandInProvider);
  constexpr size_t kCallers = 8;  // As many as provider calls have threads.
  std::vector<std::thread> callers;
  std::vector<grpc::Status> statuses(kCallers);
  callers.reserve(kCallers);
  for (size_t i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      auto context = Authed();
      context->set_deadline(std::chrono::system_clock::now() +
                            std::chrono::seconds(1));
      OAuthAccessToken token;
      statuses[i] =
          backend_->GetUserOAuthAccessToken(context.get(), request, &token);
    });
  }
  for (std::thread& caller : callers) {
    caller.join();
  }
  for (const grpc::Status& status : statuses) {
    EXPECT_EQ(status.error_code(), grpc::DEADLINE_EXCEEDED);
  }
  EXPECT_EQ(HeldRequests(), 1);  // One refresh, which outlives its caller.

  // Seven threads are free again: a sign-in starts at once.
  auto context = NoCredentials();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(3));
  const grpc::Status status = StartSignIn(*context);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// Calls whose callers left while their work was queued (here their 1 s
// deadlines passed behind a hung provider) are not worked on when a thread
// frees: nobody waits for the sign-ins they would start, and each would keep
// a state for ten minutes. The same holds on every pool: a password hash
// queued for a caller who left is not computed.
TEST_F(ProviderOutageTest, WorkForCallersWhoLeftIsNotDone) {
  HangDiscovery();
  constexpr size_t kStarts = 16;
  std::vector<std::thread> starts;
  std::vector<grpc::StatusCode> codes(kStarts);
  starts.reserve(kStarts);
  const auto start = [&](size_t i, int seconds) {
    starts.emplace_back([&, i, seconds] {
      auto context = NoCredentials();
      context->set_deadline(std::chrono::system_clock::now() +
                            std::chrono::seconds(seconds));
      codes[i] = StartSignIn(*context).error_code();
    });
  };
  // 8 run, on every provider-call thread (one discovers, the others wait on
  // it, for 2 s), then 8 whose callers give up after 1 s wait in the queue.
  // Threads free a second after those callers left: by then the server
  // knows they have (it learns of a passed deadline a little after the
  // client does).
  for (size_t i = 0; i < kStarts / 2; ++i) {
    start(i, 2);
  }
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return HeldRequests() == 1 && StartOAuthCallsInFlight() == 8; }));
  for (size_t i = kStarts / 2; i < kStarts; ++i) {
    start(i, 1);
  }
  for (std::thread& started : starts) {
    started.join();
  }
  EXPECT_EQ(static_cast<size_t>(absl::c_count(codes, grpc::DEADLINE_EXCEEDED)),
            kStarts);
  // All but the call that discovers have finished, the queued ones without
  // being worked on: CANCELLED is how a dropped call ends.
  ASSERT_TRUE(
      testing::WaitUntil([&] { return StartOAuthCallsInFlight() == 1; }));
  EXPECT_EQ(
      testing::MetricValue(server_->server().metrics_port(),
                           R"(roster_rpcs_total{method="/roster.v1.)"
                           R"(FrontendUsers/StartOAuth",code="CANCELLED"})"),
      8);
  EXPECT_EQ(HeldRequests(), 1);

  AnswerAgain();  // The discovering call finishes, for nobody.
  ASSERT_TRUE(
      testing::WaitUntil([&] { return StartOAuthCallsInFlight() == 0; }));
  EXPECT_EQ(server_->database().Int("SELECT count(*) FROM oauth_states"), 1);
}

// The JWK Set is fetched as the discovery document is: after a fetch fails,
// callbacks for the next 30 s fail at once rather than each asking a
// provider that is down again (and, were it hung, each waiting 10 s on it).
TEST_F(ProviderOutageTest, AFailedFetchOfTheKeysFailsCallbacksAtOnce) {
  FailKeys();
  EXPECT_EQ(QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_error"),
            "OAUTH_PROVIDER_ERROR");
  EXPECT_EQ(JwksFetches(), 1);

  AnswerAgain();  // Back, but not asked again within the 30 s.
  EXPECT_EQ(QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_error"),
            "OAUTH_PROVIDER_ERROR");
  EXPECT_EQ(JwksFetches(), 1);

  server_->AdvanceClock(absl::Seconds(30));
  EXPECT_TRUE(absl::StartsWith(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"), "sit_"));
  EXPECT_EQ(JwksFetches(), 2);
}

// Sign-ins that arrive while the discovery document is first fetched wait
// for that fetch rather than each sending their own: a provider that hangs
// is sent one request, not one per caller.
TEST_F(ProviderOutageTest, SignInsShareOneDiscovery) {
  HangDiscovery();
  constexpr size_t kStarts = 8;  // As many as provider calls have threads.
  std::vector<std::thread> starts;
  std::vector<grpc::Status> statuses(kStarts);
  starts.reserve(kStarts);
  for (size_t i = 0; i < kStarts; ++i) {
    starts.emplace_back(
        [&, i] { statuses[i] = StartSignIn(*NoCredentials()); });
  }
  ASSERT_TRUE(testing::WaitUntil([&] {
    return HeldRequests() >= 1 && StartOAuthCallsInFlight() == kStarts;
  }));
  AnswerAgain();
  for (std::thread& start : starts) {
    start.join();
  }
  for (const grpc::Status& status : statuses) {
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(DiscoveryFetches(), 1);
}

// Sign-ins waiting for another's discovery leave when their deadlines pass,
// and free the threads they waited on: a provider that hangs must not keep
// seven callers who gave up after 1 s, and with them every provider call,
// for the ten seconds the first one waits.
TEST_F(ProviderOutageTest, SignInsWaitingForDiscoveryLeaveAtTheirDeadlines) {
  HangDiscovery();
  grpc::Status first;
  std::thread discovering([&] { first = StartSignIn(*NoCredentials()); });
  ASSERT_TRUE(testing::WaitUntil([&] { return HeldRequests() == 1; }));
  constexpr size_t kWaiting = 7;  // The provider calls' other threads.
  std::vector<std::thread> waiting;
  std::vector<grpc::StatusCode> codes(kWaiting);
  waiting.reserve(kWaiting);
  for (size_t i = 0; i < kWaiting; ++i) {
    waiting.emplace_back([&, i] {
      auto context = NoCredentials();
      context->set_deadline(std::chrono::system_clock::now() +
                            std::chrono::seconds(1));
      codes[i] = StartSignIn(*context).error_code();
    });
  }
  for (std::thread& caller : waiting) {
    caller.join();
  }
  EXPECT_EQ(static_cast<size_t>(absl::c_count(codes, grpc::DEADLINE_EXCEEDED)),
            kWaiting);
  // Only the call that fetches is still at work.
  EXPECT_TRUE(testing::WaitUntil([&] { return StartOAuthCallsInFlight() == 1; },
                                 absl::Seconds(3)))
      << StartOAuthCallsInFlight() << " in flight";

  AnswerAgain();
  discovering.join();
  EXPECT_TRUE(first.ok()) << first.error_message();
  EXPECT_EQ(DiscoveryFetches(), 1);
}

// Once discovery has failed, sign-ins fail at once for the next 30 s, the
// provider not asked again: in an outage no caller waits 10 s on it, and it
// is not sent a request per caller. After that a sign-in asks again.
TEST_F(ProviderOutageTest, AFailedDiscoveryFailsSignInsAtOnce) {
  FailDiscovery();
  grpc::Status first = StartSignIn(*NoCredentials());
  EXPECT_EQ(first.error_code(), grpc::UNAVAILABLE);
  EXPECT_EQ(testing::ReasonOf(first), "OAUTH_PROVIDER_ERROR");
  ASSERT_EQ(DiscoveryFetches(), 1);

  HangDiscovery();  // Anyone who asked now would wait 10 s.
  for (int i = 0; i < 10; ++i) {
    auto context = NoCredentials();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(2));
    const grpc::Status status = StartSignIn(*context);
    EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE) << status.error_message();
    EXPECT_EQ(testing::ReasonOf(status), "OAUTH_PROVIDER_ERROR");
  }
  EXPECT_EQ(DiscoveryFetches(), 1);

  AnswerAgain();
  server_->AdvanceClock(absl::Seconds(31));
  std::string url;
  const grpc::Status recovered = StartSignIn(*NoCredentials(), &url);
  EXPECT_TRUE(recovered.ok()) << recovered.error_message();
  EXPECT_TRUE(absl::StartsWith(url, Issuer())) << url;
  EXPECT_EQ(DiscoveryFetches(), 2);
}

// The discovery document is read again daily. While that read waits on a
// provider that hangs, other sign-ins go on with the document kept, and do
// not wait with it.
TEST_F(ProviderOutageTest, ReadingTheDocumentAgainHoldsUpNoSignIn) {
  ASSERT_TRUE(StartSignIn(*NoCredentials()).ok());
  server_->AdvanceClock(absl::Hours(25));
  HangDiscovery();
  grpc::Status rereading;
  std::thread reread([&] { rereading = StartSignIn(*NoCredentials()); });
  ASSERT_TRUE(testing::WaitUntil([&] { return HeldRequests() == 1; }));

  auto context = NoCredentials();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(2));
  const grpc::Status other = StartSignIn(*context);
  EXPECT_TRUE(other.ok()) << other.error_message();
  EXPECT_EQ(DiscoveryFetches(), 2);

  AnswerAgain();
  reread.join();
  EXPECT_TRUE(rereading.ok()) << rereading.error_message();
}

}  // namespace
}  // namespace roster

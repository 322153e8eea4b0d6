// Two replicas on one PostgreSQL database, as two pods: backends asking each
// for the same expired provider token at once share one refresh (DESIGN §11).
// The stand-in rotates refresh tokens, as some providers do, so a second
// refresh with the token the first used is refused and one caller would get
// an error instead of a token. Runs in the .postgres variant.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "server/domain/data_keys.h"
#include "tests/integration/oauth_stand_in.h"
#include "tests/testing/metrics.h"
#include "tests/testing/postgres.h"
#include "tests/testing/test_server.h"
#include "tests/testing/wait.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::kStandInProvider;
using ::roster::testing::QueryValue;
using ::roster::testing::StandInProviderTest;
using ::roster::testing::TestServer;
using namespace roster::v1;  // NOLINT: the API's request and response types.

class PgOAuthRefreshTest : public StandInProviderTest {
 protected:
  void Configure(app::ServerConfig& config) override {
    config.data_keys = domain::DataKeys::NewFile();
  }

  void SetUp() override {
    ROSTER_REQUIRE_POSTGRES();
    StandInProviderTest::SetUp();
    ASSERT_TRUE(server_->database().postgres())
        << "runs in the .postgres variant (ROSTER_TEST_STORE=postgres)";
    // The same database, data keys and provider, as a second pod has.
    replica_ = std::make_unique<TestServer>([&](app::ServerConfig& config) {
      config = server_->config();
      config.listen = "127.0.0.1:0";
      config.http_listen = "127.0.0.1:0";
      config.metrics_listen = "127.0.0.1:0";
    });
  }

  // The write transactions the replica has run (its metrics): each look at
  // a refresh lease is one.
  int64_t ReplicaWrites() {
    return testing::MetricValue(
        replica_->server().metrics_port(),
        R"(roster_db_operation_duration_seconds_count{operation="write"})");
  }

  // The replica's GetUserOAuthAccessToken calls not yet finished.
  int64_t ReplicaTokenCallsInFlight() {
    return testing::MetricValue(
        replica_->server().metrics_port(),
        R"(roster_rpcs_in_flight{method="/roster.v1.BackendUsers/)"
        R"(GetUserOAuthAccessToken"})");
  }

  void AdvanceClocks(absl::Duration d) {
    server_->AdvanceClock(d);
    replica_->AdvanceClock(d);
  }

  std::unique_ptr<TestServer> replica_;
};

TEST_F(PgOAuthRefreshTest, TwoReplicasShareOneRefresh) {
  // The first refresh waits (up to 1 s) for a second to arrive.
  HoldFirstRefresh();
  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  AdvanceClocks(absl::Minutes(2));  // Past the minute "at-0" lasts.

  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(signed_in.user().id());
  request.set_provider(kStandInProvider);
  auto on_replica = replica_->Backend();
  OAuthAccessToken first;
  OAuthAccessToken second;
  grpc::Status first_status;
  grpc::Status second_status;
  std::thread other([&] {
    second_status =
        on_replica->GetUserOAuthAccessToken(Authed().get(), request, &second);
  });
  first_status =
      backend_->GetUserOAuthAccessToken(Authed().get(), request, &first);
  other.join();
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  ASSERT_TRUE(second_status.ok()) << second_status.error_message();
  EXPECT_EQ(first.token(), "at-1");
  EXPECT_EQ(second.token(), "at-1");
  EXPECT_EQ(Refreshes(), 1);

  // The lease ended with the refresh: the next expiry is refreshed at once,
  // from either replica.
  AdvanceClocks(absl::Hours(2));
  OAuthAccessToken later;
  ASSERT_TRUE(
      on_replica->GetUserOAuthAccessToken(Authed().get(), request, &later)
          .ok());
  EXPECT_EQ(later.token(), "at-2");
  EXPECT_EQ(Refreshes(), 2);
}

// A replica that died holding the lease (its refresh never written) holds up
// the others until the lease runs out, 25 s after it was taken, and no longer.
TEST_F(PgOAuthRefreshTest, ALeaseWhoseHolderDiedIsWaitedForThenTaken) {
  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  AdvanceClocks(absl::Minutes(2));  // Past the minute "at-0" lasts.
  const int64_t lease_until =
      absl::ToUnixMicros(server_->Now() + absl::Seconds(25));
  ASSERT_EQ(testing::PgCommand(
                server_->db_path(),
                absl::StrCat("UPDATE oauth_tokens SET refresh_lease_until = ",
                             lease_until)),
            "");

  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(signed_in.user().id());
  request.set_provider(kStandInProvider);
  OAuthAccessToken token;
  grpc::Status status;
  std::atomic<bool> answered{false};
  std::thread caller([&] {
    status = replica_->Backend()->GetUserOAuthAccessToken(Authed().get(),
                                                          request, &token);
    answered = true;
  });
  // While the lease holds, the call looks at it again and again (writes on
  // the replica), and neither answers nor refreshes.
  const int64_t writes_before = ReplicaWrites();
  ASSERT_GE(writes_before, 0);
  EXPECT_TRUE(
      testing::WaitUntil([&] { return ReplicaWrites() >= writes_before + 5; }));
  EXPECT_FALSE(answered);
  EXPECT_EQ(Refreshes(), 0);
  AdvanceClocks(absl::Seconds(26));  // The lease runs out.
  caller.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(token.token(), "at-1");
  EXPECT_EQ(Refreshes(), 1);
  EXPECT_EQ(testing::PgScalar(server_->db_path(),
                              "SELECT refresh_lease_until FROM oauth_tokens"),
            "0");
}

// A caller whose deadline passes while another replica holds the lease
// stops looking at it: the call ends on the server too, and its thread is
// free, where it would otherwise look every 50 ms for 50 s.
TEST_F(PgOAuthRefreshTest, ACallerWhoGaveUpStopsWaitingForTheLease) {
  const SignInResponse signed_in = ExchangeTicket(
      QueryValue(SignInWith(SignedBy(key_, "k1")), "roster_ticket"));
  ASSERT_EQ(signed_in.status(), SignInAttempt::STATUS_COMPLETE);
  AdvanceClocks(absl::Minutes(2));  // Past the minute "at-0" lasts.
  ASSERT_EQ(
      testing::PgCommand(
          server_->db_path(),
          absl::StrCat("UPDATE oauth_tokens SET refresh_lease_until = ",
                       absl::ToUnixMicros(server_->Now() + absl::Seconds(25)))),
      "");

  GetUserOAuthAccessTokenRequest request;
  request.set_user_id(signed_in.user().id());
  request.set_provider(kStandInProvider);
  auto context = Authed();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(1));
  OAuthAccessToken token;
  EXPECT_EQ(replica_->Backend()
                ->GetUserOAuthAccessToken(context.get(), request, &token)
                .error_code(),
            grpc::DEADLINE_EXCEEDED);
  EXPECT_TRUE(
      testing::WaitUntil([&] { return ReplicaTokenCallsInFlight() == 0; }));
  EXPECT_EQ(Refreshes(), 0);
}

}  // namespace
}  // namespace roster

// Metrics at /metrics and x-request-id echo on a real server.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/sanitizers.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::TestServer;
using ::testing::HasSubstr;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

// A Prometheus text exposition (format 0.0.4) parsed into "name{labels}" ->
// value; every sample must follow a # TYPE line for its family. Fails the
// test on a malformed line.
std::map<std::string, double> ParseExposition(const std::string& text) {
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? )"
      R"(([-+]?[0-9.]+([eE][-+]?[0-9]+)?|\+Inf|NaN))");
  static const std::regex kType(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  std::map<std::string, double> samples;
  std::set<std::string> typed;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch match;
    if (std::regex_match(line, match, kType)) {
      typed.insert(match[1]);
    } else if (absl::StartsWith(line, "# HELP ")) {
      continue;
    } else if (std::regex_match(line, match, kSample)) {
      std::string family = match[1];
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (!typed.count(family) && absl::EndsWith(family, suffix)) {
          family.resize(family.size() - std::strlen(suffix));
        }
      }
      EXPECT_TRUE(typed.count(family)) << "no # TYPE before: " << line;
      samples[absl::StrCat(match[1].str(), match[2].str())] =
          std::stod(match[4]);
    } else {
      ADD_FAILURE() << "malformed exposition line: " << line;
    }
  }
  return samples;
}

// One sample ("name{labels}") of the /metrics on `http_port`, parsed as
// above; -1 when the server does not answer, and `at` throws when the sample
// is missing.
double Sample(int http_port, const std::string& name) {
  httplib::Client client("127.0.0.1", http_port);
  auto response = client.Get("/metrics");
  EXPECT_TRUE(response && response->status == 200);
  return response ? ParseExposition(response->body).at(name) : -1.0;
}

std::string ResponseRequestId(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("x-request-id");
  return it == metadata.end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

TEST(ObservabilityTest, RequestIdsAreEchoedOrAssigned) {
  TestServer server;
  auto stub = server.Backend();
  GetUserRequest get;
  get.set_user_id("user_000000000000000000000000000");
  User user;
  auto mine = Authed();
  mine->AddMetadata("x-request-id", "req-42.a:b");
  stub->GetUser(mine.get(), get, &user);
  EXPECT_EQ(ResponseRequestId(*mine), "req-42.a:b");

  auto assigned = Authed();
  stub->GetUser(assigned.get(), get, &user);
  EXPECT_THAT(ResponseRequestId(*assigned),
              ::testing::MatchesRegex("[0-9a-f]{32}"));

  // A request id that could inject into a log line is replaced.
  auto hostile = Authed();
  hostile->AddMetadata("x-request-id", "a\"b");
  stub->GetUser(hostile.get(), get, &user);
  EXPECT_THAT(ResponseRequestId(*hostile),
              ::testing::MatchesRegex("[0-9a-f]{32}"));
}

TEST(ObservabilityTest, MetricsCountRpcsByCodeAndTimeTheDatabase) {
  TestServer server([](app::ServerConfig& config) {
    config.http_listen = "127.0.0.1:0";
    config.metrics = true;
  });
  auto stub = server.Backend();
  CreateUserRequest create;
  create.add_email_addresses("metrics@example.com");
  User user;
  ASSERT_TRUE(stub->CreateUser(Authed().get(), create, &user).ok());
  GetUserRequest missing;
  missing.set_user_id("user_000000000000000000000000000");
  EXPECT_EQ(stub->GetUser(Authed().get(), missing, &user).error_code(),
            grpc::NOT_FOUND);

  GetUserRequest created;
  created.set_user_id(user.id());
  for (int i = 0; i < 2; ++i) {  // A miss that fills the cache, then a hit.
    ASSERT_TRUE(stub->GetUser(Authed().get(), created, &user).ok());
  }
  roster::v1::ListUsersRequest by_email;
  by_email.add_email_addresses("metrics@example.com");
  roster::v1::ListUsersResponse listed;
  // The first finds the user through the index and the cached record (a hit),
  // and keeps the lookup; the second is answered by the lookup alone.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(stub->ListUsers(Authed().get(), by_email, &listed).ok());
    ASSERT_EQ(listed.users_size(), 1);
  }

  httplib::Client client("127.0.0.1", server.server().http_port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  const std::string& text = response->body;
  const auto samples = ParseExposition(text);
  const std::string create_label =
      "method=\"/roster.v1.BackendUsers/CreateUser\"";
  EXPECT_EQ(samples.at("roster_rpcs_total{" + create_label + ",code=\"OK\"}"),
            1);
  EXPECT_EQ(samples.at("roster_users"), 1);
  if (testing::TestStoreIsPostgres()) {  // Replicas keep no user cache.
    EXPECT_THAT(text, ::testing::Not(HasSubstr("roster_user_cache")));
  } else {
    EXPECT_EQ(samples.at("roster_user_cache_lookups_total{result=\"hit\"}"), 2);
    EXPECT_EQ(samples.at("roster_user_cache_lookups_total{result=\"miss\"}"),
              2);  // The missing user and the first read of the created one.
    EXPECT_EQ(samples.at("roster_user_cache_identifier_hits_total"), 1);
    EXPECT_GT(samples.at("roster_user_cache_bytes"), 0);
  }
  // Buckets are cumulative and +Inf equals the count.
  double previous = 0;
  for (const char* le : {"0.0001", "0.001", "0.01", "0.1", "1", "10", "+Inf"}) {
    const double bucket =
        samples.at(absl::StrCat("roster_rpc_duration_seconds_bucket{",
                                create_label, ",le=\"", le, "\"}"));
    EXPECT_GE(bucket, previous) << le;
    previous = bucket;
  }
  EXPECT_EQ(previous, samples.at("roster_rpc_duration_seconds_count{" +
                                 create_label + "}"));
  EXPECT_THAT(text, HasSubstr("roster_rpcs_total{method=\"/roster.v1."
                              "BackendUsers/CreateUser\",code=\"OK\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("roster_rpcs_total{method=\"/roster.v1."
                        "BackendUsers/GetUser\",code=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("roster_rpc_duration_seconds_count{method=\"/"
                              "roster.v1.BackendUsers/CreateUser\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("roster_rpc_duration_seconds_bucket{method=\"/"
                              "roster.v1.BackendUsers/GetUser\",le=\"+Inf\"} "
                              "3\n"));
  EXPECT_THAT(text, HasSubstr("roster_db_operation_duration_seconds_count{"
                              "operation=\"write\"}"));
  EXPECT_THAT(text, HasSubstr("\nroster_users 1\n"));
  EXPECT_THAT(text, HasSubstr("roster_build_info{version=\""));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("metrics@example.com")));
}

// An attacker with no credentials calls thousands of made-up method paths,
// quotes and newlines in them: the metrics gain one "unknown" label, not one
// per path, and the exposition stays well-formed (DESIGN §14).
TEST(ObservabilityTest, UnknownMethodsAreOneLabelWhateverTheirPaths) {
  TestServer server;
  grpc::GenericStub generic(server.raw_channel());
  const auto call = [&](const std::string& method) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(
        &context, method, grpc::StubOptions(), &request, &response,
        [&](const grpc::Status& status) { done.set_value(status); });
    return done.get_future().get();
  };
  ASSERT_EQ(call("/roster.v1.Nope/First").error_code(), grpc::UNIMPLEMENTED);
  const std::string before = server.server().RenderMetrics();
  for (int i = 0; i < 2000; ++i) {
    const grpc::Status status =
        call(absl::StrCat("/AAAA", i, "\"q\\n{x=\"y\"}/", i));
    ASSERT_EQ(status.error_code(), grpc::UNIMPLEMENTED) << i;
  }
  const std::string after = server.server().RenderMetrics();
  // Only RPC series count: the store's own histograms may gain an operation
  // meanwhile (a background sweep on PostgreSQL did, under CI's load).
  const auto rpc_series = [](const std::string& text) {
    int lines = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      lines += absl::StrContains(line, "method=\"") ? 1 : 0;
    }
    return lines;
  };
  EXPECT_EQ(rpc_series(after), rpc_series(before))
      << "2,000 new paths added metric lines";
  EXPECT_THAT(after, HasSubstr(R"(roster_rpcs_total{method="unknown",)"
                               R"(code="UNIMPLEMENTED"} 2001)"));
  EXPECT_THAT(after, ::testing::Not(HasSubstr("AAAA")));
  ParseExposition(after);  // Fails the test on any malformed line.
  // The server's own methods keep their names.
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse health;
  grpc::ClientContext context;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(server.raw_channel())
                  ->Check(&context, check, &health)
                  .ok());
  EXPECT_THAT(server.server().RenderMetrics(),
              HasSubstr(R"(method="/grpc.health.v1.Health/Check")"));
}

// Each rate limit's table is capped (DESIGN section 14); the gauge shows
// how full it is. A failed sign-in adds one key to each failure limit.
TEST(ObservabilityTest, RateLimitKeysCountWhatTheLimitsHold) {
  TestServer server([](app::ServerConfig& config) {
    config.http_listen = "127.0.0.1:0";
    config.metrics = true;
  });
  auto keys = [&](const char* limit) {
    return Sample(
        server.server().http_port(),
        absl::StrCat("roster_rate_limit_keys{limit=\"", limit, "\"}"));
  };
  EXPECT_EQ(keys("failures_by_identifier"), 0);
  EXPECT_EQ(keys("failures_by_address"), 0);
  auto frontend = roster::v1::FrontendUsers::NewStub(server.channel());
  for (const char* identifier : {"nobody@example.com", "noone@example.com"}) {
    roster::v1::SignInRequest sign_in;
    sign_in.set_identifier(identifier);
    sign_in.set_password("not-the-password-1");
    roster::v1::SignInResponse signed_in;
    grpc::ClientContext context;
    EXPECT_EQ(frontend->SignIn(&context, sign_in, &signed_in).error_code(),
              grpc::UNAUTHENTICATED);
  }
  EXPECT_EQ(keys("failures_by_identifier"), 2);  // One per identifier.
  EXPECT_EQ(keys("failures_by_address"), 1);     // Both from loopback.
  EXPECT_EQ(keys("writes_by_user"), 0);
  // Each beside its cap (RateLimiter's default, which every limit keeps).
  for (const char* limit :
       {"failures_by_identifier", "failures_by_address", "writes_by_user",
        "sign_ups_by_address", "sign_ups_by_ticket", "attempts_by_address"}) {
    EXPECT_EQ(Sample(server.server().http_port(),
                     absl::StrCat("roster_rate_limit_key_capacity{limit=\"",
                                  limit, "\"}")),
              100000)
        << limit;
  }
}

// The token cache keeps one entry per verified token, never a refused one.
TEST(ObservabilityTest, TokenCacheEntriesCountVerifiedTokens) {
  TestServer server([](app::ServerConfig& config) {
    config.http_listen = "127.0.0.1:0";
    config.metrics = true;
  });
  auto entries = [&] {
    return Sample(server.server().http_port(), "roster_token_cache_entries");
  };
  EXPECT_EQ(entries(), 0);
  CreateUserRequest create;
  create.add_email_addresses("cached@example.com");
  create.set_password("cached-password-Correct-1");
  User user;
  ASSERT_TRUE(server.Backend()->CreateUser(Authed().get(), create, &user).ok());
  auto frontend = roster::v1::FrontendUsers::NewStub(server.channel());
  roster::v1::SignInRequest sign_in;
  sign_in.set_identifier("cached@example.com");
  sign_in.set_password("cached-password-Correct-1");
  roster::v1::SignInResponse signed_in;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(frontend->SignIn(&context, sign_in, &signed_in).ok());
  }
  auto get_me = [&](const std::string& token) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    roster::v1::FrontendUser me;
    return frontend->GetMe(&context, roster::v1::GetMeRequest(), &me)
        .error_code();
  };
  EXPECT_EQ(get_me(signed_in.session_token()), grpc::OK);
  EXPECT_EQ(get_me(signed_in.session_token()), grpc::OK);
  EXPECT_EQ(get_me(signed_in.session_token() + "x"), grpc::UNAUTHENTICATED);
  EXPECT_EQ(entries(), 1);
  EXPECT_EQ(Sample(server.server().http_port(), "roster_token_cache_capacity"),
            10000);
}

// roster_heap_bytes is glibc's count of the process's heap: it follows
// memory the process takes and gives back (here the test's own, since the
// server runs in this process).
TEST(ObservabilityTest, HeapMetricFollowsTheHeap) {
  if (testing::kAddressSanitized || testing::kThreadSanitized) {
    GTEST_SKIP() << "the sanitizer's allocator serves malloc, not glibc's";
  }
  TestServer server([](app::ServerConfig& config) {
    config.http_listen = "127.0.0.1:0";
    config.metrics = true;
  });
  auto heap = [&](const char* state) {
    return Sample(server.server().http_port(),
                  absl::StrCat("roster_heap_bytes{state=\"", state, "\"}"));
  };
  EXPECT_GE(heap("free"), 0);  // Present (`at` throws when it is not).
  const double before = heap("in_use");
  constexpr size_t kHeld = size_t{32} << 20;
  auto held = std::make_unique<char[]>(kHeld);
  std::memset(held.get(), 1, kHeld);
  const double holding = heap("in_use");
  held.reset();
  const double after = heap("in_use");
  EXPECT_GE(holding - before, kHeld * 0.9);
  EXPECT_GE(holding - after, kHeld * 0.9);
}

// The public listener (images) never serves metrics when they have their own
// listener, and that listener serves nothing else (DESIGN §14).
TEST(ObservabilityTest, MetricsListenerIsApartFromThePublicOne) {
  TestServer server([](app::ServerConfig& config) {
    config.http_listen = "127.0.0.1:0";
    config.metrics_listen = "127.0.0.1:0";
  });
  ASSERT_NE(server.server().metrics_port(), 0);
  ASSERT_NE(server.server().metrics_port(), server.server().http_port());
  httplib::Client public_http("127.0.0.1", server.server().http_port());
  auto response = public_http.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  httplib::Client metrics("127.0.0.1", server.server().metrics_port());
  response = metrics.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->body, HasSubstr("# TYPE roster_rpcs_total counter"));
  response = metrics.Get("/v1/images/img_nope");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->body, "");  // Not the image route's "image not found".
}

TEST(ObservabilityTest, MetricsAreOffUnlessAskedFor) {
  TestServer server(
      [](app::ServerConfig& config) { config.http_listen = "127.0.0.1:0"; });
  httplib::Client client("127.0.0.1", server.server().http_port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
}

}  // namespace
}  // namespace roster

// A bounded soak of the real roster-server binary: eight clients run every
// RPC of both services in realistic cycles (soak_load.h: create, read,
// update, identifiers, images, bans, locks, imports, events, sessions,
// sign-in, verification, password changes, self-deletion) while a watcher
// streams events, for ROSTER_SOAK_SECONDS (30 in `make test`, 600 in `make
// test-long`). It checks that no call fails unexpectedly and that the server's
// resident memory and open file descriptors stay flat after warm-up, and
// prints the figures docs/reliability.md quotes. `make test-tsan` runs it
// against a ThreadSanitizer build of the server, which exits 66 on a race.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/integration/soak_load.h"
#include "tests/testing/frontend_response_scanner.h"
#include "tests/testing/process_stats.h"
#include "tests/testing/sanitizers.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_database.h"

namespace roster {
namespace {

using ::roster::soak::kKey;
using ::roster::soak::Tally;
using ::roster::soak::Worker;
using ::roster::testing::Fds;
using ::roster::testing::OpenFds;
using ::roster::testing::PostgresPort;
using ::roster::testing::RssAnonKib;
using ::roster::testing::RssKib;
using ::roster::testing::ServerProcess;
using ::roster::testing::TempDir;
using namespace roster::v1;  // NOLINT: the API under test.

int SoakSeconds() {
  const char* value = std::getenv("ROSTER_SOAK_SECONDS");
  return value != nullptr ? std::max(5, std::atoi(value)) : 30;
}

// ROSTER_SOAK_SERVER_FLAGS: more flags for the server, space-separated (say,
// --user_cache_mb=0, to see what the cache holds at rest).
std::vector<std::string> ExtraServerFlags() {
  const char* value = std::getenv("ROSTER_SOAK_SERVER_FLAGS");
  if (value == nullptr) {
    return {};
  }
  return absl::StrSplit(value, ' ', absl::SkipEmpty());
}

// What the server's /metrics says it holds: the C heap (in use and free),
// the tokens its token cache keeps and the keys its rate limits keep. All -1
// when it does not answer.
struct HeldMemory {
  int64_t heap_in_use_kib = -1;
  int64_t heap_free_kib = -1;
  int64_t rate_limit_keys = -1;
  int64_t token_cache_entries = -1;
};

HeldMemory ScrapeHeldMemory(int metrics_port) {
  HeldMemory held;
  httplib::Client client("127.0.0.1", metrics_port);
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) {
    return held;
  }
  held.rate_limit_keys = 0;
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    const std::pair<absl::string_view, absl::string_view> sample =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    int64_t value = 0;
    if (!absl::SimpleAtoi(sample.second, &value)) {
      continue;
    }
    if (sample.first == "roster_heap_bytes{state=\"in_use\"}") {
      held.heap_in_use_kib = value / 1024;
    } else if (sample.first == "roster_heap_bytes{state=\"free\"}") {
      held.heap_free_kib = value / 1024;
    } else if (sample.first == "roster_token_cache_entries") {
      held.token_cache_entries = value;
    } else if (absl::StartsWith(sample.first, "roster_rate_limit_keys{")) {
      held.rate_limit_keys += value;
    }
  }
  return held;
}

TEST(SoakTest, EveryRpcUnderLoadWithFlatMemoryAndDescriptors) {
  ASSERT_GE(sodium_init(), 0);
  TempDir dir;
  {
    unsigned char seed[32];
    randombytes_buf(seed, sizeof(seed));
    std::ofstream(dir.File("signing.key")) << absl::BytesToHexString(
        std::string(reinterpret_cast<char*>(seed), sizeof(seed)));
  }
  const testing::TestDatabase database(dir);
  std::vector<std::string> flags = {
      database.flag(), "--listen=127.0.0.1:0",
      absl::StrCat("--secret_keys=", kKey), "--log_rpcs=false",
      "--signing_key_file=" + dir.File("signing.key"),
      // Every cycle sends two codes: in `make test-long`'s 10 minutes the
      // service's default hourly budget (1,000) runs out, and its refusal is
      // VerificationBudgetTest's subject, not this one's.
      "--codes_per_hour=100000000",
      // Its /metrics: the heap, the token cache and the rate limits.
      "--metrics_listen=127.0.0.1:0"};
  for (std::string& flag : ExtraServerFlags()) {
    flags.push_back(std::move(flag));
  }
  ServerProcess server(dir, flags);
  const int port = server.WaitForPort();
  ASSERT_GT(port, 0) << server.Stderr();
  const pid_t pid = server.pid();
  const int metrics_port = server.LoggedPort("metrics_port");
  ASSERT_GT(metrics_port, 0) << server.Stderr();

  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      scanners;
  scanners.push_back(
      std::make_unique<testing::FrontendResponseScannerFactory>());
  auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(),
      grpc::ChannelArguments(), std::move(scanners));
  Tally tally;

  // One watcher streams every event for the whole run.
  std::atomic<int64_t> events_seen{0};
  grpc::ClientContext watch_context;
  watch_context.AddMetadata("authorization", std::string("Bearer ") + kKey);
  auto watch_stub = BackendUsers::NewStub(channel);
  std::thread watcher([&] {
    auto reader = watch_stub->WatchEvents(&watch_context, WatchEventsRequest());
    Event event;
    while (reader->Read(&event)) {
      ++events_seen;
    }
    tally.Check(reader->Finish(), "WatchEvents", grpc::StatusCode::CANCELLED);
  });

  // The load runs in two phases; memory and descriptors are read while the
  // server is quiet after each, so the figures are what it keeps, not what
  // the calls in flight happen to hold (argon2id alone takes 19 MiB a hash).
  const int seconds = SoakSeconds();
  const int warmup = std::max(3, seconds / 6);
  std::vector<std::unique_ptr<Worker>> workers;
  workers.reserve(8);
  for (int i = 0; i < 8; ++i) {
    workers.push_back(std::make_unique<Worker>(channel, i, &tally));
  }
  int64_t rss_peak = 0;
  auto run_for = [&](int phase_seconds) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    threads.reserve(workers.size());
    for (auto& worker : workers) {
      threads.emplace_back([&stop, w = worker.get()] { w->Run(stop); });
    }
    for (int s = 0; s < phase_seconds; ++s) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      rss_peak = std::max(rss_peak, RssKib(pid));
    }
    stop = true;
    for (auto& t : threads) {
      t.join();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  };
  run_for(warmup);
  const int64_t rss_warm = RssKib(pid);
  const int64_t anon_warm = RssAnonKib(pid);
  const int pg_port = PostgresPort(database);
  const Fds fds_warm = OpenFds(pid, pg_port);
  // After the descriptors: the scrape's own connection is not counted.
  const HeldMemory held_warm = ScrapeHeldMemory(metrics_port);
  const int64_t calls_warm = tally.calls();
  run_for(seconds - warmup);
  const int64_t rss_end = RssKib(pid);
  const int64_t anon_end = RssAnonKib(pid);
  const Fds fds_end = OpenFds(pid, pg_port);
  const HeldMemory held_end = ScrapeHeldMemory(metrics_port);
  watch_context.TryCancel();
  watcher.join();

  const int64_t calls = tally.calls();
  std::cout << absl::StrFormat(
      "soak: %d s, %d calls (%.0f/s after warm-up), %d unexpected, %d "
      "events watched; server RSS at rest %.1f MiB after %d s warm-up, %.1f "
      "MiB at end (peak under load %.1f), of which anonymous %.1f -> %.1f "
      "MiB (heap in use %.1f -> %.1f, free %.1f -> %.1f; token cache %d -> "
      "%d, rate limit keys %d -> %d); open fds %d+%d -> %d+%d (other + "
      "database)\n",
      seconds, calls,
      static_cast<double>(calls - calls_warm) / (seconds - warmup),
      tally.unexpected(), events_seen.load(),
      static_cast<double>(rss_warm) / 1024, warmup,
      static_cast<double>(rss_end) / 1024, static_cast<double>(rss_peak) / 1024,
      static_cast<double>(anon_warm) / 1024,
      static_cast<double>(anon_end) / 1024,
      static_cast<double>(held_warm.heap_in_use_kib) / 1024,
      static_cast<double>(held_end.heap_in_use_kib) / 1024,
      static_cast<double>(held_warm.heap_free_kib) / 1024,
      static_cast<double>(held_end.heap_free_kib) / 1024,
      held_warm.token_cache_entries, held_end.token_cache_entries,
      held_warm.rate_limit_keys, held_end.rate_limit_keys, fds_warm.other,
      fds_warm.database, fds_end.other, fds_end.database);
  EXPECT_EQ(tally.unexpected(), 0);
  EXPECT_GT(calls, 1000);
  EXPECT_GT(events_seen, 0);
  // Sockets and files do not accumulate; database descriptors stay within
  // the pool's bound. SQLite: the writer's plus the idle reader pool's (8
  // connections; db and -wal each, -shm shared). PostgreSQL: 16 pooled
  // connections and the listener's (the pool grows lazily, so it may still
  // be growing after the warm-up).
  EXPECT_LE(fds_end.other, fds_warm.other);
  EXPECT_LE(fds_end.database, pg_port != 0 ? 16 + 1 : 2 * (1 + 8) + 1);
  // A sanitizer's allocator and shadow memory are not the server's: under
  // either, the soak checks calls, descriptors and (TSan) races only.
  if (!testing::kAddressSanitized && !testing::kThreadSanitized) {
    // Flat: growth after warm-up stays within 10 % or 8 MiB, whichever is
    // more (SQLite's page caches fill as the file grows, up to their cap).
    EXPECT_LE(rss_end, rss_warm + std::max(rss_warm / 10, int64_t{8} * 1024));
    // Sharper than RSS, which reused free memory hides: what the heap has
    // allocated. Its caches fill after the warm-up (the token cache: up to
    // 10,000 tokens), so it may grow by as much, but not without end.
    EXPECT_GE(held_warm.heap_in_use_kib, 0) << "no roster_heap_bytes";
    EXPECT_LE(held_end.heap_in_use_kib,
              held_warm.heap_in_use_kib + int64_t{8} * 1024);
  }
  const int exit_code = server.Stop(SIGTERM);
  const std::string log = server.Stderr();
  const size_t tail = std::min<size_t>(log.size(), 65536);
  EXPECT_EQ(exit_code, 0) << "the server's last words:\n"
                          << log.substr(log.size() - tail);
}

}  // namespace
}  // namespace roster

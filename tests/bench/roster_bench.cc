// roster-bench: a closed-loop load generator for roster-server on gRPC's
// asynchronous (callback) client API. Several channels, a fixed number of
// calls in flight, a warm-up, then a fixed measured duration per scenario.
// Prints throughput and latency percentiles per scenario, each also as a ratio
// to `health` (grpc.health.v1.Health/Check on the same server: the same
// transport doing no work) measured in the same run, as a table and as JSON.
//
//   roster-bench --addr=127.0.0.1:50600 --seed=100000 --duration=10s
//
// --rounds=N runs the scenarios N times in turn and reports medians, each ratio
// taken within a round (see results.h). With --http_addr, get_me also runs
// over Connect JSON and gRPC-Web, reported against get_me over gRPC. The
// secret key comes from $ROSTER_SECRET_KEY.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/bench/load.h"
#include "tests/bench/results.h"
#include "tests/bench/scenario_client.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50600", "roster-server address.");
ABSL_FLAG(int, channels, 4, "gRPC channels (separate connections).");
ABSL_FLAG(int, inflight, 32, "Calls in flight across all channels.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "Warm-up per scenario.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5),
          "Measured time per scenario.");
ABSL_FLAG(int64_t, seed, 10000,
          "Users the database must hold; missing ones are imported first.");
ABSL_FLAG(
    std::string, scenarios,
    "health,get_user,list_by_email,list_by_metadata,list_page,list_first_page,"
    "list_deep_page,count,create_user,merge_metadata,sign_in,sign_up_complete,"
    "sign_in_totp,get_me,mixed,get_me_connect,get_me_grpc_web",
    "Comma-separated scenarios to run (health always runs first).");
ABSL_FLAG(std::string, http_addr, "",
          "roster-server's HTTP listener (host:port): enables get_me over "
          "Connect JSON (get_me_connect) and gRPC-Web (get_me_grpc_web), one "
          "keep-alive connection per call in flight.");
ABSL_FLAG(std::string, json_out, "", "Also write the results here as JSON.");
ABSL_FLAG(int, totp_users, 2000,
          "Users enrolled with an authenticator app for sign_in_totp. Each "
          "step's code signs a user in once, so the pool must outlast the "
          "run: about the sign-in rate times 30 s.");
ABSL_FLAG(int, hash_workers, 0,
          "The server's argon2id workers (default: this machine's cores but "
          "one, as roster-server sizes its pool); sign_in is reported against "
          "workers / time per hash, the hash timed here in the same run.");
ABSL_FLAG(bool, overload, false,
          "After the scenarios, offer sign_in open-loop at twice the hash "
          "pool's capacity while get_user runs, and report get_user's p99 "
          "against get_user alone and how every sign_in ended.");
ABSL_FLAG(int, server_pid, 0,
          "roster-server's pid (same machine): report its CPU per call from "
          "/proc/PID/stat.");
ABSL_FLAG(int, db_pid, 0,
          "The database server's pid (PostgreSQL's postmaster): its CPU and "
          "its children's per call is reported as `db µs`.");
ABSL_FLAG(std::string, compare_addr, "",
          "A second roster-server: run each scenario on both in alternating "
          "short slices and report the second's throughput over the first's "
          "(the same scenario, the same moments of the machine).");
ABSL_FLAG(int64_t, compare_seed, 10000,
          "Users the --compare_addr server's database must hold.");
ABSL_FLAG(int, compare_pid, 0, "The --compare_addr server's pid.");
ABSL_FLAG(int, slice_pairs, 10,
          "With --compare_addr: measured slices per server and scenario.");
ABSL_FLAG(absl::Duration, slice, absl::Milliseconds(500),
          "With --compare_addr: the measured part of each slice.");
ABSL_FLAG(int, rounds, 1,
          "Run the scenarios this many times in turn and report medians: "
          "each ratio is taken within a round, then the median of those.");
ABSL_FLAG(int64_t, max_errors, -1,
          "Exit 1 when a scenario sees more failed calls than this (-1: any "
          "number; the CI smoke run uses 0).");

namespace {

using roster::bench::Drive;
using roster::bench::DriveInterleaved;
using roster::bench::Interleaved;
using roster::bench::Issue;
using roster::bench::kBenchPassword;
using roster::bench::Median;
using roster::bench::OfferOpenLoop;
using roster::bench::OpenLoopOutcome;
using roster::bench::Result;
using roster::bench::ScenarioClient;
using roster::bench::SecondsPerHash;
using roster::bench::Summary;

// Whether the run asked for scenario `name` (health always runs: it is the
// floor every ratio is taken against).
bool Wanted(const std::string& name, const std::vector<std::string>& wanted) {
  return name == "health" ||
         std::find(wanted.begin(), wanted.end(), name) != wanted.end();
}

// Seconds per hash for the pool's capacity, timed on a settled server: timed
// right after a scenario it would share the cores with whatever the server is
// still finishing (a checkpoint, queued hashes). Noise only ever adds time, so
// the faster of two timings is the capacity.
double SettledSecondsPerHash(int workers) {
  absl::SleepFor(absl::Seconds(1));
  return std::min(SecondsPerHash(workers, kBenchPassword),
                  SecondsPerHash(workers, kBenchPassword));
}

// `values` as a JSON array of numbers with four decimals.
std::string JsonArray(const std::vector<double>& values) {
  return absl::StrCat("[",
                      absl::StrJoin(values, ",",
                                    [](std::string* out, double v) {
                                      absl::StrAppend(
                                          out, absl::StrFormat("%.4f", v));
                                    }),
                      "]");
}

// One scenario's summary as a JSON object, with each round's raw figures.
std::string ScenarioJson(const Summary& summary,
                         const std::vector<std::vector<Result>>& rounds,
                         size_t index) {
  const Result& r = summary.median;
  std::string per_round;
  for (size_t k = 0; k < rounds.size(); ++k) {
    const Result& x = rounds[k][index];
    absl::StrAppend(&per_round, k == 0 ? "" : ",",
                    absl::StrFormat("{\"qps\":%.1f,\"p50_us\":%.1f,\"p99_us\":"
                                    "%.1f,\"cpu_us_per_call\":%.2f,"
                                    "\"db_cpu_us_per_call\":%.2f}",
                                    x.qps, x.p50_us, x.p99_us,
                                    x.cpu_us_per_call, x.db_cpu_us_per_call));
  }
  return absl::StrCat(
      "{\"name\":\"", r.name, "\"",
      absl::StrFormat(",\"qps\":%.1f,\"ratio_to_health\":%.4f", r.qps,
                      summary.ratio_to_health),
      absl::StrFormat(",\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
                      "\"p999_us\":%.1f",
                      r.p50_us, r.p90_us, r.p99_us, r.p999_us),
      absl::StrFormat(",\"p99_ratio_to_health\":%.4f",
                      summary.p99_ratio_to_health),
      absl::StrFormat(",\"cpu_us_per_call\":%.2f,\"cpu_ratio_to_health\":%.3f",
                      r.cpu_us_per_call, summary.cpu_ratio_to_health),
      absl::StrFormat(",\"db_cpu_us_per_call\":%.2f", r.db_cpu_us_per_call),
      ",\"calls\":", r.calls, ",\"errors\":", r.errors,
      ",\"qps_ratios\":", JsonArray(summary.qps_ratios), ",\"rounds\":[",
      per_round, "]}");
}

// --compare_addr: health and each wanted scenario on `first` and on a second
// server, in alternating slices. Prints a table and JSON; returns the exit
// code.
int CompareServers(ScenarioClient& first,
                   const std::vector<std::string>& wanted,
                   const std::string& key) {
  ScenarioClient second(absl::GetFlag(FLAGS_compare_addr),
                        absl::GetFlag(FLAGS_channels), key);
  if (!second.Seed(absl::GetFlag(FLAGS_compare_seed)) ||
      (Wanted("sign_in_totp", wanted) &&
       !second.PrepareTotpUsers(absl::GetFlag(FLAGS_totp_users)))) {
    return 1;
  }
  const int pairs = std::max(1, absl::GetFlag(FLAGS_slice_pairs));
  const absl::Duration slice = absl::GetFlag(FLAGS_slice);
  // Scenarios() lists the same names in the same order on every client.
  auto ours = first.Scenarios();
  auto theirs = second.Scenarios();
  std::cout << absl::StrFormat("%-15s %10s %10s %7s %13s %8s %8s\n", "scenario",
                               "A calls/s", "B calls/s", "B/A", "slices",
                               "A cpu µs", "B cpu µs");
  std::string json = absl::StrCat(
      "{\"inflight\":", absl::GetFlag(FLAGS_inflight),
      ",\"slice_pairs\":", pairs, ",\"slice_s\":", absl::ToDoubleSeconds(slice),
      ",\"compare\":[");
  bool failed = false;
  for (size_t i = 0; i < ours.size(); ++i) {
    const std::string& name = ours[i].first;
    if (!Wanted(name, wanted)) {
      continue;
    }
    std::cerr << "comparing " << name << "…\n";
    const Interleaved run = DriveInterleaved(
        name, ours[i].second, absl::GetFlag(FLAGS_server_pid), theirs[i].second,
        absl::GetFlag(FLAGS_compare_pid), absl::GetFlag(FLAGS_inflight), pairs,
        absl::GetFlag(FLAGS_warmup), absl::Milliseconds(200), slice);
    const double ratio = run.a.qps > 0 ? run.b.qps / run.a.qps : 0;
    const auto [low, high] =
        std::minmax_element(run.slice_ratios.begin(), run.slice_ratios.end());
    std::cout << absl::StrFormat(
        "%-15s %10.0f %10.0f %7.3f %6.2f–%-6.2f %8.1f %8.1f\n", name, run.a.qps,
        run.b.qps, ratio, *low, *high, run.a.cpu_us_per_call,
        run.b.cpu_us_per_call);
    absl::StrAppend(
        &json, json.back() == '[' ? "" : ",", "{\"name\":\"", name, "\"",
        absl::StrFormat(",\"qps\":%.1f,\"compare_qps\":%.1f,\"ratio\":%.4f",
                        run.a.qps, run.b.qps, ratio),
        ",\"slice_ratios\":", JsonArray(run.slice_ratios),
        absl::StrFormat(",\"p50_us\":%.1f,\"compare_p50_us\":%.1f",
                        run.a.p50_us, run.b.p50_us),
        absl::StrFormat(",\"cpu_us_per_call\":%.2f,\"compare_cpu_us_per_call\":"
                        "%.2f",
                        run.a.cpu_us_per_call, run.b.cpu_us_per_call),
        ",\"errors\":", run.a.errors, ",\"compare_errors\":", run.b.errors,
        "}");
    failed = failed || run.a.calls == 0 || run.b.calls == 0 ||
             (absl::GetFlag(FLAGS_max_errors) >= 0 &&
              run.a.errors + run.b.errors > absl::GetFlag(FLAGS_max_errors));
  }
  json += "]}\n";
  std::cout << json;
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_json_out)) << json;
  }
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A keep-alive connection the server has closed (after its 100 requests)
  // must fail the write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // The load generator shares the host's two cores with the server, so it
  // does not pay for absl::Mutex's deadlock detector (on in Debian's absl
  // build; `perf` put ~1 µs of each get_user call's client CPU in it), as
  // the server does not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::ParseCommandLine(argc, argv);
  const char* key = std::getenv("ROSTER_SECRET_KEY");
  if (key == nullptr) {
    std::cerr << "set ROSTER_SECRET_KEY\n";
    return 64;
  }
  ScenarioClient bench(absl::GetFlag(FLAGS_addr), absl::GetFlag(FLAGS_channels),
                       key);
  if (!absl::GetFlag(FLAGS_http_addr).empty()) {
    if (absl::GetFlag(FLAGS_inflight) > 6) {
      // The HTTP listener admits 8 connections per client address, and one
      // it closed (after 100 requests) counts a moment longer while its
      // replacement opens: 6 stay clear of that limit.
      std::cerr << "--http_addr needs --inflight of 6 or fewer\n";
      return 64;
    }
    bench.UseHttp(absl::GetFlag(FLAGS_http_addr),
                  absl::GetFlag(FLAGS_inflight));
  }
  if (!bench.Seed(absl::GetFlag(FLAGS_seed))) {
    return 1;
  }
  const std::vector<std::string> wanted =
      absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipEmpty());
  if (Wanted("sign_in_totp", wanted) &&
      !bench.PrepareTotpUsers(absl::GetFlag(FLAGS_totp_users))) {
    return 1;
  }
  if (!absl::GetFlag(FLAGS_compare_addr).empty()) {
    return CompareServers(bench, wanted, key);
  }
  const int workers =
      absl::GetFlag(FLAGS_hash_workers) > 0
          ? absl::GetFlag(FLAGS_hash_workers)
          : std::max(1,
                     static_cast<int>(std::thread::hardware_concurrency()) - 1);
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  const int db_pid = absl::GetFlag(FLAGS_db_pid);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);

  // Every round runs the same scenarios, health first, so that each ratio
  // pairs figures measured seconds apart.
  std::vector<std::vector<Result>> measured(static_cast<size_t>(rounds));
  std::vector<double> hash_seconds;  // Per round, timed just before sign_in.
  std::vector<double> sign_in_ratios;
  for (int round = 0; round < rounds; ++round) {
    for (auto& [name, issue] : bench.Scenarios()) {
      if (!Wanted(name, wanted)) {
        continue;
      }
      if (name == "sign_in") {
        hash_seconds.push_back(SettledSecondsPerHash(workers));
      }
      std::cerr << "running " << name
                << (rounds > 1 ? absl::StrCat(" (round ", round + 1, " of ",
                                              rounds, ")")
                               : "")
                << "…\n";
      measured[static_cast<size_t>(round)].push_back(
          Drive(name, issue, absl::GetFlag(FLAGS_inflight), warmup, duration,
                server_pid, db_pid));
      if (name == "sign_in" && hash_seconds.back() > 0) {
        const double capacity = workers / hash_seconds.back();
        sign_in_ratios.push_back(
            measured[static_cast<size_t>(round)].back().qps / capacity);
      }
    }
  }
  const std::vector<Summary> summaries = Summarize(measured);

  std::cout << absl::StrFormat(
      "%-15s %10s %7s %9s %9s %9s %9s %7s %9s%s\n", "scenario", "calls/s",
      "ratio", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "errors", "cpu µs",
      db_pid > 0 ? absl::StrFormat(" %9s", "db µs") : "");
  std::string json =
      absl::StrCat("{\"channels\":", absl::GetFlag(FLAGS_channels),
                   ",\"inflight\":", absl::GetFlag(FLAGS_inflight),
                   ",\"duration_s\":", absl::ToDoubleSeconds(duration),
                   ",\"seed\":", absl::GetFlag(FLAGS_seed),
                   ",\"rounds\":", rounds, ",\"scenarios\":[");
  for (size_t i = 0; i < summaries.size(); ++i) {
    const Result& r = summaries[i].median;
    std::cout << absl::StrFormat(
        "%-15s %10.0f %7.3f %9.0f %9.0f %9.0f %9.0f %7d %9.1f%s\n", r.name,
        r.qps, summaries[i].ratio_to_health, r.p50_us, r.p90_us, r.p99_us,
        r.p999_us, r.errors, r.cpu_us_per_call,
        db_pid > 0 ? absl::StrFormat(" %9.1f", r.db_cpu_us_per_call) : "");
    if (rounds > 1) {
      std::cout << "  ratio per round: "
                << absl::StrJoin(summaries[i].qps_ratios, " ",
                                 [](std::string* out, double v) {
                                   absl::StrAppend(out,
                                                   absl::StrFormat("%.3f", v));
                                 })
                << "\n";
    }
    if (!r.first_error.empty()) {
      std::cout << "  first error: " << r.first_error << "\n";
    }
    absl::StrAppend(&json, i == 0 ? "" : ",",
                    ScenarioJson(summaries[i], measured, i));
  }
  json += "]";
  // The browsers' protocols against gRPC, round by round (DESIGN §12).
  for (const char* over : {"get_me_connect", "get_me_grpc_web"}) {
    std::vector<double> ratios;
    for (const std::vector<Result>& round : measured) {
      double grpc_qps = 0, over_qps = 0;
      for (const Result& r : round) {
        grpc_qps = r.name == "get_me" ? r.qps : grpc_qps;
        over_qps = r.name == over ? r.qps : over_qps;
      }
      if (grpc_qps > 0 && over_qps > 0) {
        ratios.push_back(over_qps / grpc_qps);
      }
    }
    if (!ratios.empty()) {
      std::cout << absl::StrFormat(
          "%s: %.3f of get_me over gRPC (the median of each round's ratio)\n",
          over, Median(ratios));
      absl::StrAppend(&json, ",\"", over,
                      "_ratio\":", absl::StrFormat("%.4f", Median(ratios)));
    }
  }
  for (const Summary& summary : summaries) {
    if (summary.median.name != "sign_in" || hash_seconds.empty()) {
      continue;
    }
    const double per_hash = Median(hash_seconds);
    const double capacity = per_hash > 0 ? workers / per_hash : 0;
    std::cout << absl::StrFormat(
        "sign_in: %.1f/s against a hash pool of %d workers x %.1f ms per hash "
        "= %.1f/s (%.3f, the median of each round's ratio)\n",
        summary.median.qps, workers, per_hash * 1000, capacity,
        Median(sign_in_ratios));
    absl::StrAppend(
        &json, absl::StrFormat(",\"hash_ms\":%.2f", per_hash * 1000),
        ",\"hash_workers\":", workers,
        absl::StrFormat(",\"sign_in_capacity_per_s\":%.1f", capacity),
        absl::StrFormat(",\"sign_in_capacity_ratio\":%.4f",
                        Median(sign_in_ratios)),
        ",\"sign_in_capacity_ratios\":", JsonArray(sign_in_ratios));
  }
  if (absl::GetFlag(FLAGS_overload)) {
    std::map<std::string, Issue> issues;
    for (auto& [name, issue] : bench.Scenarios()) {
      issues[name] = issue;
    }
    const double per_hash = hash_seconds.empty()
                                ? SettledSecondsPerHash(workers)
                                : Median(hash_seconds);
    const double rate = per_hash > 0 ? 2 * workers / per_hash : 100;
    constexpr int kReaders = 8;
    std::cerr << "running get_user alone, then beside sign_in at " << rate
              << "/s…\n";
    const Result alone = Drive("get_user", issues["get_user"], kReaders, warmup,
                               duration, server_pid);
    OpenLoopOutcome offered;
    std::thread flood([&] {
      offered = OfferOpenLoop(issues["sign_in"], rate, warmup + duration);
    });
    const Result beside = Drive("get_user", issues["get_user"], kReaders,
                                warmup, duration, server_pid);
    flood.join();
    std::cout << absl::StrFormat(
        "overload: get_user p99 %.0f µs beside sign_in at %.0f/s, %.0f µs "
        "alone (%.2f); sign_in offered %d: %d ok, %d refused (p99 %.0f µs), "
        "%d other%s\n",
        beside.p99_us, rate, alone.p99_us,
        alone.p99_us > 0 ? beside.p99_us / alone.p99_us : 0, offered.offered,
        offered.ok, offered.refused, offered.refused_p99_us, offered.other,
        offered.first_other.empty() ? "" : " (" + offered.first_other + ")");
    absl::StrAppend(
        &json,
        ",\"overload\":{\"sign_in_rate\":", absl::StrFormat("%.1f", rate),
        ",\"readers\":", kReaders,
        ",\"get_user_p99_alone_us\":", absl::StrFormat("%.1f", alone.p99_us),
        ",\"get_user_p99_beside_us\":", absl::StrFormat("%.1f", beside.p99_us),
        ",\"offered\":", offered.offered, ",\"ok\":", offered.ok,
        ",\"refused\":", offered.refused,
        ",\"refused_p99_us\":", absl::StrFormat("%.1f", offered.refused_p99_us),
        ",\"other\":", offered.other, "}");
  }
  json += "}\n";
  std::cout << json;
  const std::string out = absl::GetFlag(FLAGS_json_out);
  if (!out.empty()) {
    std::ofstream(out) << json;
  }
  const int64_t max_errors = absl::GetFlag(FLAGS_max_errors);
  for (const auto& round : measured) {
    for (const Result& r : round) {
      if (max_errors >= 0 && r.errors > max_errors) {
        return 1;
      }
      if (r.calls == 0) {
        return 1;  // A scenario that completed nothing is broken.
      }
    }
  }
  return 0;
}

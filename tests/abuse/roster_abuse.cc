// roster-abuse [--seconds=N] [--quick]: runs every attack of attacks.cc, each
// on a fresh roster-server (ROSTER_SERVER_BINARY), and prints the table of
// docs/reliability.md ("Attacks without credentials"). Exits 1 when any
// target is missed. --quick (CI) runs each attack for 2 s and leaves the
// latency ratio unchecked: ctest runs other suites beside it (the readers'
// baseline alone then takes 0.5 s, not the attack's duration). --timing=N
// prints the sign-in timing of known and unknown identifiers instead.
// --legit_reader=KIND:PORT:CREDENTIAL[:MS] is the harness's own: a legitimate
// reader's process (harness.cc).
#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tests/abuse/abuse.h"

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    return 2;
  }
  double seconds = 10;
  bool quick = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
      seconds = 2;
    } else if (std::strncmp(argv[i], "--seconds=", 10) == 0) {
      seconds = std::atof(argv[i] + 10);
    } else if (std::strncmp(argv[i], "--timing=", 9) == 0) {
      return roster::abuse::PrintSignInTiming(std::atoi(argv[i] + 9)) ? 0 : 1;
    } else if (std::strncmp(argv[i], "--legit_reader=", 15) == 0) {
      return roster::abuse::RunLegitimateReader(argv[i] + 15);
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      only = argv[i] + 7;
    } else {
      std::cerr << "usage: roster-abuse [--quick] [--seconds=N] [--only=NAME] "
                   "[--timing=ROUNDS]\n";
      return 2;
    }
  }
  std::printf(
      "| attack | load offered (%.0f s) | peak RSS | disk | CPU: server, "
      "attacker (cores) | legit GetUser p99 alone → under (ratio) | signed-in "
      "GetMe p99 alone → under | outcome "
      "|\n|---|---|---|---|---|---|---|---|\n",
      seconds);
  int missed = 0;
  for (const auto& attack : roster::abuse::AllAttacks()) {
    if (!only.empty() && attack.name.find(only) == std::string::npos) {
      continue;
    }
    const roster::abuse::Outcome outcome = roster::abuse::RunAttack(
        attack, absl::Seconds(seconds), /*check_latency=*/!quick);
    const double ratio =
        outcome.legit_p99_alone_ms > 0
            ? outcome.legit_p99_under_ms / outcome.legit_p99_alone_ms
            : 0;
    std::printf(
        "| %s | %s | %.0f MiB | %+.1f MiB | %.2f, %.2f | %.2f → %.2f ms "
        "(%.1f×) | %.2f → %.2f ms | %s%s |\n",
        outcome.attack.c_str(), outcome.load.c_str(),
        static_cast<double>(outcome.peak_rss_kib) / 1024,
        static_cast<double>(outcome.disk_growth_bytes) / (1 << 20),
        outcome.server_cores, outcome.attacker_cores,
        outcome.legit_p99_alone_ms, outcome.legit_p99_under_ms, ratio,
        outcome.me_p99_alone_ms, outcome.me_p99_under_ms,
        outcome.result.c_str(), outcome.crashed ? "; CRASHED" : "");
    std::fflush(stdout);
    for (const auto& miss : outcome.missed) {
      std::fprintf(stderr, "MISSED (%s): %s\n", outcome.attack.c_str(),
                   miss.c_str());
      ++missed;
    }
  }
  std::fprintf(stderr, "%s\n",
               missed == 0 ? "every target met"
                           : absl::StrCat(missed, " targets missed").c_str());
  return missed == 0 ? 0 : 1;
}

// roster: the command-line client for roster-server.
//
//   roster [flags] GROUP VERB [REQUEST]
//
// REQUEST is a JSON object in the protobuf JSON mapping, "-" to read it from
// stdin, or a bare value for the request's first field. Output is JSON.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "client/cli.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "roster-server address.");
ABSL_FLAG(bool, tls, false, "Use TLS (system roots unless --ca_file).");
ABSL_FLAG(std::string, ca_file, "", "PEM roots to trust (implies --tls).");
ABSL_FLAG(std::string, cert_file, "",
          "PEM client certificate for mTLS (implies --tls).");
ABSL_FLAG(std::string, key_file, "", "PEM key of --cert_file.");
ABSL_FLAG(std::string, token, "",
          "Session token for `me` commands (default: $ROSTER_TOKEN).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30),
          "Deadline of each call (not of `events watch`).");
ABSL_FLAG(int64_t, after, 0, "events watch: resume after this sequence.");
ABSL_FLAG(int64_t, max_events, -1,
          "events watch: stop after this many events (-1: never).");
ABSL_FLAG(int32_t, batch, 500, "users import: users per ImportUsers call.");
ABSL_FLAG(bool, progress, true,
          "Progress lines on stderr during import and watch.");

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

void PrintCommands() {
  std::cerr << "commands:\n";
  for (const auto& [name, command] : roster::cli::Commands()) {
    std::cerr << "  roster " << name << "\n";
  }
  std::cerr << "BackendUsers commands use $ROSTER_SECRET_KEY; `me` commands "
               "use --token or $ROSTER_TOKEN.\nExit: 0 ok, the gRPC code of a "
               "failed call (5 NOT_FOUND, …), 64 usage, 65 some import lines "
               "failed.\n";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "roster [flags] GROUP [THING] VERB [REQUEST]; `roster help` lists "
      "commands");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty() || args[0] == "help") {
    PrintCommands();
    return args.empty() ? roster::cli::kExitUsage : 0;
  }
  if (args[0] == "health" && (args.size() == 1 || args[1] != "check")) {
    args.insert(args.begin() + 1, "check");
  }
  if (args.size() < 2) {
    PrintCommands();
    return roster::cli::kExitUsage;
  }
  const auto commands = roster::cli::Commands();
  // Most commands are GROUP VERB; a few name a thing inside a group
  // (`me totp create`).
  size_t words = 2;
  auto command = commands.end();
  if (args.size() >= 3) {
    command = commands.find(args[0] + " " + args[1] + " " + args[2]);
    words = 3;
  }
  if (command == commands.end()) {
    command = commands.find(args[0] + " " + args[1]);
    words = 2;
  }
  if (command == commands.end()) {
    std::cerr << "error: unknown command `" << args[0] << " " << args[1]
              << "`\n";
    PrintCommands();
    return roster::cli::kExitUsage;
  }
  roster::cli::Context context;
  auto& o = context.options;
  o.addr = absl::GetFlag(FLAGS_addr);
  o.tls = absl::GetFlag(FLAGS_tls);
  o.ca_file = absl::GetFlag(FLAGS_ca_file);
  o.cert_file = absl::GetFlag(FLAGS_cert_file);
  o.key_file = absl::GetFlag(FLAGS_key_file);
  o.secret_key = Env("ROSTER_SECRET_KEY");
  o.token = absl::GetFlag(FLAGS_token);
  if (o.token.empty()) {
    o.token = Env("ROSTER_TOKEN");
  }
  o.timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_timeout));
  o.progress = absl::GetFlag(FLAGS_progress);
  o.after = absl::GetFlag(FLAGS_after);
  o.max_events = absl::GetFlag(FLAGS_max_events);
  o.batch = absl::GetFlag(FLAGS_batch);
  if (o.batch < 1 || o.batch > 1000) {
    std::cerr << "error: --batch must be 1–1000\n";
    return roster::cli::kExitUsage;
  }
  if (!roster::cli::Connect(context)) {
    return roster::cli::kExitUsage;
  }
  return command->second(
      context,
      std::vector<std::string>(
          args.begin() + static_cast<std::ptrdiff_t>(words), args.end()));
}

// The roster CLI's plumbing: connection options, JSON in and out (the
// protobuf JSON mapping), readable errors, and the exit codes scripts test.
// client/ depends only on the generated stubs in roster_proto.
#ifndef ROSTER_CLIENT_CLI_H_
#define ROSTER_CLIENT_CLI_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace roster::cli {

// Exit codes: 0 success; a failed call exits with its gRPC status code
// (1–16, e.g. 5 NOT_FOUND, 6 ALREADY_EXISTS); kExitUsage for a bad command
// line or unparsable input; kExitPartial when some items of a bulk
// operation failed.
inline constexpr int kExitUsage = 64;
inline constexpr int kExitPartial = 65;

struct Options {
  std::string addr = "127.0.0.1:50051";
  bool tls = false;
  std::string ca_file;
  std::string cert_file;  // mTLS client certificate (with key_file).
  std::string key_file;
  std::string secret_key;  // ROSTER_SECRET_KEY: BackendUsers.
  std::string token;       // --token / ROSTER_TOKEN: FrontendUsers.
  std::chrono::milliseconds timeout{30000};
  bool progress = true;     // Progress lines on stderr for long operations.
  int64_t after = 0;        // events watch: resume after this sequence.
  int64_t max_events = -1;  // events watch: stop after this many (-1: never).
  int batch = 500;          // users import: users per ImportUsers call.
};

// Which credential a call carries.
enum class Auth { kNone, kSecretKey, kToken };

// Everything a command needs: the channel and the options.
struct Context {
  Options options;
  std::shared_ptr<grpc::Channel> channel;
  // A client context with the command's credential and deadline.
  std::unique_ptr<grpc::ClientContext> NewCall(Auth auth,
                                               bool deadline = true) const;
};

// A command: the arguments after "GROUP VERB"; returns the exit code.
using Command =
    std::function<int(const Context&, const std::vector<std::string>& args)>;

// Fills `message` from `input`: a JSON object (protobuf JSON mapping,
// proto or camelCase names), "-" for stdin, or, when it does not start with
// "{", a bare value for the message's first field (a `user_id`, …). Empty
// input leaves the message empty. False (and a message on stderr) on error.
bool ParseInput(const std::string& input, google::protobuf::Message& message);
// `message` as one line of JSON on stdout.
void PrintJson(const google::protobuf::Message& message, bool pretty);
// Prints a failed call to stderr (code, reason, field violations) and
// returns its exit code; 0 for OK.
int Report(const grpc::Status& status);
// Opens the channel for `options`; false (with a message) on bad TLS files.
bool Connect(Context& context);

// The commands, keyed "group verb".
std::map<std::string, Command> Commands();

}  // namespace roster::cli

#endif  // ROSTER_CLIENT_CLI_H_

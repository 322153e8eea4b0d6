// The roster CLI against a real server: JSON in and out, readable errors,
// exit codes, bulk import with per-line failures, watch, and `me` commands.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/domain/data_keys.h"
#include "tests/testing/binaries.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::kTestSecretKey;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  // Runs `roster --addr=<server> <args>` through the shell (args are
  // shell words: quote JSON with single quotes).
  Result Roster(const std::string& args, const std::string& env = "") {
    const std::string out = dir_.File("out"), err = dir_.File("err");
    const std::string command =
        absl::StrCat("ROSTER_SECRET_KEY=", kTestSecretKey, " ", env, " ",
                     ::roster::testing::CliBinary(),
                     " --addr=127.0.0.1:", server_.server().port(),
                     " --progress=false ", args, " >", out, " 2>", err);
    const int status = std::system(command.c_str());
    Result result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = Read(out);
    result.err = Read(err);
    return result;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The value of a top-level string field in one line of JSON output.
  static std::string Field(const std::string& json, const std::string& name) {
    const std::string key = "\"" + name + "\":\"";
    const size_t start = json.find(key);
    if (start == std::string::npos) {
      return "";
    }
    const size_t from = start + key.size();
    return json.substr(from, json.find('"', from) - from);
  }

  // A user with a password, for the sign-in walk-throughs.
  void CreateUserRequestForCli() {
    Result created = Roster(
        "users create '{\"email_addresses\":[\"totp@example.com\"],"
        "\"password\":\"correct horse battery\"}'");
    ASSERT_EQ(created.exit_code, 0) << created.err;
    user_id_ = Field(created.out, "id");
  }

  TempDir dir_;
  std::string user_id_;
  TestServer server_{[](app::ServerConfig& config) {
    config.data_keys = domain::DataKeys::NewFile();  // For `me totp`.
  }};
};

TEST_F(CliTest, CreatesGetsAndReportsErrorsWithExitCodes) {
  Result created = Roster(
      "users create '{\"email_addresses\":[\"cli@example.com\"],"
      "\"firstName\":\"Cli\"}'");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = Field(created.out, "id");
  ASSERT_THAT(id, ::testing::StartsWith("user_"));
  EXPECT_EQ(Field(created.out, "first_name"), "Cli");

  Result fetched = Roster("users get " + id);  // A bare id is user_id.
  EXPECT_EQ(fetched.exit_code, 0) << fetched.err;
  EXPECT_EQ(Field(fetched.out, "id"), id);

  Result missing = Roster("users get user_000000000000000000000000000");
  EXPECT_EQ(missing.exit_code, 5);  // NOT_FOUND
  EXPECT_THAT(missing.err, HasSubstr("error: NOT_FOUND"));

  Result invalid = Roster("users create '{\"email_addresses\":[\"nope\"]}'");
  EXPECT_EQ(invalid.exit_code, 3);  // INVALID_ARGUMENT
  EXPECT_THAT(invalid.err, HasSubstr("INVALID_ARGUMENT_FORMAT"));
  EXPECT_THAT(invalid.err, HasSubstr("  email_addresses[0]: "));

  EXPECT_EQ(Roster("users get '{broken'").exit_code, 64);
  EXPECT_EQ(Roster("users frobnicate").exit_code, 64);
  EXPECT_EQ(Roster("users get " + id, "ROSTER_SECRET_KEY=wrong").exit_code,
            16);  // UNAUTHENTICATED
  Result health = Roster("health");
  EXPECT_EQ(health.exit_code, 0);
  EXPECT_THAT(health.out, HasSubstr("SERVING"));
}

TEST_F(CliTest, ListsMergesMetadataAndReadsRequestsFromStdin) {
  Result created = Roster(
      "users create '{\"email_addresses\":[\"m@example.com\"],"
      "\"public_metadata\":{\"plan\":\"free\",\"seats\":1}}'");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = Field(created.out, "id");
  Result merged = Roster("users merge-metadata '{\"user_id\":\"" + id +
                         "\",\"public_metadata\":{\"plan\":null,"
                         "\"seats\":5}}'");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_THAT(merged.out, HasSubstr("\"public_metadata\":{\"seats\":5}"));
  std::ofstream(dir_.File("list.json"))
      << "{\"email_addresses\":[\"m@example.com\"]}";
  Result listed = Roster("users list - <" + dir_.File("list.json"));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("\"total_count\":\"1\""));
  EXPECT_EQ(Field(listed.out, "id"), id);
  Result counted = Roster("users count");
  EXPECT_EQ(counted.exit_code, 0);
  EXPECT_THAT(counted.out, HasSubstr("\"total_count\":\"1\""));
}

TEST_F(CliTest, ImportReportsEachFailedLineAndWatchPrintsEvents) {
  std::ofstream(dir_.File("users.jsonl"))
      << "{\"email_addresses\":[\"a@example.com\"]}\n"
      << "\n"
      << "{\"email_addresses\":[\"a@example.com\"]}\n"
      << "not json\n"
      << "{\"email_addresses\":[\"b@example.com\"],\"username\":\"bee_b\"}\n";
  Result imported = Roster(
      absl::StrCat("users import ", dir_.File("users.jsonl"), " --batch=2"));
  EXPECT_EQ(imported.exit_code, 65) << imported.err;
  EXPECT_THAT(imported.out, HasSubstr("{\"imported\":2,\"failed\":2}"));
  EXPECT_THAT(imported.err, HasSubstr("line 3: error: ALREADY_EXISTS"));
  EXPECT_THAT(imported.err, HasSubstr("line 4: not a CreateUserRequest"));

  Result watched = Roster("events watch --after=0 --max_events=2 user.created");
  EXPECT_EQ(watched.exit_code, 0) << watched.err;
  std::istringstream lines(watched.out);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    EXPECT_EQ(Field(line, "type"), "user.created");
    ++count;
  }
  EXPECT_EQ(count, 2);
}

TEST_F(CliTest, MeCommandsUseTheSessionToken) {
  Result created =
      Roster("users create '{\"email_addresses\":[\"me@example.com\"]}'");
  ASSERT_EQ(created.exit_code, 0);
  Result session = Roster("sessions create " + Field(created.out, "id"));
  ASSERT_EQ(session.exit_code, 0) << session.err;
  const std::string token = Field(session.out, "session_token");
  ASSERT_FALSE(token.empty());
  Result me = Roster("me get --token=" + token);
  EXPECT_EQ(me.exit_code, 0) << me.err;
  EXPECT_EQ(Field(me.out, "id"), Field(created.out, "id"));
  EXPECT_THAT(me.out, ::testing::Not(HasSubstr("private_metadata")));
  Result from_env = Roster("me get", "ROSTER_TOKEN=" + token);
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_EQ(Roster("me get").exit_code, 16);
}

TEST_F(CliTest, ASignUpCompletesFromTheCommandLine) {
  Result created = Roster(
      "signups create "
      "'{\"email_address\":\"cli@example.com\",\"password\":\"correct "
      "horse battery\"}'");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = Field(created.out, "id");
  ASSERT_TRUE(absl::StartsWith(id, "su_")) << created.out;
  Result prepared =
      Roster(absl::StrCat("signups prepare '{\"sign_up_id\":\"", id,
                          "\",\"strategy\":\"email_code\"}'"));
  ASSERT_EQ(prepared.exit_code, 0) << prepared.err;
  Result mail = Roster("events watch --after=0 --max_events=1 email.created");
  ASSERT_EQ(mail.exit_code, 0) << mail.err;
  const std::string code = Field(mail.out, "code");
  ASSERT_EQ(code.size(), 6u) << mail.out;
  Result done = Roster(absl::StrCat("signups attempt '{\"sign_up_id\":\"", id,
                                    "\",\"strategy\":\"email_code\","
                                    "\"code\":\"",
                                    code, "\"}'"));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  Result me = Roster("me get --token=" + Field(done.out, "session_token"));
  EXPECT_EQ(me.exit_code, 0) << me.err;
  EXPECT_THAT(me.out, HasSubstr("cli@example.com"));
}

// The README's second-factor walk-through: an app enrolled from the command
// line, its codes from oathtool, and a sign-in that asks for one.
TEST_F(CliTest, ATotpSignInFromTheCommandLine) {
  CreateUserRequestForCli();
  Result signed_in = Roster(
      "me sign-in '{\"identifier\":\"totp@example.com\",\"password\":"
      "\"correct horse battery\"}'");
  ASSERT_EQ(signed_in.exit_code, 0) << signed_in.err;
  const std::string token = Field(signed_in.out, "session_token");
  Result created = Roster("me totp create --token=" + token);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string secret = Field(created.out, "secret");
  ASSERT_EQ(secret.size(), 32u) << created.out;
  EXPECT_THAT(created.out,
              HasSubstr("otpauth://totp/Roster:totp%40example.com"));
  const auto code_at = [&](absl::Duration from_now) {
    Result code = Result();
    const std::string command =
        absl::StrCat("oathtool --totp -b --now @",
                     absl::ToUnixSeconds(server_.Now() + from_now), " ", secret,
                     " >", dir_.File("code"));
    EXPECT_EQ(std::system(command.c_str()), 0) << "oathtool (bootstrap.sh)";
    return std::string(absl::StripAsciiWhitespace(Read(dir_.File("code"))));
  };
  Result verified =
      Roster(absl::StrCat("me totp verify --token=", token, " '{\"code\":\"",
                          code_at(absl::ZeroDuration()), "\"}'"));
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_THAT(verified.out, HasSubstr("\"verified\":true"));

  Result first = Roster(
      "me sign-in '{\"identifier\":\"totp@example.com\",\"password\":"
      "\"correct horse battery\"}'");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("STATUS_NEEDS_SECOND_FACTOR"));
  EXPECT_EQ(Field(first.out, "session_token"), "");
  const std::string attempt = Field(first.out, "id");
  ASSERT_TRUE(absl::StartsWith(attempt, "sia_")) << first.out;
  Result done =
      Roster(absl::StrCat("signin attempt '{\"sign_in_attempt_id\":\"", attempt,
                          "\",\"strategy\":\"totp\",\"code\":\"",
                          code_at(absl::Seconds(30)), "\"}'"));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_THAT(done.out, HasSubstr("STATUS_COMPLETE"));
  EXPECT_NE(Field(done.out, "session_token"), "");
  // A backend removes the app for a user who lost it.
  Result disabled = Roster("users disable-mfa " + user_id_);
  ASSERT_EQ(disabled.exit_code, 0) << disabled.err;
  EXPECT_THAT(disabled.out, Not(HasSubstr("\"twoFactorEnabled\":true")));
  EXPECT_THAT(disabled.out, Not(HasSubstr("\"two_factor_enabled\":true")));
}

}  // namespace
}  // namespace roster

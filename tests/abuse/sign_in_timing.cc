// roster-abuse --timing: whether a sign-in's answer or its time tells a known
// identifier from one no user holds. Each row's known and unknown calls are
// interleaved, one at a time, on the same server.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/abuse/abuse.h"
#include "tests/testing/error_details.h"

namespace roster::abuse {
namespace {

using namespace roster::v1;  // NOLINT: the API being timed.

// The median and p99 of `samples`, in ms.
std::pair<double, double> MedianAndP99(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2],
          samples[std::min(samples.size() - 1, samples.size() * 99 / 100)]};
}

// Samples per row and identifier kind, and a count of every answer.
class Timings {
 public:
  // Times `call` (returning a grpc::Status) as a sample of `row`.
  template <typename Call>
  void Time(const std::string& row, bool is_known, Call call) {
    if (samples_.find(row) == samples_.end()) {
      rows_.push_back(row);
    }
    const auto started = std::chrono::steady_clock::now();
    const grpc::Status status = call();
    const std::chrono::duration<double, std::milli> took =
        std::chrono::steady_clock::now() - started;
    samples_[row][is_known ? 0 : 1].push_back(took.count());
    ++answers_by_kind_[row][is_known ? 0 : 1][absl::StrCat(
        status.error_code(), " ", testing::ReasonOf(status))];
    ++answers_[absl::StrCat(
        row, is_known ? ", known: " : ", unknown: ", status.error_code(), " ",
        testing::ReasonOf(status))];
  }

  // Whether every row's known and unknown calls got the same answers, as
  // often; prints each row that did not.
  bool AnswersMatch() const {
    bool match = true;
    for (const auto& [row, by_kind] : answers_by_kind_) {
      if (by_kind[0] != by_kind[1]) {
        std::printf("MISMATCH: %s answers known and unknown differently\n",
                    row.c_str());
        match = false;
      }
    }
    return match;
  }

  void Print() const {
    std::printf(
        "| call | identifier | calls | median | p99 "
        "|\n|---|---|---|---|---|\n");
    for (const std::string& row : rows_) {
      for (int kind = 0; kind < 2; ++kind) {
        const std::vector<double>& samples = samples_.at(row)[kind];
        if (samples.empty()) {
          continue;
        }
        const auto [median, p99] = MedianAndP99(samples);
        std::printf("| %s | %s | %zu | %.2f ms | %.2f ms |\n", row.c_str(),
                    kind == 0 ? "known" : "unknown", samples.size(), median,
                    p99);
      }
    }
    for (const auto& [answer, n] : answers_) {
      std::printf("answer %s: %d\n", answer.c_str(), n);
    }
  }

 private:
  std::vector<std::string> rows_;  // In the order first timed.
  std::map<std::string, std::vector<double>[2]> samples_;
  std::map<std::string, int> answers_;
  std::map<std::string, std::map<std::string, int>[2]> answers_by_kind_;
};

// Flags that keep every rate limit out of the way; the lockout is the
// caller's to set.
std::vector<std::string> LimitsOutOfTheWay(int lockout_attempts) {
  return {absl::StrCat("--lockout_attempts=", lockout_attempts),
          "--sign_in_failures_per_identifier=1000000",
          "--sign_in_failures_per_address=1000000",
          "--sign_in_attempts_per_address_per_hour=1000000",
          "--codes_per_hour=1000000"};
}

grpc::Status WrongSignIn(FrontendUsers::Stub& stub,
                         const std::string& identifier) {
  SignInRequest sign_in;
  sign_in.set_identifier(identifier);
  sign_in.set_password("a wrong password");
  SignInResponse response;
  return stub.SignIn(Context(false).get(), sign_in, &response);
}

// Every wrong factor, with no lockout in reach.
bool TimeFactors(int rounds, Timings& timings) {
  Target target(LimitsOutOfTheWay(1000000));
  if (!target.ok()) {
    return false;
  }
  // One known user per round for the code factors: an address gets 5 codes
  // an hour, known or not, and each round sends one.
  target.CreateUser("known@abuse.example", "the known password");
  for (int i = 0; i < rounds; ++i) {
    target.CreateUser(absl::StrCat("known", i, "@abuse.example"), "");
  }
  auto stub = FrontendUsers::NewStub(target.NewChannel());
  for (int i = 0; i < rounds * 2; ++i) {
    const bool is_known = i % 2 == 0;
    const std::string password_identifier =
        is_known ? "known@abuse.example" : RandomHex(8) + "@abuse.example";
    const std::string code_identifier =
        is_known ? absl::StrCat("known", i / 2, "@abuse.example")
                 : RandomHex(8) + "@abuse.example";
    timings.Time("SignIn, wrong password", is_known,
                 [&] { return WrongSignIn(*stub, password_identifier); });
    for (const std::string& identifier :
         {password_identifier, code_identifier}) {
      StartSignInRequest start;
      start.set_identifier(identifier);
      SignInAttempt attempt;
      if (!stub->StartSignIn(Context(false).get(), start, &attempt).ok()) {
        return false;
      }
      if (identifier == password_identifier) {
        timings.Time("AttemptSignInFactor, wrong password", is_known, [&] {
          AttemptSignInFactorRequest request;
          request.set_sign_in_attempt_id(attempt.id());
          request.set_strategy("password");
          request.set_password("a wrong password");
          SignInResponse response;
          return stub->AttemptSignInFactor(Context(false).get(), request,
                                           &response);
        });
        continue;
      }
      timings.Time("PrepareSignInFactor, email_code", is_known, [&] {
        PrepareSignInFactorRequest request;
        request.set_sign_in_attempt_id(attempt.id());
        request.set_strategy("email_code");
        SignInAttempt response;
        return stub->PrepareSignInFactor(Context(false).get(), request,
                                         &response);
      });
      timings.Time("AttemptSignInFactor, wrong code", is_known, [&] {
        AttemptSignInFactorRequest request;
        request.set_sign_in_attempt_id(attempt.id());
        request.set_strategy("email_code");
        request.set_code("000000");  // Wrong but once in a million rounds.
        SignInResponse response;
        return stub->AttemptSignInFactor(Context(false).get(), request,
                                         &response);
      });
    }
  }
  return true;
}

// The lockout: with --lockout_attempts=1 every first wrong password is the
// one that locks (a known user's lock is a user.updated write, an unknown
// identifier's a sign_in_failures row), and the next is refused unchecked.
// One fresh user with a password per round, so each is locked once.
bool TimeLockout(int rounds, Timings& timings) {
  Target target(LimitsOutOfTheWay(1));
  if (!target.ok()) {
    return false;
  }
  for (int i = 0; i < rounds; ++i) {
    if (target
            .CreateUser(absl::StrCat("locked", i, "@abuse.example"),
                        "the known password")
            .empty()) {
      return false;
    }
  }
  auto stub = FrontendUsers::NewStub(target.NewChannel());
  for (int i = 0; i < rounds * 2; ++i) {
    const bool is_known = i % 2 == 0;
    const std::string identifier =
        is_known ? absl::StrCat("locked", i / 2, "@abuse.example")
                 : RandomHex(8) + "@abuse.example";
    timings.Time("SignIn, the wrong password that locks", is_known,
                 [&] { return WrongSignIn(*stub, identifier); });
    timings.Time("SignIn, while locked", is_known,
                 [&] { return WrongSignIn(*stub, identifier); });
  }
  return true;
}

}  // namespace

bool PrintSignInTiming(int rounds) {
  Timings timings;
  if (!TimeFactors(rounds, timings) || !TimeLockout(rounds, timings)) {
    return false;
  }
  timings.Print();
  return timings.AnswersMatch();
}

}  // namespace roster::abuse

#include "tests/bench/totp_users.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/domain/passwords.h"
#include "server/domain/totp.h"

namespace roster::bench {
namespace {

std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(60));
  context->AddMetadata("authorization", "Bearer " + bearer);
  return context;
}

absl::Status Failed(const char* what, const grpc::Status& status) {
  return absl::InternalError(absl::StrCat(what, ": ", status.error_message()));
}

}  // namespace

absl::Status TotpUserPool::Prepare(roster::v1::BackendUsers::Stub& backend,
                                   roster::v1::FrontendUsers::Stub& frontend,
                                   const std::string& key,
                                   const std::string& password, int count,
                                   const std::string& tag) {
  auto digest = domain::HashPassword(password);
  if (!digest.ok()) {
    return digest.status();
  }
  for (int first = 0; first < count; first += 1000) {
    roster::v1::ImportUsersRequest batch;
    for (int i = first; i < std::min(count, first + 1000); ++i) {
      auto* user = batch.add_users();
      user->add_email_addresses(
          absl::StrCat("totp", tag, "x", i, "@bench.example"));
      user->set_password_digest(*digest);
      user->set_password_hasher("argon2id");
    }
    roster::v1::ImportUsersResponse imported;
    grpc::Status status =
        backend.ImportUsers(Context(key).get(), batch, &imported);
    if (!status.ok()) {
      return Failed("importing the TOTP users", status);
    }
    for (const auto& result : imported.results()) {
      if (!result.has_user()) {
        return absl::InternalError("a TOTP user was not imported");
      }
      User user;
      user.email = result.user().email_addresses(0).email_address();
      roster::v1::CreateSessionRequest session_request;
      session_request.set_user_id(result.user().id());
      roster::v1::CreateSessionResponse session;
      status =
          backend.CreateSession(Context(key).get(), session_request, &session);
      if (!status.ok()) {
        return Failed("creating a session", status);
      }
      roster::v1::Totp totp;
      status = frontend.CreateMyTotp(Context(session.session_token()).get(),
                                     roster::v1::CreateMyTotpRequest(), &totp);
      if (!status.ok()) {
        return Failed("CreateMyTotp (is --data_keys_file set?)", status);
      }
      user.secret = domain::Base32Decode(totp.secret()).value_or("");
      auto verify_with = [&](int64_t step) {
        user.last_step = step;
        roster::v1::VerifyMyTotpRequest verify;
        verify.set_code(domain::TotpCode(user.secret, step));
        return frontend.VerifyMyTotp(Context(session.session_token()).get(),
                                     verify, &totp);
      };
      // Enrol with the window's oldest step: the two after it stay usable.
      // If a new step began on the way, that step left the window: enrol
      // with the current one instead.
      const int64_t step = domain::TotpStepAt(absl::Now());
      status = verify_with(step - 1);
      if (const int64_t now = domain::TotpStepAt(absl::Now());
          !status.ok() && now > step) {
        status = verify_with(now);
      }
      if (!status.ok()) {
        return Failed("VerifyMyTotp", status);
      }
      users_.push_back(std::move(user));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TotpUserPool::Turn> TotpUserPool::Next(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (users_.empty()) {
    return absl::FailedPreconditionError("no TOTP users were prepared");
  }
  User& user = users_[next_++ % users_.size()];
  // Never the window's oldest step: the call may reach the server after the
  // step rolls over, up to a queued sign-in's second later.
  const int64_t step = std::max(user.last_step + 1, domain::TotpStepAt(now));
  if (step > domain::TotpStepAt(now) + 1) {
    return absl::ResourceExhaustedError(
        "every TOTP user has used this window's steps: raise --totp_users");
  }
  user.last_step = step;
  return Turn{user.email, domain::TotpCode(user.secret, step)};
}

}  // namespace roster::bench

// The roster CLI's commands: one per RPC of BackendUsers and FrontendUsers,
// plus health, a JSON Lines bulk import and an event watcher. Each unary
// command reads its request (see ParseInput), calls the generated stub with a
// deadline and prints the response as JSON.
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cli.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"

namespace roster::cli {
namespace {

using roster::v1::BackendUsers;
using roster::v1::FrontendUsers;

// A command calling `method` on a stub of `Service`.
template <typename Service, typename Request, typename Response>
Command Unary(grpc::Status (Service::Stub::*method)(grpc::ClientContext*,
                                                    const Request&, Response*),
              Auth auth) {
  return [method, auth](const Context& context,
                        const std::vector<std::string>& args) {
    if (args.size() > 1) {
      std::cerr << "error: give one request (JSON, a bare id, or -)\n";
      return kExitUsage;
    }
    Request request;
    if (!ParseInput(args.empty() ? "" : args[0], request)) {
      return kExitUsage;
    }
    auto stub = Service::NewStub(context.channel);
    Response response;
    const grpc::Status status =
        ((*stub).*method)(context.NewCall(auth).get(), request, &response);
    if (!status.ok()) {
      return Report(status);
    }
    PrintJson(response, /*pretty=*/false);
    return 0;
  };
}

template <typename Request, typename Response>
Command Backend(grpc::Status (BackendUsers::Stub::*method)(grpc::ClientContext*,
                                                           const Request&,
                                                           Response*)) {
  return Unary<BackendUsers>(method, Auth::kSecretKey);
}

template <typename Request, typename Response>
Command Me(grpc::Status (FrontendUsers::Stub::*method)(grpc::ClientContext*,
                                                       const Request&,
                                                       Response*)) {
  return Unary<FrontendUsers>(method, Auth::kToken);
}

// `events watch [TYPE…]` (--after, --max_events): one JSON line per event
// until interrupted, the stream ends, or max_events arrived.
int Watch(const Context& context, const std::vector<std::string>& args) {
  roster::v1::WatchEventsRequest request;
  request.set_after_sequence(context.options.after);
  for (const auto& type : args) {
    request.add_types(type);
  }
  const int64_t max_events = context.options.max_events;
  auto stub = BackendUsers::NewStub(context.channel);
  auto call = context.NewCall(Auth::kSecretKey, /*deadline=*/false);
  auto reader = stub->WatchEvents(call.get(), request);
  roster::v1::Event event;
  int64_t seen = 0;
  absl::Time last_progress = absl::Now();
  while (max_events != 0 && reader->Read(&event)) {
    PrintJson(event, /*pretty=*/false);
    std::cout.flush();
    ++seen;
    if (max_events > 0 && seen == max_events) {
      call->TryCancel();
      break;
    }
    if (context.options.progress &&
        absl::Now() - last_progress > absl::Seconds(1)) {
      std::cerr << "watching: " << seen << " events, last sequence "
                << event.sequence() << "\n";
      last_progress = absl::Now();
    }
  }
  const grpc::Status status = reader->Finish();
  if (max_events > 0 && seen == max_events) {
    return 0;
  }
  return Report(status);
}

// `users import FILE.jsonl` (--batch): one CreateUserRequest per line, sent
// in ImportUsers batches; every failed line is reported with its number.
int Import(const Context& context, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "usage: roster users import FILE.jsonl [--batch N]\n";
    return kExitUsage;
  }
  const size_t batch_size = static_cast<size_t>(context.options.batch);
  std::ifstream in(args[0]);
  if (!in) {
    std::cerr << "error: cannot read " << args[0] << "\n";
    return kExitUsage;
  }
  auto stub = BackendUsers::NewStub(context.channel);
  int64_t line_number = 0, imported = 0, failed = 0;
  std::vector<int64_t> lines;  // The file line of each batch item.
  roster::v1::ImportUsersRequest request;
  auto flush = [&]() -> int {
    if (request.users_size() == 0) {
      return 0;
    }
    roster::v1::ImportUsersResponse response;
    const grpc::Status status = stub->ImportUsers(
        context.NewCall(Auth::kSecretKey).get(), request, &response);
    if (!status.ok()) {
      return Report(status);
    }
    for (int i = 0; i < response.results_size(); ++i) {
      const auto& result = response.results(i);
      if (result.status().code() == 0) {
        ++imported;
        continue;
      }
      ++failed;
      std::cerr << "line " << lines[static_cast<size_t>(i)] << ": ";
      Report(grpc::Status(static_cast<grpc::StatusCode>(result.status().code()),
                          result.status().message(),
                          result.status().SerializeAsString()));
    }
    if (context.options.progress) {
      std::cerr << "imported " << imported << ", failed " << failed
                << ", lines read " << line_number << "\n";
    }
    request.clear_users();
    lines.clear();
    return 0;
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    roster::v1::CreateUserRequest user;
    if (line.front() != '{' || !ParseInput(line, user)) {
      std::cerr << "line " << line_number << ": not a CreateUserRequest\n";
      ++failed;
      continue;
    }
    *request.add_users() = std::move(user);
    lines.push_back(line_number);
    if (static_cast<size_t>(request.users_size()) == batch_size) {
      const int code = flush();
      if (code != 0) {
        return code;
      }
    }
  }
  const int code = flush();
  if (code != 0) {
    return code;
  }
  std::cout << "{\"imported\":" << imported << ",\"failed\":" << failed
            << "}\n";
  return failed == 0 ? 0 : kExitPartial;
}

int Health(const Context& context, const std::vector<std::string>& args) {
  grpc::health::v1::HealthCheckRequest request;
  if (!args.empty()) {
    request.set_service(args[0]);
  }
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status =
      grpc::health::v1::Health::NewStub(context.channel)
          ->Check(context.NewCall(Auth::kNone).get(), request, &response);
  if (!status.ok()) {
    return Report(status);
  }
  PrintJson(response, /*pretty=*/false);
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : static_cast<int>(grpc::StatusCode::UNAVAILABLE);
}

}  // namespace

std::map<std::string, Command> Commands() {
  using S = BackendUsers::Stub;
  using F = FrontendUsers::Stub;
  return {
      {"users create", Backend(&S::CreateUser)},
      {"users get", Backend(&S::GetUser)},
      {"users list", Backend(&S::ListUsers)},
      {"users count", Backend(&S::CountUsers)},
      {"users update", Backend(&S::UpdateUser)},
      {"users merge-metadata", Backend(&S::UpdateUserMetadata)},
      {"users replace-metadata", Backend(&S::ReplaceUserMetadata)},
      {"users delete", Backend(&S::DeleteUser)},
      {"users ban", Backend(&S::BanUser)},
      {"users unban", Backend(&S::UnbanUser)},
      {"users lock", Backend(&S::LockUser)},
      {"users unlock", Backend(&S::UnlockUser)},
      {"users set-image", Backend(&S::SetProfileImage)},
      {"users delete-image", Backend(&S::DeleteProfileImage)},
      {"users verify-password", Backend(&S::VerifyPassword)},
      {"users import", Import},
      {"emails create", Backend(&S::CreateEmailAddress)},
      {"emails get", Backend(&S::GetEmailAddress)},
      {"emails update", Backend(&S::UpdateEmailAddress)},
      {"emails delete", Backend(&S::DeleteEmailAddress)},
      {"phones create", Backend(&S::CreatePhoneNumber)},
      {"phones get", Backend(&S::GetPhoneNumber)},
      {"phones update", Backend(&S::UpdatePhoneNumber)},
      {"phones delete", Backend(&S::DeletePhoneNumber)},
      {"external-accounts create", Backend(&S::CreateExternalAccount)},
      {"external-accounts delete", Backend(&S::DeleteExternalAccount)},
      {"sessions create", Backend(&S::CreateSession)},
      {"sessions list", Backend(&S::ListSessions)},
      {"sessions revoke", Backend(&S::RevokeSession)},
      {"events list", Backend(&S::ListEvents)},
      {"invitations create", Backend(&S::CreateInvitation)},
      {"invitations list", Backend(&S::ListInvitations)},
      {"invitations revoke", Backend(&S::RevokeInvitation)},
      {"users disable-mfa", Backend(&S::DisableUserMfa)},
      {"users delete-totp", Backend(&S::DeleteUserTotp)},
      {"users delete-backup-codes", Backend(&S::DeleteUserBackupCodes)},
      {"events watch", Watch},
      {"me sign-in", Unary<FrontendUsers>(&F::SignIn, Auth::kNone)},
      {"me refresh-token",
       Unary<FrontendUsers>(&F::RefreshSessionToken, Auth::kNone)},
      {"me jwks", Unary<FrontendUsers>(&F::GetJwks, Auth::kNone)},
      {"me get", Me(&F::GetMe)},
      {"me update", Me(&F::UpdateMe)},
      {"me merge-metadata", Me(&F::UpdateMyMetadata)},
      {"me delete", Me(&F::DeleteMe)},
      {"me change-password", Me(&F::ChangeMyPassword)},
      {"me remove-password", Me(&F::RemoveMyPassword)},
      {"me add-email", Me(&F::CreateMyEmailAddress)},
      {"me delete-email", Me(&F::DeleteMyEmailAddress)},
      {"me prepare-email", Me(&F::PrepareEmailAddressVerification)},
      {"me attempt-email", Me(&F::AttemptEmailAddressVerification)},
      {"me add-phone", Me(&F::CreateMyPhoneNumber)},
      {"me delete-phone", Me(&F::DeleteMyPhoneNumber)},
      {"me update-phone", Me(&F::UpdateMyPhoneNumber)},
      {"me prepare-phone", Me(&F::PreparePhoneNumberVerification)},
      {"me attempt-phone", Me(&F::AttemptPhoneNumberVerification)},
      {"me delete-external-account", Me(&F::DeleteMyExternalAccount)},
      {"me set-image", Me(&F::SetMyProfileImage)},
      {"me delete-image", Me(&F::DeleteMyProfileImage)},
      {"me sessions", Me(&F::ListMySessions)},
      {"me revoke-session", Me(&F::RevokeMySession)},
      {"me sign-out", Me(&F::SignOut)},
      {"me totp create", Me(&F::CreateMyTotp)},
      {"me totp verify", Me(&F::VerifyMyTotp)},
      {"me totp delete", Me(&F::DeleteMyTotp)},
      {"me backup-codes create", Me(&F::CreateMyBackupCodes)},
      {"signin start", Unary<FrontendUsers>(&F::StartSignIn, Auth::kNone)},
      {"signin prepare",
       Unary<FrontendUsers>(&F::PrepareSignInFactor, Auth::kNone)},
      {"signin attempt",
       Unary<FrontendUsers>(&F::AttemptSignInFactor, Auth::kNone)},
      {"signin reset-password",
       Unary<FrontendUsers>(&F::ResetPassword, Auth::kNone)},
      {"signin ticket",
       Unary<FrontendUsers>(&F::SignInWithTicket, Auth::kNone)},
      {"signups create", Unary<FrontendUsers>(&F::CreateSignUp, Auth::kNone)},
      {"signups update", Unary<FrontendUsers>(&F::UpdateSignUp, Auth::kNone)},
      {"signups prepare",
       Unary<FrontendUsers>(&F::PrepareSignUpVerification, Auth::kNone)},
      {"signups attempt",
       Unary<FrontendUsers>(&F::AttemptSignUpVerification, Auth::kNone)},
      {"health check", Health},
  };
}

}  // namespace roster::cli

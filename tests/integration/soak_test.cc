// A bounded soak of the real roster-server binary: eight clients run every
// RPC of both services in realistic cycles (create, read, update, identifiers,
// images, bans, locks, imports, events, sessions, sign-in, verification,
// password changes, self-deletion) while a watcher streams events, for
// ROSTER_SOAK_SECONDS (30 in `make test`, 600 in `make test-long`). It
// checks that no call fails unexpectedly and that the server's resident memory
// and open file descriptors stay flat after warm-up, and prints the figures
// docs/reliability.md quotes.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sodium.h>

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
#include "tests/testing/frontend_response_scanner.h"
#include "tests/testing/process_stats.h"
#include "tests/testing/sanitizers.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_database.h"

namespace roster {
namespace {

using ::roster::testing::Fds;
using ::roster::testing::OpenFds;
using ::roster::testing::PostgresPort;
using ::roster::testing::RssAnonKib;
using ::roster::testing::RssKib;
using ::roster::testing::ServerProcess;
using ::roster::testing::TempDir;
using namespace roster::v1;  // NOLINT: the API under test.

constexpr char kKey[] = "sk_test_soak_0123456789abcdefghijklmnop";
constexpr char kPassword[] = "soak-password-Correct-Horse-1";
constexpr char kNewPassword[] = "soak-password-Battery-Staple-2";
const char kPng[] = {'\x89', 'P',    'N',    'G',    '\r',   '\n',  '\x1a',
                     '\n',   '\x00', '\x00', '\x00', '\x0d', 'I',   'H',
                     'D',    'R',    '\x00', '\x00', '\x00', '\x01'};

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

std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + bearer);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

// Counts calls and the ones that did not end as expected (with a sample).
class Tally {
 public:
  void Check(const grpc::Status& status, const char* what,
             grpc::StatusCode expected = grpc::StatusCode::OK) {
    ++calls_;
    if (status.error_code() == expected) {
      return;
    }
    if (unexpected_++ < 10) {
      std::cerr << "unexpected: " << what << ": " << status.error_code() << " "
                << status.error_message() << "\n";
    }
  }
  int64_t calls() const { return calls_; }
  int64_t unexpected() const { return unexpected_; }

 private:
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> unexpected_{0};
};

class Worker {
 public:
  Worker(const std::shared_ptr<grpc::Channel>& channel, int index, Tally* tally)
      : backend_(BackendUsers::NewStub(channel)),
        frontend_(FrontendUsers::NewStub(channel)),
        index_(index),
        tally_(tally) {}

  void Run(const std::atomic<bool>& stop) {
    for (int64_t i = 0; !stop; ++i) {
      BackendCycle(i);
      if (i % 10 == 0) {
        ImportCycle(i);
      }
      if (i % 10 == 5) {
        FrontendCycle(i);
      }
    }
  }

 private:
  std::string Unique(const char* kind, int64_t i) {
    return absl::StrCat(kind, "-w", index_, "-", i, "-", ++serial_);
  }
  std::string Email(int64_t i) { return Unique("soak", i) + "@example.com"; }
  std::string Phone() {
    return absl::StrFormat("+1415%d%06d", index_, ++phone_serial_ % 1000000);
  }
  void Check(const grpc::Status& status, const char* what,
             grpc::StatusCode expected = grpc::StatusCode::OK) {
    tally_->Check(status, what, expected);
  }

  void BackendCycle(int64_t i) {
    CreateUserRequest create;
    create.add_email_addresses(Email(i));
    create.add_phone_numbers(Phone());
    create.set_first_name("Soak");
    (*create.mutable_public_metadata()->mutable_fields())["plan"]
        .set_string_value(i % 2 ? "pro" : "free");
    (*create.mutable_private_metadata()->mutable_fields())["secret"]
        .set_string_value(testing::kPrivateSentinel);
    User user;
    Check(backend_->CreateUser(Context(kKey).get(), create, &user),
          "CreateUser");
    if (user.id().empty()) {
      return;
    }
    const std::string& id = user.id();
    GetUserRequest get;
    get.set_user_id(id);
    Check(backend_->GetUser(Context(kKey).get(), get, &user), "GetUser");
    UpdateUserRequest update;
    update.set_user_id(id);
    update.set_last_name(absl::StrCat("Cycle", i));
    Check(backend_->UpdateUser(Context(kKey).get(), update, &user),
          "UpdateUser");
    UpdateUserMetadataRequest merge;
    merge.set_user_id(id);
    (*merge.mutable_public_metadata()->mutable_fields())["seen"]
        .set_number_value(static_cast<double>(i));
    Check(backend_->UpdateUserMetadata(Context(kKey).get(), merge, &user),
          "UpdateUserMetadata");
    ReplaceUserMetadataRequest replace;
    replace.set_user_id(id);
    (*replace.mutable_unsafe_metadata()->mutable_fields())["theme"]
        .set_string_value("dark");
    Check(backend_->ReplaceUserMetadata(Context(kKey).get(), replace, &user),
          "ReplaceUserMetadata");
    ListUsersRequest list;
    list.add_email_addresses(user.email_addresses(0).email_address());
    ListUsersResponse listed;
    Check(backend_->ListUsers(Context(kKey).get(), list, &listed), "ListUsers");
    CountUsersRequest count;
    count.set_name_query("soak");
    CountUsersResponse counted;
    Check(backend_->CountUsers(Context(kKey).get(), count, &counted),
          "CountUsers");

    CreateEmailAddressRequest add_email;
    add_email.set_user_id(id);
    add_email.set_email_address(Email(i));
    EmailAddress email;
    Check(backend_->CreateEmailAddress(Context(kKey).get(), add_email, &email),
          "CreateEmailAddress");
    GetEmailAddressRequest get_email;
    get_email.set_email_address_id(email.id());
    Check(backend_->GetEmailAddress(Context(kKey).get(), get_email, &email),
          "GetEmailAddress");
    UpdateEmailAddressRequest verify_email;
    verify_email.set_email_address_id(email.id());
    verify_email.set_verified(true);
    Check(
        backend_->UpdateEmailAddress(Context(kKey).get(), verify_email, &email),
        "UpdateEmailAddress");
    DeleteEmailAddressRequest delete_email;
    delete_email.set_email_address_id(email.id());
    DeletedObject deleted;
    Check(backend_->DeleteEmailAddress(Context(kKey).get(), delete_email,
                                       &deleted),
          "DeleteEmailAddress");

    CreatePhoneNumberRequest add_phone;
    add_phone.set_user_id(id);
    add_phone.set_phone_number(Phone());
    PhoneNumber phone;
    Check(backend_->CreatePhoneNumber(Context(kKey).get(), add_phone, &phone),
          "CreatePhoneNumber");
    GetPhoneNumberRequest get_phone;
    get_phone.set_phone_number_id(phone.id());
    Check(backend_->GetPhoneNumber(Context(kKey).get(), get_phone, &phone),
          "GetPhoneNumber");
    UpdatePhoneNumberRequest verify_phone;
    verify_phone.set_phone_number_id(phone.id());
    verify_phone.set_verified(true);
    Check(
        backend_->UpdatePhoneNumber(Context(kKey).get(), verify_phone, &phone),
        "UpdatePhoneNumber");
    DeletePhoneNumberRequest delete_phone;
    delete_phone.set_phone_number_id(phone.id());
    Check(backend_->DeletePhoneNumber(Context(kKey).get(), delete_phone,
                                      &deleted),
          "DeletePhoneNumber");

    CreateExternalAccountRequest link;
    link.set_user_id(id);
    link.set_provider("oauth_github");
    link.set_provider_user_id(Unique("gh", i));
    ExternalAccount account;
    Check(backend_->CreateExternalAccount(Context(kKey).get(), link, &account),
          "CreateExternalAccount");
    DeleteExternalAccountRequest unlink;
    unlink.set_external_account_id(account.id());
    Check(
        backend_->DeleteExternalAccount(Context(kKey).get(), unlink, &deleted),
        "DeleteExternalAccount");

    SetProfileImageRequest image;
    image.set_user_id(id);
    image.set_image(std::string(kPng, sizeof(kPng)) + std::string(512, 'x'));
    Check(backend_->SetProfileImage(Context(kKey).get(), image, &user),
          "SetProfileImage");
    DeleteProfileImageRequest no_image;
    no_image.set_user_id(id);
    Check(backend_->DeleteProfileImage(Context(kKey).get(), no_image, &user),
          "DeleteProfileImage");

    BanUserRequest ban;
    ban.set_user_id(id);
    Check(backend_->BanUser(Context(kKey).get(), ban, &user), "BanUser");
    UnbanUserRequest unban;
    unban.set_user_id(id);
    Check(backend_->UnbanUser(Context(kKey).get(), unban, &user), "UnbanUser");
    LockUserRequest lock;
    lock.set_user_id(id);
    Check(backend_->LockUser(Context(kKey).get(), lock, &user), "LockUser");
    UnlockUserRequest unlock;
    unlock.set_user_id(id);
    Check(backend_->UnlockUser(Context(kKey).get(), unlock, &user),
          "UnlockUser");

    ListEventsRequest events;
    events.set_user_id(id);
    events.set_limit(20);
    ListEventsResponse listed_events;
    Check(backend_->ListEvents(Context(kKey).get(), events, &listed_events),
          "ListEvents");
    ListSessionsRequest sessions;
    sessions.set_user_id(id);
    ListSessionsResponse listed_sessions;
    Check(
        backend_->ListSessions(Context(kKey).get(), sessions, &listed_sessions),
        "ListSessions");
    DeleteUserRequest remove;
    remove.set_user_id(id);
    Check(backend_->DeleteUser(Context(kKey).get(), remove, &deleted),
          "DeleteUser");
  }

  void ImportCycle(int64_t i) {
    ImportUsersRequest import;
    for (int n = 0; n < 3; ++n) {
      auto* user = import.add_users();
      user->add_email_addresses(Email(i));
      user->set_first_name("Imported");
    }
    ImportUsersResponse imported;
    Check(backend_->ImportUsers(Context(kKey).get(), import, &imported),
          "ImportUsers");
    for (const auto& result : imported.results()) {
      if (result.status().code() != 0) {
        Check(grpc::Status(grpc::StatusCode::INTERNAL, "a row failed"),
              "ImportUsers row");
        continue;
      }
      DeleteUserRequest remove;
      remove.set_user_id(result.user().id());
      DeletedObject deleted;
      Check(backend_->DeleteUser(Context(kKey).get(), remove, &deleted),
            "DeleteUser (imported)");
    }
  }

  void FrontendCycle(int64_t i) {
    const std::string address = Email(i);
    CreateUserRequest create;
    create.add_email_addresses(address);
    create.set_password(kPassword);
    User user;
    Check(backend_->CreateUser(Context(kKey).get(), create, &user),
          "CreateUser (password)");
    VerifyPasswordRequest verify;
    verify.set_user_id(user.id());
    verify.set_password(kPassword);
    VerifyPasswordResponse verified;
    Check(backend_->VerifyPassword(Context(kKey).get(), verify, &verified),
          "VerifyPassword");
    SignInRequest sign_in;
    sign_in.set_identifier(address);
    sign_in.set_password(kPassword);
    SignInResponse signed_in;
    grpc::ClientContext sign_in_context;
    Check(frontend_->SignIn(&sign_in_context, sign_in, &signed_in), "SignIn");
    const std::string token = signed_in.session_token();
    if (token.empty()) {
      return;
    }

    FrontendUser me;
    Check(frontend_->GetMe(Context(token).get(), GetMeRequest(), &me), "GetMe");
    UpdateMeRequest update;
    update.set_first_name("Self");
    Check(frontend_->UpdateMe(Context(token).get(), update, &me), "UpdateMe");
    UpdateMyMetadataRequest metadata;
    (*metadata.mutable_unsafe_metadata()->mutable_fields())["onboarded"]
        .set_bool_value(true);
    Check(frontend_->UpdateMyMetadata(Context(token).get(), metadata, &me),
          "UpdateMyMetadata");

    CreateMyEmailAddressRequest add_email;
    add_email.set_email_address(Email(i));
    EmailAddress email;
    Check(frontend_->CreateMyEmailAddress(Context(token).get(), add_email,
                                          &email),
          "CreateMyEmailAddress");
    PrepareEmailAddressVerificationRequest prepare_email;
    prepare_email.set_email_address_id(email.id());
    prepare_email.set_strategy("email_code");
    Check(frontend_->PrepareEmailAddressVerification(Context(token).get(),
                                                     prepare_email, &email),
          "PrepareEmailAddressVerification");
    // A wrong code is the expected answer here (the code goes out by event).
    AttemptEmailAddressVerificationRequest attempt_email;
    attempt_email.set_email_address_id(email.id());
    attempt_email.set_code("000000");
    Check(frontend_->AttemptEmailAddressVerification(Context(token).get(),
                                                     attempt_email, &email),
          "AttemptEmailAddressVerification",
          grpc::StatusCode::INVALID_ARGUMENT);
    DeleteMyEmailAddressRequest delete_email;
    delete_email.set_email_address_id(email.id());
    DeletedObject deleted;
    Check(frontend_->DeleteMyEmailAddress(Context(token).get(), delete_email,
                                          &deleted),
          "DeleteMyEmailAddress");

    CreateMyPhoneNumberRequest add_phone;
    add_phone.set_phone_number(Phone());
    PhoneNumber phone;
    Check(
        frontend_->CreateMyPhoneNumber(Context(token).get(), add_phone, &phone),
        "CreateMyPhoneNumber");
    PreparePhoneNumberVerificationRequest prepare_phone;
    prepare_phone.set_phone_number_id(phone.id());
    prepare_phone.set_strategy("phone_code");
    Check(frontend_->PreparePhoneNumberVerification(Context(token).get(),
                                                    prepare_phone, &phone),
          "PreparePhoneNumberVerification");
    AttemptPhoneNumberVerificationRequest attempt_phone;
    attempt_phone.set_phone_number_id(phone.id());
    attempt_phone.set_code("000000");
    Check(frontend_->AttemptPhoneNumberVerification(Context(token).get(),
                                                    attempt_phone, &phone),
          "AttemptPhoneNumberVerification", grpc::StatusCode::INVALID_ARGUMENT);
    DeleteMyPhoneNumberRequest delete_phone;
    delete_phone.set_phone_number_id(phone.id());
    Check(frontend_->DeleteMyPhoneNumber(Context(token).get(), delete_phone,
                                         &deleted),
          "DeleteMyPhoneNumber");

    CreateExternalAccountRequest link;
    link.set_user_id(user.id());
    link.set_provider("oauth_google");
    link.set_provider_user_id(Unique("google", i));
    ExternalAccount account;
    Check(backend_->CreateExternalAccount(Context(kKey).get(), link, &account),
          "CreateExternalAccount");
    DeleteMyExternalAccountRequest unlink;
    unlink.set_external_account_id(account.id());
    Check(frontend_->DeleteMyExternalAccount(Context(token).get(), unlink,
                                             &deleted),
          "DeleteMyExternalAccount");
    SetMyProfileImageRequest image;
    image.set_image(std::string(kPng, sizeof(kPng)) + std::string(256, 'y'));
    Check(frontend_->SetMyProfileImage(Context(token).get(), image, &me),
          "SetMyProfileImage");
    Check(frontend_->DeleteMyProfileImage(Context(token).get(),
                                          DeleteMyProfileImageRequest(), &me),
          "DeleteMyProfileImage");

    RefreshSessionTokenRequest refresh;
    refresh.set_session_id(signed_in.session().id());
    refresh.set_session_secret(signed_in.session_secret());
    RefreshSessionTokenResponse refreshed;
    grpc::ClientContext refresh_context;
    Check(frontend_->RefreshSessionToken(&refresh_context, refresh, &refreshed),
          "RefreshSessionToken");
    Jwks jwks;
    grpc::ClientContext jwks_context;
    Check(frontend_->GetJwks(&jwks_context, GetJwksRequest(), &jwks),
          "GetJwks");
    ListMySessionsResponse my_sessions;
    Check(frontend_->ListMySessions(Context(token).get(),
                                    ListMySessionsRequest(), &my_sessions),
          "ListMySessions");
    CreateSessionRequest backend_session;
    backend_session.set_user_id(user.id());
    CreateSessionResponse other;
    Check(backend_->CreateSession(Context(kKey).get(), backend_session, &other),
          "CreateSession");
    RevokeMySessionRequest revoke_mine;
    revoke_mine.set_session_id(other.session().id());
    Session session;
    Check(
        frontend_->RevokeMySession(Context(token).get(), revoke_mine, &session),
        "RevokeMySession");
    Check(backend_->CreateSession(Context(kKey).get(), backend_session, &other),
          "CreateSession");
    RevokeSessionRequest revoke;
    revoke.set_session_id(other.session().id());
    Check(backend_->RevokeSession(Context(kKey).get(), revoke, &session),
          "RevokeSession");

    ChangeMyPasswordRequest change;
    change.set_current_password(kPassword);
    change.set_new_password(kNewPassword);
    Check(frontend_->ChangeMyPassword(Context(token).get(), change, &me),
          "ChangeMyPassword");
    RemoveMyPasswordRequest remove_password;
    remove_password.set_current_password(kNewPassword);
    Check(
        frontend_->RemoveMyPassword(Context(token).get(), remove_password, &me),
        "RemoveMyPassword");
    Check(frontend_->SignOut(Context(token).get(), SignOutRequest(), &session),
          "SignOut");
    // A last session from the backend, to delete the account with.
    Check(backend_->CreateSession(Context(kKey).get(), backend_session, &other),
          "CreateSession");
    Check(frontend_->DeleteMe(Context(other.session_token()).get(),
                              DeleteMeRequest(), &deleted),
          "DeleteMe");
  }

  std::unique_ptr<BackendUsers::Stub> backend_;
  std::unique_ptr<FrontendUsers::Stub> frontend_;
  const int index_;
  Tally* tally_;
  int64_t serial_ = 0;
  int64_t phone_serial_ = 0;
};

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
  if (!testing::kAddressSanitized) {
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
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace roster

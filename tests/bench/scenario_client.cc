#include "tests/bench/scenario_client.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"

namespace roster::bench {
namespace {

using roster::v1::BackendUsers;
using roster::v1::FrontendUsers;

// list_first_page and list_deep_page read oldest first, so that both pages
// hold seeded users. The write scenarios add thinner users (an email, no
// metadata) at the newest end, and a newest-first first page of those
// measured faster than any page of seeded users, depth or not.
constexpr char kPageOrder[] = "created_at";

// One call's state, alive until its completion callback has run.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
};

grpc::Status HttpFailure(const httplib::Result& answer) {
  return grpc::Status(
      grpc::UNKNOWN,
      answer ? absl::StrCat("HTTP ", answer->status, " ",
                            answer->body.substr(0, 200))
             : absl::StrCat("HTTP error ", static_cast<int>(answer.error())));
}

// The length a gRPC-Web frame at the start of `body` declares.
size_t FrameLength(const std::string& body) {
  size_t length = 0;
  for (size_t i = 1; i < 5; ++i) {
    length = (length << 8) | static_cast<uint8_t>(body[i]);
  }
  return std::min(length, body.size() - 5);
}

void Deadline(grpc::ClientContext& context) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
}

}  // namespace

ScenarioClient::ScenarioClient(const std::string& addr, int channels,
                               std::string key)
    : key_(std::move(key)) {
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("bench.channel", i);  // Distinct args: distinct connections.
    auto channel = grpc::CreateCustomChannel(
        addr, grpc::InsecureChannelCredentials(), args);
    backends_.push_back(BackendUsers::NewStub(channel));
    frontends_.push_back(FrontendUsers::NewStub(channel));
    healths_.push_back(grpc::health::v1::Health::NewStub(channel));
  }
}

bool ScenarioClient::Seed(int64_t count) {
  roster::v1::CountUsersRequest count_request;
  roster::v1::CountUsersResponse counted;
  grpc::Status status = backends_[0]->CountUsers(
      Authed(absl::Seconds(30)).get(), count_request, &counted);
  if (!status.ok()) {
    std::cerr << "cannot count users: " << status.error_message() << "\n";
    return false;
  }
  const int64_t have = counted.total_count();
  const absl::Time started = absl::Now();
  // Batches of 1000; the server writes each batch through group commit. (Two
  // callers at once measured no faster: the single writer is the limit.)
  for (int64_t first = have; first < count; first += 1000) {
    const int64_t n = std::min<int64_t>(1000, count - first);
    roster::v1::ImportUsersRequest batch;
    for (int64_t k = first; k < first + n; ++k) {
      auto* user = batch.add_users();
      user->add_email_addresses(absl::StrCat("user", k, "@bench.example"));
      user->set_first_name(absl::StrCat("First", k % 997));
      user->set_last_name(absl::StrCat("Last", k % 1009));
      auto& metadata = *user->mutable_public_metadata()->mutable_fields();
      metadata["plan"].set_string_value(k % 3 == 0 ? "pro" : "free");
      // One user's own value, for list_by_metadata.
      metadata["account"].set_string_value(absl::StrCat("acct", k));
    }
    roster::v1::ImportUsersResponse imported;
    status = backends_[0]->ImportUsers(Authed(absl::Seconds(120)).get(), batch,
                                       &imported);
    if (!status.ok()) {
      std::cerr << "import failed: " << status.error_message() << "\n";
      return false;
    }
    std::cerr << "\rseeded " << first + n << "/" << count << " users";
  }
  if (absl::Now() - started > absl::Seconds(1)) {
    std::cerr << " in " << absl::FormatDuration(absl::Now() - started) << "\n";
  }
  // Sample users at random over the whole seeded set (up to 10,000 of them),
  // so that at a million users reads land all over the file rather than on
  // a few hot pages.
  std::mt19937_64 random_user(42);
  std::uniform_int_distribution<int64_t> any_user(0, count - 1);
  const int64_t samples = std::min<int64_t>(count, 10000);
  for (int64_t i = 0; i < samples; ++i) {
    const int64_t k = any_user(random_user);
    const std::string email = absl::StrCat("user", k, "@bench.example");
    roster::v1::ListUsersRequest by_email;
    by_email.add_email_addresses(email);
    roster::v1::ListUsersResponse found;
    status = backends_[0]->ListUsers(Authed(absl::Seconds(30)).get(), by_email,
                                     &found);
    if (!status.ok()) {
      std::cerr << "cannot sample users: " << status.error_message() << "\n";
      return false;
    }
    if (found.users_size() == 1) {
      user_ids_.push_back(found.users(0).id());
      emails_.push_back(email);
      accounts_.push_back(absl::StrCat("acct", k));
    }
  }
  if (user_ids_.empty()) {
    std::cerr << "no seeded user found\n";
    return false;
  }
  // A page token 100,000 users deep (or halfway, in a smaller set): the
  // keyset position list_deep_page asks for again and again.
  roster::v1::ListUsersRequest deep;
  deep.set_order_by(kPageOrder);
  deep.set_limit(1);
  deep.set_offset(static_cast<int32_t>(
      std::min<int64_t>(100000, std::max(have, count) / 2)));
  roster::v1::ListUsersResponse deep_page;
  status = backends_[0]->ListUsers(Authed(absl::Seconds(60)).get(), deep,
                                   &deep_page);
  if (!status.ok()) {
    return false;
  }
  deep_token_ = deep_page.next_page_token();
  return PrepareSignIn();
}

bool ScenarioClient::PrepareTotpUsers(int count) {
  const absl::Time started = absl::Now();
  absl::Status prepared =
      totp_users_.Prepare(*backends_[0], *frontends_[0], key_, kBenchPassword,
                          count, absl::StrCat(run_id_));
  if (!prepared.ok()) {
    std::cerr << "cannot prepare sign_in_totp: " << prepared.message() << "\n";
    return false;
  }
  std::cerr << "enrolled " << count << " TOTP users in "
            << absl::FormatDuration(absl::Now() - started) << "\n";
  return true;
}

std::vector<std::pair<std::string, Issue>> ScenarioClient::Scenarios() {
  std::vector<std::pair<std::string, Issue>> s;
  s.emplace_back("health", [this](int slot, const Done& done) {
    auto call = std::make_shared<Call<grpc::health::v1::HealthCheckRequest,
                                      grpc::health::v1::HealthCheckResponse>>();
    Deadline(call->context);
    healths_[Channel(slot)]->async()->Check(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  });
  s.emplace_back("get_user", [this](int slot, const Done& done) {
    auto call =
        std::make_shared<Call<roster::v1::GetUserRequest, roster::v1::User>>();
    call->request.set_user_id(Pick(user_ids_));
    Authorize(call->context);
    backends_[Channel(slot)]->async()->GetUser(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  });
  s.emplace_back("list_by_email", [this](int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
    call->request.add_email_addresses(Pick(emails_));
    Authorize(call->context);
    backends_[Channel(slot)]->async()->ListUsers(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  });
  // The same one user as list_by_email, named by a public metadata value.
  s.emplace_back("list_by_metadata", [this](int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
    auto* filter = call->request.add_metadata_filters();
    filter->set_tier(roster::v1::MetadataFilter::TIER_PUBLIC);
    filter->set_path("account");
    filter->mutable_value()->set_string_value(Pick(accounts_));
    Authorize(call->context);
    backends_[Channel(slot)]->async()->ListUsers(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  });
  s.emplace_back("list_page", [this](int slot, const Done& done) {
    // Each slot walks the set 10 at a time, following page tokens.
    auto call = std::make_shared<
        Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
    call->request.set_limit(10);
    call->request.set_page_token(Token(slot));
    Authorize(call->context);
    backends_[Channel(slot)]->async()->ListUsers(
        &call->context, &call->request, &call->response,
        [this, call, done, slot](const grpc::Status& st) {
          SetToken(slot, st.ok() ? call->response.next_page_token() : "");
          done(st);
        });
  });
  // The first page against a page 100,000 deep: keyset paging should make
  // depth free.
  s.emplace_back("list_first_page", [this](int slot, const Done& done) {
    ListPage(slot, "", done);
  });
  s.emplace_back("list_deep_page", [this](int slot, const Done& done) {
    ListPage(slot, deep_token_, done);
  });
  s.emplace_back("count", [this](int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::CountUsersRequest, roster::v1::CountUsersResponse>>();
    (*call->request.add_metadata_filters()->mutable_value())
        .set_string_value("pro");
    call->request.mutable_metadata_filters(0)->set_tier(
        roster::v1::MetadataFilter::TIER_PUBLIC);
    call->request.mutable_metadata_filters(0)->set_path("plan");
    Authorize(call->context);
    backends_[Channel(slot)]->async()->CountUsers(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  });
  s.emplace_back("create_user", [this](int slot, const Done& done) {
    CreateUser(slot, done);
  });
  s.emplace_back("merge_metadata", [this](int slot, const Done& done) {
    MergeMetadata(slot, done);
  });
  s.emplace_back("sign_in", [this](int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::SignInRequest, roster::v1::SignInResponse>>();
    call->request.set_identifier(sign_in_email_);
    call->request.set_password(kBenchPassword);
    Deadline(call->context);
    frontends_[Channel(slot)]->async()->SignIn(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  });
  // A sign-up that completes in its first call (the server runs with
  // --sign_up_required=username,password): one argon2id hash, then the user
  // and its session in one transaction.
  s.emplace_back("sign_up_complete", [this](int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::CreateSignUpRequest, roster::v1::SignUpResponse>>();
    call->request.set_username(
        absl::StrCat("signup", run_id_, "x", created_++));
    call->request.set_password(kBenchPassword);
    Deadline(call->context);
    frontends_[Channel(slot)]->async()->CreateSignUp(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) {
          done(st.ok() && call->response.sign_up().status() !=
                              roster::v1::SignUp::STATUS_COMPLETE
                   ? grpc::Status(grpc::StatusCode::INTERNAL,
                                  "the sign-up did not complete")
                   : st);
        });
  });
  // A sign-in with a second factor: SignIn (one argon2id hash) answers
  // NEEDS_SECOND_FACTOR, then AttemptSignInFactor with the app's code.
  s.emplace_back("sign_in_totp", [this](int slot, const Done& done) {
    SignInWithTotp(slot, done);
  });
  s.emplace_back("get_me", [this](int slot, const Done& done) {
    auto call = std::make_shared<
        Call<roster::v1::GetMeRequest, roster::v1::FrontendUser>>();
    Deadline(call->context);
    call->context.AddMetadata("authorization", "Bearer " + token_);
    frontends_[Channel(slot)]->async()->GetMe(
        &call->context, &call->request, &call->response,
        [call, done](const grpc::Status& st) { done(st); });
  });
  s.emplace_back("mixed", [this, reads = s](int slot, Done done) {
    // 90 % reads (get_user, list_by_email, get_me), 10 % writes.
    const int roll = static_cast<int>(Next() % 100);
    if (roll < 10) {
      return (roll < 5 ? CreateUser(slot, done) : MergeMetadata(slot, done));
    }
    const auto& read = reads[1 + static_cast<size_t>(roll % 3)];
    read.second(slot, std::move(done));
  });
  if (http_ != nullptr) {
    // get_me as a browser makes it, the answer decoded as a client would.
    s.emplace_back("get_me_connect", [this](int slot, const Done& done) {
      http_->Post(slot, [this, done](httplib::Client& client) {
        auto answer = HttpLanes::PostRetrying(
            client, "/roster.v1.FrontendUsers/GetMe",
            {{"Authorization", "Bearer " + token_}}, "{}", "application/json");
        roster::v1::FrontendUser me;
        done(answer && answer->status == 200 &&
                     google::protobuf::util::JsonStringToMessage(answer->body,
                                                                 &me)
                         .ok() &&
                     !me.id().empty()
                 ? grpc::Status::OK
                 : HttpFailure(answer));
      });
    });
    s.emplace_back("get_me_grpc_web", [this](int slot, const Done& done) {
      http_->Post(slot, [this, done](httplib::Client& client) {
        auto answer = HttpLanes::PostRetrying(
            client, "/roster.v1.FrontendUsers/GetMe",
            {{"Authorization", "Bearer " + token_}}, std::string(5, '\0'),
            "application/grpc-web+proto");
        roster::v1::FrontendUser me;
        // One message frame, then the trailer frame with grpc-status:0.
        const bool ok =
            answer && answer->status == 200 && answer->body.size() > 5 &&
            me.ParseFromArray(answer->body.data() + 5,
                              static_cast<int>(FrameLength(answer->body))) &&
            absl::StrContains(answer->body, "grpc-status:0");
        done(ok ? grpc::Status::OK : HttpFailure(answer));
      });
    });
  }
  return s;
}

void ScenarioClient::UseHttp(const std::string& addr, int lanes) {
  const size_t colon = addr.rfind(':');
  http_ = std::make_unique<HttpLanes>(addr.substr(0, colon),
                                      std::stoi(addr.substr(colon + 1)), lanes);
}

std::unique_ptr<grpc::ClientContext> ScenarioClient::Authed(
    absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context->AddMetadata("authorization", "Bearer " + key_);
  return context;
}

void ScenarioClient::Authorize(grpc::ClientContext& context) {
  Deadline(context);
  context.AddMetadata("authorization", "Bearer " + key_);
}

size_t ScenarioClient::Channel(int slot) const {
  return static_cast<size_t>(slot) % backends_.size();
}

uint64_t ScenarioClient::Next() {
  std::lock_guard<std::mutex> lock(rng_mu_);
  return rng_();
}

const std::string& ScenarioClient::Pick(const std::vector<std::string>& from) {
  return from[Next() % from.size()];
}

std::string ScenarioClient::Token(int slot) {
  std::lock_guard<std::mutex> lock(rng_mu_);
  return tokens_[slot];
}

void ScenarioClient::SetToken(int slot, std::string token) {
  std::lock_guard<std::mutex> lock(rng_mu_);
  tokens_[slot] = std::move(token);
}

void ScenarioClient::CreateUser(int slot, const Done& done) {
  auto call =
      std::make_shared<Call<roster::v1::CreateUserRequest, roster::v1::User>>();
  call->request.add_email_addresses(
      absl::StrCat("new", run_id_, "-", created_++, "@bench.example"));
  call->request.set_first_name("New");
  Authorize(call->context);
  backends_[Channel(slot)]->async()->CreateUser(
      &call->context, &call->request, &call->response,
      [call, done](const grpc::Status& st) { done(st); });
}

void ScenarioClient::ListPage(int slot, const std::string& token,
                              const Done& done) {
  auto call = std::make_shared<
      Call<roster::v1::ListUsersRequest, roster::v1::ListUsersResponse>>();
  call->request.set_order_by(kPageOrder);
  call->request.set_limit(10);
  call->request.set_page_token(token);
  Authorize(call->context);
  backends_[Channel(slot)]->async()->ListUsers(
      &call->context, &call->request, &call->response,
      [call, done](const grpc::Status& st) { done(st); });
}

// SignIn, then the second factor with the user's current code.
void ScenarioClient::SignInWithTotp(int slot, const Done& done) {
  auto turn = totp_users_.Next(absl::Now());
  if (!turn.ok()) {
    done(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      std::string(turn.status().message())));
    return;
  }
  auto call = std::make_shared<
      Call<roster::v1::SignInRequest, roster::v1::SignInResponse>>();
  call->request.set_identifier(turn->email);
  call->request.set_password(kBenchPassword);
  Deadline(call->context);
  auto* frontend = frontends_[Channel(slot)].get();
  frontend->async()->SignIn(
      &call->context, &call->request, &call->response,
      [call, done, frontend, code = turn->code](const grpc::Status& st) {
        if (!st.ok() ||
            call->response.status() !=
                roster::v1::SignInAttempt::STATUS_NEEDS_SECOND_FACTOR) {
          done(st.ok() ? grpc::Status(grpc::StatusCode::INTERNAL,
                                      "no second factor was asked for")
                       : st);
          return;
        }
        auto factor =
            std::make_shared<Call<roster::v1::AttemptSignInFactorRequest,
                                  roster::v1::SignInResponse>>();
        factor->request.set_sign_in_attempt_id(
            call->response.sign_in_attempt().id());
        factor->request.set_strategy("totp");
        factor->request.set_code(code);
        Deadline(factor->context);
        frontend->async()->AttemptSignInFactor(
            &factor->context, &factor->request, &factor->response,
            [factor, done](const grpc::Status& second) {
              done(second.ok() && factor->response.session_token().empty()
                       ? grpc::Status(grpc::StatusCode::INTERNAL,
                                      "the second factor gave no session")
                       : second);
            });
      });
}

void ScenarioClient::MergeMetadata(int slot, const Done& done) {
  auto call = std::make_shared<
      Call<roster::v1::UpdateUserMetadataRequest, roster::v1::User>>();
  call->request.set_user_id(Pick(user_ids_));
  (*call->request.mutable_unsafe_metadata()->mutable_fields())["visits"]
      .set_number_value(static_cast<double>(Next() % 1000));
  Authorize(call->context);
  backends_[Channel(slot)]->async()->UpdateUserMetadata(
      &call->context, &call->request, &call->response,
      [call, done](const grpc::Status& st) { done(st); });
}

// A user with a password to sign in as, and another's session token for
// get_me.
bool ScenarioClient::PrepareSignIn() {
  sign_in_email_ = "signin@bench.example";
  roster::v1::CreateUserRequest create;
  create.add_email_addresses(sign_in_email_);
  create.set_password(kBenchPassword);
  create.set_request_id("bench-sign-in-user");  // Idempotent across runs.
  roster::v1::User user;
  grpc::Status status =
      backends_[0]->CreateUser(Authed(absl::Seconds(30)).get(), create, &user);
  if (!status.ok()) {
    std::cerr << "cannot create the sign-in user: " << status.error_message()
              << "\n";
    return false;
  }
  roster::v1::UnlockUserRequest unlock;  // A previous run may have locked it.
  unlock.set_user_id(user.id());
  backends_[0]->UnlockUser(Authed(absl::Seconds(30)).get(), unlock, &user);
  // get_me's session belongs to another user: sign_in's flood would revoke
  // it, since a user keeps only their newest 100 sessions.
  roster::v1::CreateUserRequest me;
  me.add_email_addresses("me@bench.example");
  me.set_request_id("bench-get-me-user");
  status = backends_[0]->CreateUser(Authed(absl::Seconds(30)).get(), me, &user);
  if (!status.ok()) {
    std::cerr << "cannot create the get_me user: " << status.error_message()
              << "\n";
    return false;
  }
  roster::v1::CreateSessionRequest session_request;
  session_request.set_user_id(user.id());
  roster::v1::CreateSessionResponse session;
  status = backends_[0]->CreateSession(Authed(absl::Seconds(30)).get(),
                                       session_request, &session);
  token_ = session.session_token();
  return status.ok();
}

}  // namespace roster::bench

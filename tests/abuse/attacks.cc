// The attacks of roster-abuse's table. Each sets up what it needs on a fresh
// server, attacks for the given time, and says what was offered, what the
// attacker got, and which of its own targets it missed.
#include <grpcpp/generic/generic_stub.h>
#include <httplib.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "tests/abuse/abuse.h"
#include "tests/testing/error_details.h"
#include "tests/testing/tcp.h"

namespace roster::abuse {
namespace {

using namespace roster::v1;  // NOLINT: the API under attack.

// Lines of the metrics listener's /metrics.
size_t MetricsLines(const Target& target) {
  httplib::Client client("127.0.0.1", target.metrics_port());
  auto response = client.Get("/metrics");
  if (!response) {
    return 0;
  }
  return std::vector<std::string>(absl::StrSplit(response->body, '\n')).size();
}

// One unary call of `request`'s bytes as they are, without copying them: an
// attacker serializes a message once and sends it again and again.
grpc::Status RawCall(grpc::GenericStub& stub, grpc::ClientContext& context,
                     const std::string& path, absl::string_view request) {
  grpc::Slice slice(request.data(), request.size(), grpc::Slice::STATIC_SLICE);
  grpc::ByteBuffer bytes(&slice, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, path, grpc::StubOptions(), &bytes, &response,
                 [&](const grpc::Status& s) { done.set_value(s); });
  return done.get_future().get();
}

void UnknownMethods(Target& target, absl::Duration duration, Outcome& out) {
  const size_t lines_before = MetricsLines(target);
  Tally tally;
  Flood(4, duration, [&](int) {
    static thread_local grpc::GenericStub stub(target.NewChannel());
    grpc::ClientContext context;
    tally.Add(RawCall(stub, context, absl::StrCat("/A", RandomHex(16), "\"q/x"),
                      "\x0a\x01x"));
  });
  const size_t lines_after = MetricsLines(target);
  out.load = absl::StrCat(tally.total(), " calls to made-up method paths");
  out.result = absl::StrCat(tally.Summary(), "; /metrics ", lines_before,
                            " -> ", lines_after, " lines");
  if (lines_after > lines_before + 40) {
    out.missed.push_back("unknown methods grew /metrics");
  }
}

void OversizedGrpc(Target& target, absl::Duration duration, Outcome& out) {
  Tally tally;
  SetMyProfileImageRequest upload;  // The largest a method accepts.
  upload.set_image(std::string(10 << 20, 'i'));
  SignInRequest sign_in;  // 1 MiB where 64 KiB is the limit.
  sign_in.set_identifier("x@abuse.example");
  sign_in.set_password(std::string(1 << 20, 'p'));
  // Serialized once: the attacker's CPU goes to sending, as a real one's
  // would (serialized per call, the harness took 1.3-1.6 of the 2 cores and
  // left the server 0.4-0.5).
  const std::string upload_bytes = upload.SerializeAsString();
  const std::string sign_in_bytes = sign_in.SerializeAsString();
  // 32 connections: enough 10 MiB uploads in flight to keep the public
  // port's request quota full.
  Flood(32, duration, [&](int t) {
    static thread_local grpc::GenericStub stub(target.NewChannel());
    const bool uploads = t % 2 == 0;
    tally.Add(RawCall(stub, *Context(false),
                      uploads ? "/roster.v1.FrontendUsers/SetMyProfileImage"
                              : "/roster.v1.FrontendUsers/SignIn",
                      uploads ? upload_bytes : sign_in_bytes));
  });
  out.load = absl::StrCat(
      tally.total(),
      " calls on 32 connections: 10 MiB uploads and 1 MiB sign-ins, no "
      "credentials");
  out.result = tally.Summary();
  if (tally.count("OK") > 0) {
    out.missed.push_back("an oversized call succeeded");
  }
}

void HttpLargeBodies(Target& target, absl::Duration duration, Outcome& out) {
  std::atomic<int64_t> sent{0};
  Tally answers;
  const std::string chunk(1 << 20, 'b');
  Flood(8, duration, [&](int) {
    const int fd = testing::ConnectFrom(target.http_port(), "127.0.0.1");
    if (fd < 0) {
      return;
    }
    const std::string head =
        "POST /v1/images/x HTTP/1.1\r\nHost: a\r\nContent-Length: "
        "400000000\r\n\r\n";
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    for (int i = 0; i < 64; ++i) {  // Up to 64 MiB, until cut off.
      const ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        break;
      }
      sent += n;
    }
    char status[16] = {};
    const ssize_t n = recv(fd, status, sizeof(status) - 1, 0);
    answers.Add(n > 12 && std::string(status + 9, 3) == "413"
                    ? grpc::Status::OK
                    : grpc::Status(grpc::StatusCode::ABORTED, "cut off"));
    close(fd);
  });
  out.load = absl::StrCat(answers.total(),
                          " POSTs declaring 400 MB, up to 64 MiB sent each (",
                          sent / (1 << 20), " MiB in all)");
  out.result = absl::StrCat(answers.count("OK"), " answered 413, ",
                            answers.total() - answers.count("OK"), " cut off");
}

void Slowloris(Target& target, absl::Duration duration, Outcome& out) {
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    const int fd = testing::ConnectFrom(target.http_port(), "127.0.0.2");
    if (fd >= 0) {
      send(fd, "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL);
      fds.push_back(fd);
    }
  }
  const size_t opened = fds.size();
  size_t cut = 0;
  const absl::Time deadline = absl::Now() + duration;
  absl::Time next_byte = absl::Now() + absl::Milliseconds(500);
  while (absl::Now() < deadline && !fds.empty()) {
    // Until the next byte is due, wait for the server to close any of them
    // (readable with nothing to read); one header byte per connection every
    // half second: slow on purpose.
    std::vector<pollfd> polled;
    polled.reserve(fds.size());
    for (int fd : fds) {
      polled.push_back({fd, POLLIN, 0});
    }
    const int wait_ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(next_byte - absl::Now())));
    poll(polled.data(), polled.size(), wait_ms);
    const bool byte_due = absl::Now() >= next_byte;
    if (byte_due) {
      next_byte += absl::Milliseconds(500);
    }
    std::vector<int> open;
    for (const pollfd& p : polled) {
      char ignored[256];
      const bool closed =
          (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
          recv(p.fd, ignored, sizeof(ignored), MSG_DONTWAIT) <= 0;
      if (closed || (byte_due && send(p.fd, "X", 1, MSG_NOSIGNAL) <= 0)) {
        close(p.fd);
        ++cut;
      } else {
        open.push_back(p.fd);
      }
    }
    fds = std::move(open);
  }
  // Legitimate HTTP from another address still gets an answer.
  httplib::Client client("127.0.0.1", target.http_port());
  client.set_read_timeout(2, 0);
  auto response = client.Get("/healthz");
  for (int fd : fds) {
    close(fd);
  }
  out.load = absl::StrCat(opened,
                          " connections from one address, a header "
                          "byte every 500 ms");
  out.result = absl::StrCat(cut,
                            " cut off by the server within the run; "
                            "legitimate HTTP from another address ",
                            response ? "answered" : "NOT answered");
  if (!response) {
    out.missed.push_back("legitimate HTTP starved");
  }
}

void SignInFlood(Target& target, absl::Duration duration, Outcome& out) {
  target.CreateUser("victim@abuse.example", "the victim's password");
  Tally tally;
  Flood(8, duration, [&](int t) {
    static thread_local auto stub = FrontendUsers::NewStub(target.NewChannel());
    SignInRequest sign_in;
    sign_in.set_identifier(t % 2 == 0 ? "victim@abuse.example"
                                      : RandomHex(8) + "@abuse.example");
    sign_in.set_password(RandomHex(8));
    SignInResponse response;
    tally.Add(stub->SignIn(Context(false).get(), sign_in, &response));
  });
  out.load = absl::StrCat(tally.total(),
                          " wrong sign-ins (a real and unknown identifiers)");
  out.result = tally.Summary();
}

void HeavyDigestSignIn(Target& target, absl::Duration duration, Outcome& out) {
  // The costliest digest an import may bring: argon2id at 128 MiB.
  char digest[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(digest, "imported", 8, 1, size_t{128} << 20,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    out.missed.push_back("could not make the digest");
    return;
  }
  std::vector<std::string> emails;
  for (int i = 0; i < 20; ++i) {
    CreateUserRequest create;
    emails.push_back(absl::StrCat("heavy", i, "@abuse.example"));
    create.add_email_addresses(emails.back());
    create.set_password_digest(digest);
    create.set_password_hasher("argon2id");
    User user;
    target.backend().CreateUser(Context(true).get(), create, &user);
  }
  Tally tally;
  std::atomic<size_t> next{0};
  Flood(8, duration, [&](int) {
    static thread_local auto stub = FrontendUsers::NewStub(target.NewChannel());
    SignInRequest sign_in;
    sign_in.set_identifier(emails[next++ % emails.size()]);
    sign_in.set_password("wrong");
    SignInResponse response;
    tally.Add(stub->SignIn(Context(false).get(), sign_in, &response));
  });
  out.load = absl::StrCat(tally.total(),
                          " wrong sign-ins across 20 users with 128 MiB "
                          "argon2id digests");
  out.result = tally.Summary();
}

void RefreshFlood(Target& target, absl::Duration duration, Outcome& out) {
  Tally tally;
  Flood(8, duration, [&](int) {
    static thread_local auto stub = FrontendUsers::NewStub(target.NewChannel());
    RefreshSessionTokenRequest refresh;
    refresh.set_session_id("sess_" + RandomHex(16));
    refresh.set_session_secret(RandomHex(32));
    RefreshSessionTokenResponse response;
    tally.Add(
        stub->RefreshSessionToken(Context(false).get(), refresh, &response));
  });
  out.load = absl::StrCat(tally.total(), " refreshes with made-up sessions");
  out.result = tally.Summary();
  if (tally.count("OK") > 0) {
    out.missed.push_back("a made-up session refreshed");
  }
}

// Sign-ups with a password each (an argon2id hash apiece if admitted) from one
// address, every other one with a made-up invitation ticket: only
// --sign_ups_per_address_per_hour (20) may start or reach the ticket check.
// A good ticket counts against itself instead; a made-up one must buy nothing.
void SignUpFlood(Target& target, absl::Duration duration, Outcome& out) {
  Tally tally;
  std::atomic<int64_t> next{0};
  Flood(8, duration, [&](int) {
    static thread_local auto stub = FrontendUsers::NewStub(target.NewChannel());
    const int64_t n = next++;
    CreateSignUpRequest create;
    create.set_email_address(absl::StrCat("flood", n, "@abuse.example"));
    create.set_password("correct horse battery");
    if (n % 2 == 1) {
      create.set_ticket("tkt_" + RandomHex(22));
    }
    SignUpResponse response;
    tally.Add(stub->CreateSignUp(Context(false).get(), create, &response));
  });
  out.load = absl::StrCat(tally.total(),
                          " sign-ups from one address, half with made-up "
                          "invitation tickets");
  out.result = tally.Summary();
  const int64_t admitted =
      tally.total() - tally.count("RESOURCE_EXHAUSTED/TOO_MANY_ATTEMPTS");
  if (admitted > 20) {
    out.missed.push_back(absl::StrCat(
        admitted, " sign-ups past the address limit, which is 20"));
  }
}

void CodeSendFlood(Target& target, absl::Duration duration, Outcome& out) {
  const std::string token =
      target.SessionToken(target.CreateUser("sender@abuse.example", ""));
  auto stub = FrontendUsers::NewStub(target.NewChannel());
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    CreateMyEmailAddressRequest create;
    create.set_email_address(absl::StrCat("to", i, "@abuse.example"));
    EmailAddress address;
    if (stub->CreateMyEmailAddress(SessionContext(token).get(), create,
                                   &address)
            .ok()) {
      ids.push_back(address.id());
    }
  }
  Tally tally;
  std::atomic<size_t> next{0};
  Flood(4, duration, [&](int) {
    if (ids.empty()) {
      return;
    }
    PrepareEmailAddressVerificationRequest prepare;
    prepare.set_email_address_id(ids[next++ % ids.size()]);
    EmailAddress address;
    tally.Add(stub->PrepareEmailAddressVerification(SessionContext(token).get(),
                                                    prepare, &address));
  });
  out.load = absl::StrCat(tally.total(), " code requests across ", ids.size(),
                          " addresses of one account");
  out.result =
      absl::StrCat(tally.count("OK"), " codes issued; ", tally.Summary());
  if (tally.count("OK") > 10) {
    out.missed.push_back("more than --codes_per_user_per_hour (10) codes");
  }
}

void MetadataPatchBombs(Target& target, absl::Duration duration, Outcome& out) {
  const std::string token =
      target.SessionToken(target.CreateUser("patcher@abuse.example", ""));
  UpdateMyMetadataRequest bomb;  // 3,000 nulls: merges to nothing, 60 KiB.
  for (int i = 0; i < 3000; ++i) {
    (*bomb.mutable_unsafe_metadata()
          ->mutable_fields())[absl::StrCat("k", i, RandomHex(4))]
        .set_null_value(google::protobuf::NULL_VALUE);
  }
  Tally tally;
  Flood(4, duration, [&](int) {
    static thread_local auto stub = FrontendUsers::NewStub(target.NewChannel());
    FrontendUser user;
    tally.Add(stub->UpdateMyMetadata(SessionContext(token).get(), bomb, &user));
  });
  out.load = absl::StrCat(tally.total(), " merge patches of 3,000 nulls (",
                          bomb.ByteSizeLong() >> 10, " KiB)");
  out.result = tally.Summary();
  if (tally.count("OK") > 0) {
    out.missed.push_back("a patch above 16 KiB was merged");
  }
}

void SessionFlood(Target& target, absl::Duration duration, Outcome& out) {
  const std::string id =
      target.CreateUser("sessions@abuse.example", "sessions password");
  Tally tally;
  Flood(4, duration, [&](int) {
    static thread_local auto stub = FrontendUsers::NewStub(target.NewChannel());
    SignInRequest sign_in;
    sign_in.set_identifier("sessions@abuse.example");
    sign_in.set_password("sessions password");
    SignInResponse response;
    tally.Add(stub->SignIn(Context(false).get(), sign_in, &response));
  });
  ListSessionsRequest list;
  list.set_user_id(id);
  list.set_limit(500);
  ListSessionsResponse sessions;
  target.backend().ListSessions(Context(true).get(), list, &sessions);
  int active = 0;
  for (const auto& session : sessions.sessions()) {
    active += session.status() == Session::STATUS_ACTIVE ? 1 : 0;
  }
  out.load = absl::StrCat(tally.total(), " sign-ins to one account");
  out.result =
      absl::StrCat(tally.Summary(), "; kept ", sessions.sessions_size(),
                   " sessions, ", active, " active");
  if (active > 100 || sessions.sessions_size() > 200) {
    out.missed.push_back("more than 100 active or 200 kept sessions");
  }
}

void EventChurn(Target& target, absl::Duration duration, Outcome& out) {
  const std::string token =
      target.SessionToken(target.CreateUser("churn@abuse.example", ""));
  Tally tally;
  std::atomic<int> next{0};
  Flood(4, duration, [&](int) {
    static thread_local auto stub = FrontendUsers::NewStub(target.NewChannel());
    UpdateMeRequest update;
    update.set_first_name(absl::StrCat("Name", next++));
    FrontendUser user;
    tally.Add(stub->UpdateMe(SessionContext(token).get(), update, &user));
  });
  out.load = absl::StrCat(tally.total(), " profile changes by one user");
  out.result =
      absl::StrCat(tally.count("OK"), " events written; ", tally.Summary());
  if (tally.count("OK") > 120) {
    out.missed.push_back(
        "more than --self_service_writes_per_hour (120) changes");
  }
}

void WatchStreams(Target& target, absl::Duration duration, Outcome& out) {
  // A backend (it has the key) holding 500 streams while users are created.
  // One event first, so an admitted stream answers its first read with it
  // and a refused one with its status.
  target.CreateUser("first@abuse.example", "");
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<Event>>> readers;
  std::vector<std::unique_ptr<BackendUsers::Stub>> stubs;
  for (int c = 0; c < 10; ++c) {
    stubs.push_back(BackendUsers::NewStub(target.NewBackendChannel()));
    for (int s = 0; s < 50; ++s) {
      contexts.push_back(Context(true));
      readers.push_back(stubs.back()->WatchEvents(contexts.back().get(),
                                                  WatchEventsRequest()));
    }
  }
  int admitted = 0;
  Tally refused;
  std::vector<bool> open(readers.size(), false);
  for (size_t i = 0; i < readers.size(); ++i) {
    Event first;
    open[i] = readers[i]->Read(&first);
    if (open[i]) {
      ++admitted;
    } else {
      refused.Add(readers[i]->Finish());
    }
  }
  Tally tally;
  std::atomic<int> next{0};
  Flood(1, duration, [&](int) {
    CreateUserRequest create;
    create.set_first_name(absl::StrCat("Watched", next++));
    User user;
    tally.Add(target.backend().CreateUser(Context(true).get(), create, &user));
  });
  for (auto& context : contexts) {
    context->TryCancel();
  }
  for (size_t i = 0; i < readers.size(); ++i) {
    if (open[i]) {
      readers[i]->Finish();
    }
  }
  out.load = absl::StrCat(readers.size(),
                          " WatchEvents streams opened (with the key) while ",
                          tally.total(), " users were created");
  out.result = absl::StrCat(tally.Summary(), "; ", admitted,
                            " streams admitted, refused: ", refused.Summary());
  if (admitted > 100) {
    out.missed.push_back(
        absl::StrCat(admitted, " streams admitted, limit 100"));
  }
}

}  // namespace

std::vector<Attack> AllAttacks() {
  std::vector<Attack> attacks = {
      {"unknown method paths", {}, UnknownMethods},
      {"oversized gRPC messages", {}, OversizedGrpc},
      {"oversized HTTP bodies", {}, HttpLargeBodies},
      {"slowloris (HTTP)", {}, Slowloris},
      {"sign-in flood (passwords)", {}, SignInFlood},
      {"sign-in flood (imported heavy digests)", {}, HeavyDigestSignIn},
      {"refresh flood with garbage", {}, RefreshFlood},
      {"sign-up flood from one address", {}, SignUpFlood},
      {"code sends across identifiers", {}, CodeSendFlood},
      {"metadata patch bombs", {}, MetadataPatchBombs},
      {"session flood", {}, SessionFlood},
      {"event churn by one user", {}, EventChurn},
      {"many WatchEvents streams", {}, WatchStreams},
  };
  for (Attack& attack : Http2Attacks()) {
    attacks.push_back(std::move(attack));
  }
  return attacks;
}

}  // namespace roster::abuse

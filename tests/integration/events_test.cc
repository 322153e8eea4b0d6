// The events outbox end to end: WatchEvents and ListEvents on a real server
// over loopback.
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/test_server.h"
#include "tests/testing/watcher.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::Watcher;
using ::testing::ElementsAre;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

std::vector<std::string> Types(const std::vector<Event>& events) {
  std::vector<std::string> types;
  types.reserve(events.size());
  for (const auto& e : events) {
    types.push_back(e.type());
  }
  return types;
}

std::vector<int64_t> Sequences(const std::vector<Event>& events) {
  std::vector<int64_t> sequences;
  sequences.reserve(events.size());
  for (const auto& e : events) {
    sequences.push_back(e.sequence());
  }
  return sequences;
}

// The user as an event carries it, minus the one field derived from the time of
// reading.
User Comparable(User user) {
  user.clear_lockout_expires_in_seconds();
  return user;
}

class EventsTest : public ::testing::Test {
 protected:
  User Create(const std::string& email = "") {
    CreateUserRequest request;
    if (!email.empty()) {
      request.add_email_addresses(email);
    }
    User user;
    grpc::Status status = stub_->CreateUser(Authed().get(), request, &user);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return user;
  }
  User Ban(const std::string& id, bool banned) {
    User user;
    if (banned) {
      BanUserRequest request;
      request.set_user_id(id);
      EXPECT_TRUE(stub_->BanUser(Authed().get(), request, &user).ok());
    } else {
      UnbanUserRequest request;
      request.set_user_id(id);
      EXPECT_TRUE(stub_->UnbanUser(Authed().get(), request, &user).ok());
    }
    return user;
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
};

TEST_F(EventsTest, EveryMutatingRpcEmitsExactlyItsEventWithTheFullPayload) {
  Watcher watcher(*stub_, 0);
  std::vector<std::pair<std::string, User>> expected;
  CreateUserRequest create;
  create.add_email_addresses("events@example.com");
  create.set_request_id("create-1");
  (*create.mutable_private_metadata()->mutable_fields())["secret"]
      .set_string_value("s");
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  expected.emplace_back("user.created", user);
  const std::string id = user.id();

  auto update_context = Authed();
  update_context->AddMetadata("x-request-id", "update-2");
  UpdateUserRequest update;
  update.set_user_id(id);
  update.set_first_name("Eve");
  ASSERT_TRUE(stub_->UpdateUser(update_context.get(), update, &user).ok());
  expected.emplace_back("user.updated", user);
  UpdateUserMetadataRequest merge;
  merge.set_user_id(id);
  (*merge.mutable_public_metadata()->mutable_fields())["plan"].set_string_value(
      "pro");
  ASSERT_TRUE(stub_->UpdateUserMetadata(Authed().get(), merge, &user).ok());
  expected.emplace_back("user.updated", user);
  ReplaceUserMetadataRequest replace;
  replace.set_user_id(id);
  replace.mutable_unsafe_metadata();
  (*replace.mutable_unsafe_metadata()->mutable_fields())["x"].set_bool_value(
      true);
  ASSERT_TRUE(stub_->ReplaceUserMetadata(Authed().get(), replace, &user).ok());
  expected.emplace_back("user.updated", user);
  expected.emplace_back("user.updated", Ban(id, true));
  expected.emplace_back("user.updated", Ban(id, false));
  LockUserRequest lock;
  lock.set_user_id(id);
  ASSERT_TRUE(stub_->LockUser(Authed().get(), lock, &user).ok());
  expected.emplace_back("user.updated", user);
  UnlockUserRequest unlock;
  unlock.set_user_id(id);
  ASSERT_TRUE(stub_->UnlockUser(Authed().get(), unlock, &user).ok());
  expected.emplace_back("user.updated", user);

  // Failures and no-ops emit nothing.
  update.set_etag("\"1\"");
  EXPECT_EQ(stub_->UpdateUser(Authed().get(), update, &user).error_code(),
            grpc::ABORTED);
  // Idempotent retry: the same user, and no event.
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  EXPECT_EQ(user.id(), id);
  CreateUserRequest clash;
  clash.add_email_addresses("EVENTS@example.com");
  EXPECT_EQ(stub_->CreateUser(Authed().get(), clash, &user).error_code(),
            grpc::ALREADY_EXISTS);
  Ban(id, false);  // Already unbanned.

  DeleteUserRequest del;
  del.set_user_id(id);
  DeletedObject deleted;
  ASSERT_TRUE(stub_->DeleteUser(Authed().get(), del, &deleted).ok());

  std::vector<Event> events =
      watcher.Next(static_cast<int>(expected.size()) + 1);
  ASSERT_EQ(events.size(), expected.size() + 1);
  for (size_t i = 0; i < expected.size(); ++i) {
    const Event& e = events[i];
    EXPECT_EQ(e.sequence(), static_cast<int64_t>(i) + 1);
    EXPECT_EQ(e.type(), expected[i].first);
    EXPECT_EQ(e.user_id(), id);
    EXPECT_TRUE(absl::StartsWith(e.id(), "evt_"));
    EXPECT_TRUE(absl::StartsWith(e.actor(), "secret_key:")) << e.actor();
    ASSERT_EQ(e.payload_case(), Event::kUser) << i;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        Comparable(e.user()), Comparable(expected[i].second)))
        << "event " << i << ":\n"
        << e.user().ShortDebugString() << "\nresponse:\n"
        << expected[i].second.ShortDebugString();
  }
  EXPECT_EQ(events[0].request_id(), "create-1");
  EXPECT_EQ(events[1].request_id(), "update-2");
  EXPECT_EQ(events[2].request_id(), "");
  const Event& last = events.back();
  EXPECT_EQ(last.type(), "user.deleted");
  EXPECT_EQ(last.sequence(), static_cast<int64_t>(expected.size()) + 1);
  ASSERT_EQ(last.payload_case(), Event::kDeletedObject);
  EXPECT_EQ(last.deleted_object().id(), id);
  EXPECT_TRUE(last.deleted_object().deleted());
}

TEST_F(EventsTest, WatcherFromZeroGetsEveryStoredEventThenLiveOnes) {
  std::vector<std::string> ids;
  ids.reserve(5);
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Create().id());
  }
  Watcher watcher(*stub_, 0);
  std::vector<Event> history = watcher.Next(5);
  EXPECT_THAT(Sequences(history), ElementsAre(1, 2, 3, 4, 5));
  Ban(ids[2], true);
  Create();
  std::vector<Event> live = watcher.Next(2);
  EXPECT_THAT(Sequences(live), ElementsAre(6, 7));
  EXPECT_THAT(Types(live), ElementsAre("user.updated", "user.created"));
  EXPECT_EQ(live[0].user_id(), ids[2]);
}

TEST_F(EventsTest, TypeFilterAndResumingFromACursorAcrossARestart) {
  for (int i = 0; i < 4; ++i) {
    Ban(Create().id(), true);  // created, updated × 4 = 8 events.
  }
  {
    Watcher watcher(*stub_, 0);
    EXPECT_THAT(Sequences(watcher.Next(3)), ElementsAre(1, 2, 3));
  }
  server_.Restart();
  stub_ = server_.Backend();
  Watcher resumed(*stub_, 3);
  EXPECT_THAT(Sequences(resumed.Next(5)), ElementsAre(4, 5, 6, 7, 8));
  Watcher created_only(*stub_, 2, {"user.created"});
  EXPECT_THAT(Sequences(created_only.Next(3)), ElementsAre(3, 5, 7));
  Create();
  EXPECT_THAT(Sequences(created_only.Next(1)), ElementsAre(9));
}

TEST_F(EventsTest, AReplayLongerThanABatchAfterARestartNeedsNoNewCommit) {
  // Past one read's batch (100), and a restart so that the server has heard
  // of no commit: the replay must not wait for one.
  constexpr int kEvents = 250;
  for (int i = 0; i < kEvents; ++i) {
    Create();
  }
  server_.Restart();
  stub_ = server_.Backend();
  Watcher watcher(*stub_, 0, {}, std::chrono::seconds(10));
  const std::vector<Event> replayed = watcher.Next(kEvents);
  ASSERT_EQ(replayed.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(replayed.back().sequence(), kEvents);
}

TEST_F(EventsTest,
       FourWritersAndThreeWatchersEveryWatcherSeesEveryEventOnceInOrder) {
  constexpr int kWriters = 4;
  constexpr int kUsersPerWriter = 200;
  constexpr int kEvents =
      kWriters * kUsersPerWriter * 2;  // A create and a ban each.
  std::vector<std::unique_ptr<Watcher>> watchers;
  watchers.reserve(3);
  for (int i = 0; i < 3; ++i) {
    watchers.push_back(std::make_unique<Watcher>(*stub_, 0));
  }
  std::vector<std::vector<Event>> received(watchers.size());
  std::vector<std::thread> readers;
  for (size_t w = 0; w < watchers.size(); ++w) {
    readers.emplace_back([&, w] { received[w] = watchers[w]->Next(kEvents); });
  }
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      auto stub = server_.Backend();
      for (int i = 0; i < kUsersPerWriter; ++i) {
        User user;
        ASSERT_TRUE(
            stub->CreateUser(Authed().get(), CreateUserRequest(), &user).ok());
        BanUserRequest ban;
        ban.set_user_id(user.id());
        ASSERT_TRUE(stub->BanUser(Authed().get(), ban, &user).ok());
      }
    });
  }
  for (auto& t : writers) {
    t.join();
  }
  for (auto& t : readers) {
    t.join();
  }
  for (const auto& events : received) {
    ASSERT_EQ(events.size(), static_cast<size_t>(kEvents));
    for (size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].sequence(), static_cast<int64_t>(i) + 1);
    }
  }
}

TEST_F(EventsTest, AStalledWatcherDoesNotSlowWritersOrOtherWatchers) {
  // A client that never reads: its stream stops at the flow-control window.
  Watcher stalled(*stub_, 0);
  Watcher live(*stub_, 0);
  constexpr int kUsers = 300;
  std::vector<Event> live_events;
  std::thread reader([&] { live_events = live.Next(kUsers); });
  const std::string big(
      6000, 'x');  // ~2 MB of payloads in all: more than any window.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kUsers; ++i) {
    CreateUserRequest create;
    (*create.mutable_private_metadata()->mutable_fields())["blob"]
        .set_string_value(big);
    User user;
    ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  }
  const auto writing = std::chrono::steady_clock::now() - start;
  reader.join();
  EXPECT_EQ(live_events.size(), static_cast<size_t>(kUsers));
  EXPECT_LT(writing, std::chrono::seconds(20));
  // The stalled watcher lost nothing: it resumes where it stopped.
  std::vector<Event> late = stalled.Next(kUsers);
  ASSERT_EQ(late.size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(late.back().sequence(), kUsers);
}

TEST_F(EventsTest, ListEventsPagesAndFilters) {
  std::vector<std::string> ids;
  ids.reserve(5);
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Create().id());
  }
  Ban(ids[1], true);
  ListEventsRequest request;
  request.set_limit(2);
  std::vector<int64_t> seen;
  while (true) {
    ListEventsResponse page;
    ASSERT_TRUE(stub_->ListEvents(Authed().get(), request, &page).ok());
    for (const auto& e : page.events()) {
      seen.push_back(e.sequence());
    }
    if (page.next_page_token().empty()) {
      break;
    }
    request.set_page_token(page.next_page_token());
  }
  EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5, 6));
  ListEventsRequest about;
  about.set_user_id(ids[1]);
  ListEventsResponse page;
  ASSERT_TRUE(stub_->ListEvents(Authed().get(), about, &page).ok());
  ASSERT_EQ(page.events_size(), 2);
  EXPECT_EQ(page.events(1).type(), "user.updated");
  EXPECT_TRUE(page.events(1).user().banned());
  ListEventsRequest ahead;
  ahead.set_after_sequence(99);
  EXPECT_EQ(stub_->ListEvents(Authed().get(), ahead, &page).error_code(),
            grpc::INVALID_ARGUMENT);
}

TEST_F(EventsTest, EventRpcsNeedTheSecretKeyAndRejectBadRequestIds) {
  grpc::ClientContext list_context;
  ListEventsResponse page;
  EXPECT_EQ(
      stub_->ListEvents(&list_context, ListEventsRequest(), &page).error_code(),
      grpc::UNAUTHENTICATED);
  grpc::ClientContext watch_context;
  auto reader = stub_->WatchEvents(&watch_context, WatchEventsRequest());
  Event event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(ReasonOf(status), "UNAUTHENTICATED");

  auto context = Authed();
  context->AddMetadata("x-request-id", "not valid!");
  User user;
  status = stub_->CreateUser(context.get(), CreateUserRequest(), &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(testing::ViolatedFields(status), ElementsAre("x-request-id"));
}

TEST(EventsShutdownTest, ShutdownEndsStreamsWithUnavailableAndTheirCursor) {
  TestServer server;
  auto stub = server.Backend();
  User user;
  ASSERT_TRUE(
      stub->CreateUser(Authed().get(), CreateUserRequest(), &user).ok());
  Watcher watcher(*stub, 0);
  ASSERT_EQ(watcher.Next(1).size(), 1u);  // Now idle, waiting for live events.
  const auto start = std::chrono::steady_clock::now();
  server.server().Shutdown(absl::Seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  grpc::Status status = watcher.Finish();
  EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("after_sequence 1"));
}

TEST(EventsStreamLimitTest, StreamsPastTheLimitAreRefusedUntilOneEnds) {
  TestServer server(
      [](app::ServerConfig& config) { config.max_event_streams = 2; });
  auto stub = server.Backend();
  CreateUserRequest create;
  User user;
  ASSERT_TRUE(stub->CreateUser(Authed().get(), create, &user).ok());
  auto first = std::make_unique<Watcher>(*stub, 0);
  Watcher second(*stub, 0);
  // Both are open: each has its first event.
  ASSERT_EQ(first->Next(1).size(), 1u);
  ASSERT_EQ(second.Next(1).size(), 1u);
  Watcher third(*stub, 0);
  const grpc::Status refused = third.Finish();
  EXPECT_EQ(refused.error_code(), grpc::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(refused), "OVERLOADED");
  // Ending one frees its slot (the server learns of the cancel
  // asynchronously, so a new stream may take a few tries).
  first.reset();
  bool admitted = false;
  for (int i = 0; i < 200 && !admitted; ++i) {
    Watcher again(*stub, 0);
    admitted = again.Next(1).size() == 1u;
  }
  EXPECT_TRUE(admitted);
}

TEST(EventsRetentionTest, PrunedEventsMakeOldCursorsOutOfRange) {
  TestServer server([](app::ServerConfig& config) {
    config.events_retention = absl::Hours(1);
  });
  auto stub = server.Backend();
  for (int i = 0; i < 3; ++i) {
    User user;
    ASSERT_TRUE(
        stub->CreateUser(Authed().get(), CreateUserRequest(), &user).ok());
  }
  server.AdvanceClock(absl::Hours(1) + absl::Seconds(1));
  auto pruned = server.server().PruneEventsForTest();
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3);

  Watcher expired(*stub, 1);
  grpc::Status status = expired.Finish();
  EXPECT_EQ(status.error_code(), grpc::OUT_OF_RANGE);
  EXPECT_EQ(ReasonOf(status), "CURSOR_EXPIRED");
  ListEventsRequest list;
  list.set_after_sequence(2);
  ListEventsResponse page;
  EXPECT_EQ(stub->ListEvents(Authed().get(), list, &page).error_code(),
            grpc::OUT_OF_RANGE);

  Watcher from_start(*stub, 0);
  User user;
  ASSERT_TRUE(
      stub->CreateUser(Authed().get(), CreateUserRequest(), &user).ok());
  EXPECT_THAT(Sequences(from_start.Next(1)), ElementsAre(4));
}

}  // namespace
}  // namespace roster

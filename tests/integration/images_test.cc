// Profile images end to end: uploads through both services on a real server,
// and the bytes fetched back from its HTTP listener.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::roster::testing::WithToken;
using namespace roster::v1;  // NOLINT: the request and response types of the
                             // API under test.

std::string Bytes(std::initializer_list<unsigned char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// A 1x1 PNG and a 1x1 GIF, byte for byte.
const std::string kPng = Bytes(
    {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D,
     0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
     0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
     0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x00, 0x02, 0x00,
     0x00, 0x05, 0x00, 0x01, 0xE9, 0xFA, 0xDC, 0xD8, 0x00, 0x00, 0x00, 0x00,
     0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82});
const std::string kGif =
    Bytes({0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
           0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04,
           0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x01,
           0x00, 0x01, 0x00, 0x00, 0x02, 0x01, 0x44, 0x00, 0x3B});
// A 1x1 lossless WebP.
const std::string kWebp = Bytes(
    {0x52, 0x49, 0x46, 0x46, 0x1A, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50,
     0x56, 0x50, 0x38, 0x4C, 0x0D, 0x00, 0x00, 0x00, 0x2F, 0x00, 0x00, 0x00,
     0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xFE, 0x07, 0x00});
// The start of a JFIF file: recognition is by these magic bytes.
const std::string kJpeg =
    Bytes({0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46,
           0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00}) +
    std::string(64, '\x11') + Bytes({0xFF, 0xD9});

class ImagesTest : public ::testing::Test {
 protected:
  User NewUser(const std::string& email) {
    CreateUserRequest create;
    create.add_email_addresses(email);
    User user;
    EXPECT_TRUE(backend_->CreateUser(Authed().get(), create, &user).ok());
    return user;
  }

  grpc::Status SetImage(const std::string& user_id, const std::string& image,
                        User* out) {
    SetProfileImageRequest request;
    request.set_user_id(user_id);
    request.set_image(image);
    return backend_->SetProfileImage(Authed().get(), request, out);
  }

  // GET of an image_url's path from the server's HTTP listener.
  httplib::Result Fetch(const std::string& image_url,
                        const httplib::Headers& headers = {}) {
    const std::string base =
        absl::StrCat("http://127.0.0.1:", server_.server().http_port());
    EXPECT_EQ(image_url.rfind(base, 0), 0u) << image_url;
    httplib::Client client("127.0.0.1", server_.server().http_port());
    return client.Get(image_url.substr(base.size()).c_str(), headers);
  }

  TestServer server_{
      [](app::ServerConfig& config) { config.http_listen = "127.0.0.1:0"; }};
  std::unique_ptr<BackendUsers::Stub> backend_ = server_.Backend();
};

TEST_F(ImagesTest, EachFormatIsStoredAndServedByteForByte) {
  const User user = NewUser("ada@example.com");
  EXPECT_FALSE(user.has_image());
  const std::pair<const std::string*, const char*> formats[] = {
      {&kPng, "image/png"},
      {&kJpeg, "image/jpeg"},
      {&kGif, "image/gif"},
      {&kWebp, "image/webp"}};
  std::string previous_url;
  for (const auto& [bytes, type] : formats) {
    User updated;
    ASSERT_TRUE(SetImage(user.id(), *bytes, &updated).ok()) << type;
    EXPECT_TRUE(updated.has_image());
    EXPECT_THAT(updated.image_url(), ::testing::HasSubstr("/v1/images/img_"));
    auto response = Fetch(updated.image_url());
    ASSERT_TRUE(response) << type;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, *bytes) << type;
    EXPECT_EQ(response->get_header_value("Content-Type"), type);
    EXPECT_THAT(response->get_header_value("Cache-Control"),
                ::testing::HasSubstr("immutable"));
    const std::string etag = response->get_header_value("ETag");
    EXPECT_THAT(etag, ::testing::MatchesRegex("\"[0-9a-f]{64}\""));
    auto revalidated = Fetch(updated.image_url(), {{"If-None-Match", etag}});
    ASSERT_TRUE(revalidated);
    EXPECT_EQ(revalidated->status, 304);
    EXPECT_TRUE(revalidated->body.empty());
    // Replacing the image removes the previous one.
    if (!previous_url.empty()) {
      auto old = Fetch(previous_url);
      ASSERT_TRUE(old);
      EXPECT_EQ(old->status, 404);
    }
    previous_url = updated.image_url();
  }
}

TEST_F(ImagesTest, AnythingButAnImageOrTooLargeIsRefused) {
  const User user = NewUser("ada@example.com");
  User out;
  // A text file renamed to .png is still text.
  grpc::Status text =
      SetImage(user.id(), "just some notes, not a picture", &out);
  EXPECT_EQ(text.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(text), "INVALID_ARGUMENT_FORMAT");
  EXPECT_THAT(ViolatedFields(text), ::testing::ElementsAre("image"));
  EXPECT_EQ(SetImage(user.id(), "", &out).error_code(), grpc::INVALID_ARGUMENT);

  constexpr size_t kLimit = size_t{10} << 20;
  std::string at_limit = kPng;
  at_limit.resize(kLimit, '\0');
  ASSERT_TRUE(SetImage(user.id(), at_limit, &out).ok());
  std::string over = kPng;
  over.resize(kLimit + 1, '\0');
  grpc::Status too_large = SetImage(user.id(), over, &out);
  EXPECT_EQ(too_large.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(too_large), ::testing::ElementsAre("image"));

  // The refused uploads left the stored image as it was.
  GetUserRequest get;
  get.set_user_id(user.id());
  User current;
  ASSERT_TRUE(backend_->GetUser(Authed().get(), get, &current).ok());
  EXPECT_EQ(current.image_url(), out.image_url());
  auto response = Fetch(current.image_url());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body.size(), kLimit);
}

TEST_F(ImagesTest, DeletingTheImageOrTheUserRemovesIt) {
  const User user = NewUser("ada@example.com");
  User with_image;
  ASSERT_TRUE(SetImage(user.id(), kPng, &with_image).ok());
  DeleteProfileImageRequest remove;
  remove.set_user_id(user.id());
  remove.set_etag("stale");
  User out;
  EXPECT_EQ(
      backend_->DeleteProfileImage(Authed().get(), remove, &out).error_code(),
      grpc::ABORTED);
  remove.set_etag(with_image.etag());
  ASSERT_TRUE(backend_->DeleteProfileImage(Authed().get(), remove, &out).ok());
  EXPECT_FALSE(out.has_image());
  EXPECT_EQ(out.image_url(), "");
  EXPECT_EQ(Fetch(with_image.image_url())->status, 404);

  ASSERT_TRUE(SetImage(user.id(), kGif, &with_image).ok());
  DeleteUserRequest delete_user;
  delete_user.set_user_id(user.id());
  DeletedObject deleted;
  ASSERT_TRUE(backend_->DeleteUser(Authed().get(), delete_user, &deleted).ok());
  EXPECT_EQ(Fetch(with_image.image_url())->status, 404);
  httplib::Client client("127.0.0.1", server_.server().http_port());
  EXPECT_EQ(client.Get("/v1/images/img_unknown")->status, 404);
  EXPECT_EQ(client.Get("/v1/images/../../etc/passwd")->status, 404);
}

TEST_F(ImagesTest, TheSignedInUserSetsAndDeletesTheirOwnImage) {
  const User user = NewUser("ada@example.com");
  CreateSessionRequest session_request;
  session_request.set_user_id(user.id());
  CreateSessionResponse session;
  ASSERT_TRUE(
      backend_->CreateSession(Authed().get(), session_request, &session).ok());
  auto frontend = FrontendUsers::NewStub(server_.channel());

  SetMyProfileImageRequest set;
  set.set_image(kWebp);
  FrontendUser me;
  ASSERT_TRUE(frontend
                  ->SetMyProfileImage(WithToken(session.session_token()).get(),
                                      set, &me)
                  .ok());
  EXPECT_TRUE(me.has_image());
  const std::string url = me.image_url();
  auto response = Fetch(url);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, kWebp);

  set.set_image("GIF88a is not a GIF");
  EXPECT_EQ(frontend
                ->SetMyProfileImage(WithToken(session.session_token()).get(),
                                    set, &me)
                .error_code(),
            grpc::INVALID_ARGUMENT);

  ASSERT_TRUE(
      frontend
          ->DeleteMyProfileImage(WithToken(session.session_token()).get(),
                                 DeleteMyProfileImageRequest(), &me)
          .ok());
  EXPECT_FALSE(me.has_image());
  EXPECT_EQ(Fetch(url)->status, 404);
}

}  // namespace
}  // namespace roster

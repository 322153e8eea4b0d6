// Hostile requests end to end: raw bytes that are not protobuf, strings that
// are not UTF-8, Structs nested past protobuf's recursion limit, messages past
// the receive limit, huge repeated fields, out-of-range limits and unknown
// enum values. Each must get a clear error (INVALID_ARGUMENT with a reason,
// or RESOURCE_EXHAUSTED for size) and the server must keep serving.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "roster/v1/backend_users.grpc.pb.h"
#include "tests/testing/test_server.h"

namespace roster {
namespace {

using ::roster::testing::Authed;
using ::roster::testing::ReasonOf;
using ::roster::testing::TestServer;
using ::roster::testing::ViolatedFields;
using ::testing::Contains;
using ::testing::HasSubstr;
using namespace roster::v1;  // NOLINT: the API under test.

constexpr char kCreateUser[] = "/roster.v1.BackendUsers/CreateUser";
constexpr char kListUsers[] = "/roster.v1.BackendUsers/ListUsers";

// Tag and length prefix of length-delimited field `number`.
std::string LengthDelimited(int number, const std::string& payload) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.WriteTag(static_cast<uint32_t>(number) << 3 | 2);
    coded.WriteVarint32(static_cast<uint32_t>(payload.size()));
    coded.WriteRaw(payload.data(), static_cast<int>(payload.size()));
  }
  return out;
}

int FieldNumber(const google::protobuf::Descriptor* message,
                const std::string& name) {
  return message->FindFieldByName(name)->number();
}

// A Value holding a Struct nested `depth` levels deep.
google::protobuf::Value Nested(int depth) {
  google::protobuf::Value value;
  value.set_string_value("bottom");
  for (int i = 0; i < depth; ++i) {
    google::protobuf::Value outer;
    (*outer.mutable_struct_value()->mutable_fields())["a"] = std::move(value);
    value = std::move(outer);
  }
  return value;
}

class MalformedInputTest : public ::testing::Test {
 protected:
  // `bytes` sent as the request of `method`, authorised as a backend.
  grpc::Status Raw(const std::string& method, const std::string& bytes) {
    return RawAs(method, bytes, testing::kTestSecretKey);
  }
  // `bytes` sent as the request of `method` with `credential` as its bearer
  // (none when empty).
  grpc::Status RawAs(const std::string& method, const std::string& bytes,
                     const std::string& credential) {
    grpc::ClientContext context;
    if (!credential.empty()) {
      context.AddMetadata("authorization", "Bearer " + credential);
    }
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    std::promise<grpc::Status> done;
    generic_.UnaryCall(
        &context, method, grpc::StubOptions(), &request, &response,
        [&](const grpc::Status& status) { done.set_value(status); });
    return done.get_future().get();
  }

  // Starts a call of `method` with `credential` (none when empty) that sends
  // no request message, half-closing when `half_close`, and waits for its
  // status (10 s at most).
  grpc::Status WithoutRequest(const std::string& method,
                              const std::string& credential, bool half_close) {
    grpc::ClientContext context;
    if (!credential.empty()) {
      context.AddMetadata("authorization", "Bearer " + credential);
    }
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    grpc::CompletionQueue queue;
    auto call = generic_.PrepareCall(&context, method, &queue);
    void* tag = nullptr;
    bool ok = false;
    // One operation at a time, each awaited.
    call->StartCall(&tag);
    EXPECT_TRUE(queue.Next(&tag, &ok));
    if (half_close) {
      call->WritesDone(&tag);
      EXPECT_TRUE(queue.Next(&tag, &ok));
    }
    grpc::Status status;
    call->Finish(&status, &tag);
    EXPECT_TRUE(queue.Next(&tag, &ok));
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }
    return status;
  }

  // Calls `visit(method, path)` for each method of both services.
  static void ForEachMethod(
      const std::function<void(const google::protobuf::MethodDescriptor&,
                               const std::string&)>& visit) {
    for (const char* name :
         {"roster.v1.BackendUsers", "roster.v1.FrontendUsers"}) {
      const auto* service =
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
              name);
      ASSERT_NE(service, nullptr);
      for (int i = 0; i < service->method_count(); ++i) {
        visit(*service->method(i),
              absl::StrCat("/", name, "/", service->method(i)->name()));
      }
    }
  }
  // Image uploads and ImportUsers: 11 MiB where every other method has
  // 64 KiB.
  static bool IsUpload(const google::protobuf::MethodDescriptor& method) {
    const std::string& type = method.input_type()->full_name();
    return type == "roster.v1.SetProfileImageRequest" ||
           type == "roster.v1.SetMyProfileImageRequest" ||
           type == "roster.v1.ImportUsersRequest";
  }

  // The server still answers a real call after whatever came before.
  void ExpectStillServing() {
    CreateUserRequest request;
    request.set_first_name("Still");
    User user;
    auto status = stub_->CreateUser(Authed().get(), request, &user);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ++served_;
  }

  void ExpectInvalidRequestMessage(const grpc::Status& status) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_EQ(ReasonOf(status), "INVALID_ARGUMENT_FORMAT");
    EXPECT_THAT(status.error_message(), HasSubstr("request message"));
    ExpectStillServing();
  }

  void ExpectViolation(const grpc::Status& status, const std::string& field) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_THAT(ViolatedFields(status), Contains(field))
        << status.error_message();
    ExpectStillServing();
  }

  TestServer server_;
  std::unique_ptr<BackendUsers::Stub> stub_ = server_.Backend();
  grpc::GenericStub generic_{server_.raw_channel()};
  int served_ = 0;
};

TEST_F(MalformedInputTest, BytesThatAreNotProtobufAreInvalidArgument) {
  // A truncated length prefix, a field number 0, an end-group tag with no
  // start, and a length that runs past the end.
  for (const std::string& garbage :
       {std::string("\x0a\xff", 2), std::string("\x00\x01", 2),
        std::string("\x0c", 1),
        std::string("\x0a\x7f"
                    "abc",
                    5),
        std::string(64, '\xff')}) {
    ExpectInvalidRequestMessage(Raw(kCreateUser, garbage));
  }
  EXPECT_EQ(served_, 5);
}

TEST_F(MalformedInputTest, StringsThatAreNotUtf8AreInvalidArgument) {
  const int first_name =
      FieldNumber(CreateUserRequest::descriptor(), "first_name");
  for (const std::string& bad :
       {std::string("\xff\xfe", 2), std::string("caf\xc3", 4),
        std::string("\xed\xa0\x80", 3) /* a UTF-16 surrogate */,
        std::string("\xc0\xaf", 2) /* overlong '/' */}) {
    ExpectInvalidRequestMessage(
        Raw(kCreateUser, LengthDelimited(first_name, bad)));
  }
  // The same bytes in a repeated filter value of another RPC.
  const int emails =
      FieldNumber(ListUsersRequest::descriptor(), "email_addresses");
  ExpectInvalidRequestMessage(
      Raw(kListUsers, LengthDelimited(emails, "a\xff@example.com")));
}

// U+0000 is valid UTF-8 and valid protobuf, but PostgreSQL's JSON functions
// cannot read it: metadata holding it is refused on both adapters, with the
// field named.
TEST_F(MalformedInputTest, MetadataStringsWithNulAreRefusedWithTheirField) {
  auto stub = server_.Backend();
  CreateUserRequest request;
  (*request.mutable_public_metadata()->mutable_fields())["note"]
      .set_string_value(std::string("a\0b", 3));
  User user;
  const grpc::Status status =
      stub->CreateUser(testing::Authed().get(), request, &user);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_THAT(testing::ViolatedFields(status),
              ::testing::Contains("public_metadata"));
}

TEST_F(MalformedInputTest, StructsNestedPastTheParserLimitAreInvalidArgument) {
  CreateUserRequest request;
  (*request.mutable_public_metadata()->mutable_fields())["deep"] = Nested(200);
  std::string bytes;
  ASSERT_TRUE(request.SerializeToString(&bytes));
  ExpectInvalidRequestMessage(Raw(kCreateUser, bytes));
}

TEST_F(MalformedInputTest, NestingWithinTheParserLimitIsBoundedBySize) {
  // A Struct level is 3 message levels (Value, Struct, map entry), so 25
  // levels parse; the metadata is small, so it is stored and read back.
  CreateUserRequest request;
  (*request.mutable_public_metadata()->mutable_fields())["deep"] = Nested(25);
  User user;
  auto status = stub_->CreateUser(Authed().get(), request, &user);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(user.public_metadata().DebugString(),
            request.public_metadata().DebugString());
  // As deep with long keys, it parses but exceeds the metadata size limit.
  CreateUserRequest wide;
  google::protobuf::Value value = Nested(0);
  for (int i = 0; i < 25; ++i) {
    google::protobuf::Value outer;
    (*outer.mutable_struct_value()->mutable_fields())[std::string(400, 'k')] =
        std::move(value);
    value = std::move(outer);
  }
  (*wide.mutable_public_metadata()->mutable_fields())["deep"] =
      std::move(value);
  status = stub_->CreateUser(Authed().get(), wide, &user);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ReasonOf(status), "METADATA_TOO_LARGE");
  ExpectStillServing();
}

TEST_F(MalformedInputTest, MessagesPastTheReceiveLimitAreResourceExhausted) {
  SetProfileImageRequest request;
  request.set_user_id("user_0000000000000000000000000000");
  request.set_image(std::string(12 << 20, 'x'));
  User response;
  auto status = stub_->SetProfileImage(Authed().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  ExpectStillServing();
}

TEST_F(MalformedInputTest, UploadsAreAuthenticatedBeforeTheyAreParsed) {
  // 10 MiB that is not protobuf: a length prefix that runs past the end.
  const std::string garbage =
      std::string("\x0a\xff\xff\xff\x7f", 5) + std::string(10 << 20, 'x');
  const std::string backend_uploads[] = {
      "/roster.v1.BackendUsers/SetProfileImage",
      "/roster.v1.BackendUsers/ImportUsers"};
  const std::string frontend_upload =
      "/roster.v1.FrontendUsers/SetMyProfileImage";
  // Parsed first, each would be INVALID_ARGUMENT; with no credentials it is
  // refused before anything copies its 10 MiB.
  for (const std::string& method : backend_uploads) {
    EXPECT_EQ(RawAs(method, garbage, "").error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << method;
    EXPECT_EQ(RawAs(method, garbage, "sk_wrong").error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << method;
  }
  EXPECT_EQ(RawAs(frontend_upload, garbage, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(RawAs(frontend_upload, garbage, "not.a.token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Authenticated, the same bytes are parsed and refused as not protobuf.
  for (const std::string& method : backend_uploads) {
    ExpectInvalidRequestMessage(Raw(method, garbage));
  }
  CreateUserRequest create;
  create.set_first_name("Uploader");
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  ExpectInvalidRequestMessage(RawAs(
      frontend_upload, garbage, testing::NewSessionToken(*stub_, user.id())));
}

// An upload's credentials are checked on its metadata alone (DESIGN §14): a
// call that never sends its request is answered at once when they are
// missing or wrong, and with them is refused only once it ends with no
// message. gRPC reads a unary request before it starts the call, so served
// as unary the first would have waited out its deadline.
TEST_F(MalformedInputTest, AnUploadIsAuthenticatedBeforeAnyOfItIsRead) {
  CreateUserRequest create;
  create.set_first_name("Uploader");
  User user;
  ASSERT_TRUE(stub_->CreateUser(Authed().get(), create, &user).ok());
  const std::string token = testing::NewSessionToken(*stub_, user.id());
  const std::pair<std::string, std::string> uploads[] = {
      {"/roster.v1.BackendUsers/SetProfileImage", testing::kTestSecretKey},
      {"/roster.v1.BackendUsers/ImportUsers", testing::kTestSecretKey},
      {"/roster.v1.FrontendUsers/SetMyProfileImage", token}};
  for (const auto& [method, credential] : uploads) {
    for (const std::string& wrong : {std::string(), std::string("wrong")}) {
      const grpc::Status refused = WithoutRequest(method, wrong, false);
      EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << method << ": " << refused.error_message();
    }
    ExpectInvalidRequestMessage(WithoutRequest(method, credential, true));
  }
}

TEST_F(MalformedInputTest, AnOversizedRequestIsRefusedBeforeItIsParsed) {
  // One byte over 64 KiB that is not protobuf: parsed, it would be
  // INVALID_ARGUMENT; refused on its size alone, it never was.
  const std::string garbage =
      std::string("\x0a\xff\xff\xff\x7f", 5) + std::string(64 << 10, 'x');
  int methods = 0;
  ForEachMethod([&](const google::protobuf::MethodDescriptor& method,
                    const std::string& path) {
    if (method.server_streaming() || IsUpload(method)) {
      return;  // Streams and uploads: the test above and below.
    }
    const grpc::Status status = RawAs(path, garbage, "");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << path << ": " << status.error_message();
    EXPECT_EQ(ReasonOf(status), "REQUEST_TOO_LARGE") << path;
    ++methods;
  });
  EXPECT_GE(methods, 70);
  ExpectStillServing();
}

TEST_F(MalformedInputTest,
       EveryMethodRefusesARequestPastItsLimitBeforeAuthentication) {
  // Padding in an unknown field: valid protobuf that every method parses.
  const std::string over = LengthDelimited(100000, std::string(64 << 10, 'x'));
  int methods = 0;
  ForEachMethod([&](const google::protobuf::MethodDescriptor& method,
                    const std::string& path) {
    grpc::Status status;
    if (method.server_streaming()) {
      WatchEventsRequest watch;
      watch.GetReflection()->MutableUnknownFields(&watch)->AddLengthDelimited(
          100000, std::string(64 << 10, 'x'));
      grpc::ClientContext context;  // No credentials.
      auto reader = stub_->WatchEvents(&context, watch);
      Event event;
      EXPECT_FALSE(reader->Read(&event));
      status = reader->Finish();
    } else {
      status = RawAs(path, over, "");  // No credentials.
    }
    ++methods;
    if (IsUpload(method)) {  // Up to 11 MiB: refused for its credentials.
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << path;
      return;
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << path << ": " << status.error_message();
    EXPECT_EQ(ReasonOf(status), "REQUEST_TOO_LARGE") << path;
  });
  EXPECT_GE(methods, 50);
  // Just under the limit is judged on its merits (here: no credentials).
  const std::string under =
      LengthDelimited(100000, std::string((64 << 10) - 16, 'x'));
  grpc::ClientContext context;
  grpc::Slice slice(under);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  generic_.UnaryCall(&context, "/roster.v1.FrontendUsers/SignIn",
                     grpc::StubOptions(), &request, &response,
                     [&](const grpc::Status& s) { done.set_value(s); });
  const grpc::Status status = done.get_future().get();
  EXPECT_NE(ReasonOf(status), "REQUEST_TOO_LARGE") << status.error_message();
  ExpectStillServing();
}

TEST_F(MalformedInputTest, HugeRepeatedFieldsAreRefusedWithTheirField) {
  ListUsersRequest list;
  // Past each field's own limit, within the method's 64 KiB.
  for (int i = 0; i < 2000; ++i) {
    list.add_email_addresses("u" + std::to_string(i) + "@example.com");
  }
  ListUsersResponse listed;
  ExpectViolation(stub_->ListUsers(Authed().get(), list, &listed),
                  "email_addresses");

  ListUsersRequest filters;
  for (int i = 0; i < 1000; ++i) {
    auto* filter = filters.add_metadata_filters();
    filter->set_tier(MetadataFilter::TIER_PUBLIC);
    filter->set_path("plan");
    filter->mutable_value()->set_string_value("pro");
  }
  ExpectViolation(stub_->ListUsers(Authed().get(), filters, &listed),
                  "metadata_filters");

  ImportUsersRequest import;
  for (int i = 0; i < 5000; ++i) {
    import.add_users()->set_first_name("Bulk");
  }
  ImportUsersResponse imported;
  ExpectViolation(stub_->ImportUsers(Authed().get(), import, &imported),
                  "users");

  WatchEventsRequest watch;
  for (int i = 0; i < 2000; ++i) {
    watch.add_types("user.created");
  }
  auto context = Authed();
  auto reader = stub_->WatchEvents(context.get(), watch);
  Event event;
  EXPECT_FALSE(reader->Read(&event));
  ExpectViolation(reader->Finish(), "types");
}

TEST_F(MalformedInputTest, NegativeAndEnormousNumbersAreRefusedNotClamped) {
  for (int limit : {-1, 501, std::numeric_limits<int32_t>::max(),
                    std::numeric_limits<int32_t>::min()}) {
    ListUsersRequest request;
    request.set_limit(limit);
    ListUsersResponse response;
    ExpectViolation(stub_->ListUsers(Authed().get(), request, &response),
                    "limit");
  }
  for (int offset : {-1, 1000001, std::numeric_limits<int32_t>::min()}) {
    ListUsersRequest request;
    request.set_offset(offset);
    ListUsersResponse response;
    ExpectViolation(stub_->ListUsers(Authed().get(), request, &response),
                    "offset");
  }
  ListEventsRequest events;
  events.set_after_sequence(-5);
  ListEventsResponse listed;
  ExpectViolation(stub_->ListEvents(Authed().get(), events, &listed),
                  "after_sequence");
  // A timestamp outside protobuf's valid range (year 0001–9999).
  ListUsersRequest dated;
  dated.mutable_created_at_after()->set_seconds(
      std::numeric_limits<int64_t>::max());
  ListUsersResponse response;
  ExpectViolation(stub_->ListUsers(Authed().get(), dated, &response),
                  "created_at_after");
}

TEST_F(MalformedInputTest, UnknownEnumValuesAreRefusedWithTheirField) {
  ListUsersRequest request;
  auto* filter = request.add_metadata_filters();
  // Proto3 keeps an unknown enum number as-is; the server must not treat it
  // as some tier.
  filter->set_tier(static_cast<MetadataFilter::Tier>(42));
  filter->set_path("plan");
  filter->mutable_value()->set_string_value("pro");
  ListUsersResponse response;
  ExpectViolation(stub_->ListUsers(Authed().get(), request, &response),
                  "metadata_filters[0].tier");
}

TEST_F(MalformedInputTest, UnknownFieldsAreIgnoredAsProtobufPrescribes) {
  // Forward compatibility: a newer client's extra field is not an error.
  CreateUserRequest request;
  request.set_first_name("Newer");
  std::string bytes;
  ASSERT_TRUE(request.SerializeToString(&bytes));
  bytes += LengthDelimited(9999, "from the future");
  EXPECT_TRUE(Raw(kCreateUser, bytes).ok());
}

}  // namespace
}  // namespace roster

// The server as operators and grpcurl meet it: reflection, health, and the
// roster-server binary itself (flags, environment twins, --dev, refusing to
// start without a key, SIGTERM).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "roster/v1/frontend_users.grpc.pb.h"
#include "server/app/cpu_quota.h"
#include "tests/testing/postgres.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_server.h"

extern char** environ;

namespace roster {
namespace {

using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;
using ::roster::testing::Authed;
using ::roster::testing::ServerProcess;
using ::roster::testing::TempDir;
using ::roster::testing::TestServer;
using ::roster::v1::User;
using ::testing::Contains;

// A reflection session, as grpcurl holds one.
class ReflectionClient {
 public:
  explicit ReflectionClient(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(ServerReflection::NewStub(channel)),
        stream_(stub_->ServerReflectionInfo(&context_)) {}
  ~ReflectionClient() {
    stream_->WritesDone();
    const grpc::Status finished = stream_->Finish();
    EXPECT_TRUE(finished.ok())
        << finished.error_code() << " " << finished.error_message();
  }

  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    EXPECT_TRUE(stream_->Write(request));
    ServerReflectionResponse response;
    EXPECT_TRUE(stream_->Read(&response));
    return response;
  }

  std::vector<std::string> ListServices() {
    ServerReflectionRequest request;
    request.set_list_services("");
    std::vector<std::string> names;
    const ServerReflectionResponse response = Ask(request);
    for (const auto& s : response.list_services_response().service()) {
      names.push_back(s.name());
    }
    return names;
  }

  // Adds the file defining `symbol`, with its dependencies, to `pool`. False if
  // unknown.
  bool LoadSymbol(const std::string& symbol,
                  google::protobuf::DescriptorPool& pool) {
    ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    ServerReflectionResponse response = Ask(request);
    if (!response.has_file_descriptor_response()) {
      return false;
    }
    // Build each file after its dependencies, resolved by name as grpcurl does.
    std::map<std::string, google::protobuf::FileDescriptorProto> files;
    for (const auto& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      EXPECT_TRUE(file.ParseFromString(bytes));
      files[file.name()] = file;
    }
    std::function<void(const std::string&)> build =
        [&](const std::string& name) {
          if (pool.FindFileByName(name) != nullptr) {
            return;
          }
          auto it = files.find(name);
          ASSERT_NE(it, files.end()) << "reflection omitted " << name;
          for (const auto& dependency : it->second.dependency()) {
            build(dependency);
          }
          EXPECT_NE(pool.BuildFile(it->second), nullptr) << name;
        };
    for (const auto& [name, file] : files) {
      build(name);
    }
    return true;
  }

 private:
  std::unique_ptr<ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<ServerReflectionRequest,
                                           ServerReflectionResponse>>
      stream_;
};

TEST(ReflectionTest, ListsTheServicesAndDescribesEveryRosterMessage) {
  TestServer server;
  ReflectionClient reflection(server.channel());
  const auto services = reflection.ListServices();
  EXPECT_THAT(services, Contains("roster.v1.BackendUsers"));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
  EXPECT_THAT(services, Contains("grpc.reflection.v1alpha.ServerReflection"));

  google::protobuf::DescriptorPool pool;
  ASSERT_TRUE(reflection.LoadSymbol("roster.v1.BackendUsers", pool));
  const auto* service = pool.FindServiceByName("roster.v1.BackendUsers");
  ASSERT_NE(service, nullptr);
  std::vector<std::string> methods;
  methods.reserve(static_cast<size_t>(service->method_count()));
  for (int i = 0; i < service->method_count(); ++i) {
    methods.push_back(service->method(i)->name());
  }
  EXPECT_THAT(
      methods,
      ::testing::ElementsAre(
          "CreateUser", "GetUser", "ListUsers", "CountUsers", "UpdateUser",
          "UpdateUserMetadata", "ReplaceUserMetadata", "DeleteUser", "BanUser",
          "UnbanUser", "LockUser", "UnlockUser", "SetProfileImage",
          "DeleteProfileImage", "CreateEmailAddress", "GetEmailAddress",
          "UpdateEmailAddress", "DeleteEmailAddress", "CreatePhoneNumber",
          "GetPhoneNumber", "UpdatePhoneNumber", "DeletePhoneNumber",
          "CreateExternalAccount", "DeleteExternalAccount",
          "GetUserOAuthAccessToken", "ImportUsers", "VerifyPassword",
          "CreateSession", "ListSessions", "RevokeSession", "WatchEvents",
          "ListEvents", "CreateInvitation", "ListInvitations",
          "RevokeInvitation", "DisableUserMfa", "DeleteUserTotp",
          "DeleteUserBackupCodes"));
  for (const char* message :
       {"roster.v1.User", "roster.v1.FrontendUser", "roster.v1.EmailAddress",
        "roster.v1.PhoneNumber", "roster.v1.ExternalAccount",
        "roster.v1.Verification", "roster.v1.Session",
        "roster.v1.DeletedObject", "roster.v1.ListUsersRequest",
        "roster.v1.Event", "roster.v1.EmailMessage", "roster.v1.SmsMessage",
        "roster.v1.MetadataFilter"}) {
    EXPECT_NE(pool.FindMessageTypeByName(message), nullptr) << message;
  }
  EXPECT_EQ(pool.FindMessageTypeByName("roster.v1.FrontendUser")
                ->FindFieldByName("private_metadata"),
            nullptr);
  google::protobuf::DescriptorPool health_pool;
  ASSERT_TRUE(reflection.LoadSymbol("grpc.health.v1.Health", health_pool));
  EXPECT_NE(health_pool.FindMethodByName("grpc.health.v1.Health.Check"),
            nullptr);
  google::protobuf::DescriptorPool errors_pool;
  ASSERT_TRUE(reflection.LoadSymbol("google.rpc.ErrorInfo", errors_pool));
  EXPECT_NE(errors_pool.FindMessageTypeByName("google.rpc.BadRequest"),
            nullptr);
}

// Every message type reachable from `service`'s requests and responses.
void CollectMessages(const google::protobuf::Descriptor* message,
                     std::set<const google::protobuf::Descriptor*>& seen) {
  if (message == nullptr || !seen.insert(message).second) {
    return;
  }
  for (int i = 0; i < message->field_count(); ++i) {
    CollectMessages(message->field(i)->message_type(), seen);
  }
}

TEST(ReflectionTest,
     NothingReachableFromFrontendUsersCanCarryPrivateMetadataOrAPasswordHash) {
  TestServer server;
  ReflectionClient reflection(server.channel());
  EXPECT_THAT(reflection.ListServices(), Contains("roster.v1.FrontendUsers"));
  google::protobuf::DescriptorPool pool;
  ASSERT_TRUE(reflection.LoadSymbol("roster.v1.FrontendUsers", pool));
  const auto* service = pool.FindServiceByName("roster.v1.FrontendUsers");
  ASSERT_NE(service, nullptr);
  std::set<const google::protobuf::Descriptor*> messages;
  for (int i = 0; i < service->method_count(); ++i) {
    CollectMessages(service->method(i)->input_type(), messages);
    CollectMessages(service->method(i)->output_type(), messages);
  }
  EXPECT_GT(messages.size(), 20u);  // The walk really covered the API.
  for (const auto* message : messages) {
    for (int i = 0; i < message->field_count(); ++i) {
      const std::string& name = message->field(i)->name();
      EXPECT_NE(name, "private_metadata") << message->full_name();
      EXPECT_EQ(name.find("password_hash"), std::string::npos)
          << message->full_name();
      EXPECT_EQ(name.find("password_digest"), std::string::npos)
          << message->full_name();
      EXPECT_EQ(name.find("secret_digest"), std::string::npos)
          << message->full_name();
    }
  }
}

TEST(HealthTest, ServingForTheServerAndBackendUsers) {
  TestServer server;
  auto health = grpc::health::v1::Health::NewStub(server.channel());
  for (const char* name :
       {"", "roster.v1.BackendUsers", "roster.v1.FrontendUsers"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(name);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << name;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << name;
  }
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(health->Check(&context, request, &response).error_code(),
            grpc::NOT_FOUND);
}

// The roster-server binary as a child process, its stderr in a file.
grpc::Status CreateUserOn(int port, const std::string& key, User* user) {
  auto stub = roster::v1::BackendUsers::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  roster::v1::CreateUserRequest request;
  request.add_email_addresses("binary@example.com");
  return stub->CreateUser(Authed(key).get(), request, user);
}

std::string ReadKey(const std::string& path) {
  std::ifstream in(path);
  std::string key;
  std::getline(in, key);
  return key;
}

TEST(ServerBinaryTest, DevModeCreatesAKeyFileServesAndDrainsOnSigterm) {
  TempDir dir;
  ServerProcess first(dir, {"--dev", "--db=dev.db", "--listen=127.0.0.1:0"});
  const int port = first.WaitForPort();
  ASSERT_NE(port, 0) << first.Stderr();
  const std::string key_file = dir.File("dev.db.secret_key");
  struct stat info {};
  ASSERT_EQ(stat(key_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  const std::string key = ReadKey(key_file);
  EXPECT_GE(key.size(), 32u);
  User user;
  grpc::Status created = CreateUserOn(port, key, &user);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_EQ(first.Stop(SIGTERM), 0) << first.Stderr();
  EXPECT_EQ(first.Stderr().find(key), std::string::npos)
      << "the secret key was logged";
  // --dev also made the data keys that seal TOTP secrets, private too.
  ASSERT_EQ(stat(dir.File("dev.db.data_keys").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);

  // A second start reuses the key and the data.
  ServerProcess second(dir, {"--dev", "--db=dev.db", "--listen=127.0.0.1:0"});
  const int port2 = second.WaitForPort();
  ASSERT_NE(port2, 0) << second.Stderr();
  EXPECT_EQ(ReadKey(key_file), key);
  User duplicate;
  EXPECT_EQ(CreateUserOn(port2, key, &duplicate).error_code(),
            grpc::ALREADY_EXISTS);
  EXPECT_EQ(second.Stop(SIGINT), 0);
}

TEST(ServerBinaryTest, RefusesToStartWithoutASecretKeyOrWithAShortOne) {
  TempDir dir;
  ServerProcess no_key(dir, {"--db=roster.db", "--listen=127.0.0.1:0"});
  EXPECT_EQ(no_key.Stop(0), 2);
  EXPECT_THAT(no_key.Stderr(), ::testing::HasSubstr("no secret key"));
  ServerProcess short_key(
      dir, {"--db=roster.db", "--listen=127.0.0.1:0", "--secret_keys=short"});
  EXPECT_EQ(short_key.Stop(0), 2);
  ServerProcess no_db(
      dir, {"--secret_keys=sk_0123456789abcdefghijklmnopqrstuvwxyz"});
  EXPECT_EQ(no_db.Stop(0), 2);
}

// A data keys file that is missing or holds no key is a start-up error that
// says so, never a server that cannot open its secrets (DESIGN §10).
TEST(ServerBinaryTest, RefusesToStartWithAMissingOrMalformedDataKeysFile) {
  TempDir dir;
  const std::string key =
      "--secret_keys=sk_0123456789abcdefghijklmnopqrstuvwxyz";
  ServerProcess missing(dir, {"--db=roster.db", "--listen=127.0.0.1:0", key,
                              "--data_keys_file=" + dir.File("lost.keys")});
  EXPECT_EQ(missing.Stop(0), 2);
  EXPECT_THAT(missing.Stderr(), ::testing::HasSubstr("--data_keys_file"));
  {
    std::ofstream bad(dir.File("bad.keys"));
    bad << "# rotated 2026-12-02\nnot a key\n";
  }
  ServerProcess malformed(dir, {"--db=roster.db", "--listen=127.0.0.1:0", key,
                                "--data_keys_file=" + dir.File("bad.keys")});
  EXPECT_EQ(malformed.Stop(0), 2);
  EXPECT_THAT(malformed.Stderr(), ::testing::HasSubstr("line 2"));
  EXPECT_THAT(malformed.Stderr(),
              ::testing::Not(::testing::HasSubstr("not a key")));
}

// Replicas on one PostgreSQL database verify each other's tokens, so each
// must not sign with a key of its own (DESIGN §14).
TEST(ServerBinaryTest, OnPostgresItRefusesToStartWithoutASharedSigningKey) {
  TempDir dir;
  ServerProcess own_key(
      dir, {"--db=postgres://roster@127.0.0.1:1/roster", "--listen=127.0.0.1:0",
            "--secret_keys=sk_0123456789abcdefghijklmnopqrstuvwxyz"});
  EXPECT_EQ(own_key.Stop(0), 2);
  EXPECT_THAT(own_key.Stderr(), ::testing::HasSubstr("--signing_key_file"));
}

// An empty --signing_key_file (a Secret not filled yet) is a start-up error
// that names the file, never a key of the process's own.
TEST(ServerBinaryTest, AnEmptySigningKeyFileIsAStartUpError) {
  TempDir dir;
  const std::string path = dir.File("signing.key");
  for (const char* contents : {"", "\n"}) {
    std::ofstream(path, std::ios::trunc) << contents;
    ServerProcess server(
        dir, {"--db=roster.db", "--listen=127.0.0.1:0",
              "--secret_keys=sk_0123456789abcdefghijklmnopqrstuvwxyz",
              "--signing_key_file=" + path});
    EXPECT_EQ(server.WaitForPort(), 0) << "it started";
    EXPECT_EQ(server.Stop(SIGKILL), 2);
    EXPECT_THAT(server.Stderr(), ::testing::HasSubstr(path + " is empty"));
  }
}

// A postgres:// --db is a start-up error that names its cause: the database
// it cannot reach, or, in a build without the adapter, the build.
TEST(ServerBinaryTest, APostgresDbItCannotOpenIsAStartUpErrorThatSaysWhy) {
  TempDir dir;
  {
    std::ofstream key(dir.File("signing.key"));
    key << std::string(64, 'a') << "\n";
  }
  ServerProcess server(
      dir, {"--db=postgres://roster@127.0.0.1:1/roster", "--listen=127.0.0.1:0",
            "--secret_keys=sk_0123456789abcdefghijklmnopqrstuvwxyz",
            "--signing_key_file=" + dir.File("signing.key")});
  EXPECT_EQ(server.Stop(0), 1);
  EXPECT_THAT(server.Stderr(),
              ::testing::HasSubstr(::roster::testing::PostgresBuilt()
                                       ? "cannot connect to PostgreSQL"
                                       : "built without it"));
}

// --backend_listen: BackendUsers answers only on its own port, FrontendUsers
// only on --listen, and both report health (DESIGN §14).
TEST(BackendListenTest, BackendUsersIsServedOnlyOnItsOwnPort) {
  TestServer server(
      [](app::ServerConfig& config) { config.backend_listen = "127.0.0.1:0"; });
  const int frontend_port = server.server().port();
  const int backend_port = server.server().backend_port();
  ASSERT_NE(backend_port, frontend_port);
  const auto channel_to = [](int port) {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                               grpc::InsecureChannelCredentials());
  };
  const auto create_on = [&](int port) {
    roster::v1::CreateUserRequest create;
    create.set_first_name("Ada");
    User user;
    return roster::v1::BackendUsers::NewStub(channel_to(port))
        ->CreateUser(Authed().get(), create, &user)
        .error_code();
  };
  const auto sign_in_on = [&](int port) {
    roster::v1::SignInRequest request;
    request.set_identifier("nobody@example.com");
    request.set_password("not the password");
    roster::v1::SignInResponse response;
    grpc::ClientContext context;
    return roster::v1::FrontendUsers::NewStub(channel_to(port))
        ->SignIn(&context, request, &response)
        .error_code();
  };
  EXPECT_EQ(create_on(backend_port), grpc::OK);
  EXPECT_EQ(create_on(frontend_port), grpc::UNIMPLEMENTED);
  EXPECT_EQ(sign_in_on(frontend_port), grpc::UNAUTHENTICATED);
  EXPECT_EQ(sign_in_on(backend_port), grpc::UNIMPLEMENTED);
  for (int port : {frontend_port, backend_port}) {
    grpc::health::v1::HealthCheckRequest check;
    check.set_service("roster.v1.BackendUsers");
    grpc::health::v1::HealthCheckResponse health;
    grpc::ClientContext context;
    ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel_to(port))
                    ->Check(&context, check, &health)
                    .ok());
    EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

// The hash pool follows the CPU quota (a Kubernetes CPU limit), not the
// node's CPU count.
TEST(CpuQuotaTest, ReadsCgroupQuotas) {
  EXPECT_EQ(app::CpusFromCgroupV2("max 100000\n"), std::nullopt);
  EXPECT_EQ(app::CpusFromCgroupV2("150000 100000\n"), 1.5);
  EXPECT_EQ(app::CpusFromCgroupV2("200000 100000"), 2.0);
  EXPECT_EQ(app::CpusFromCgroupV2("garbage"), std::nullopt);
  EXPECT_EQ(app::CpusFromCgroupV1("-1\n", "100000\n"), std::nullopt);
  EXPECT_EQ(app::CpusFromCgroupV1("50000\n", "100000\n"), 0.5);
  EXPECT_EQ(app::CpusFromCgroupV1("", ""), std::nullopt);
  const int usable = app::UsableCpus();
  EXPECT_GE(usable, 1);
  EXPECT_LE(usable, static_cast<int>(std::thread::hardware_concurrency()));
}

// A core stays free to serve while every worker hashes; the memory budget and
// a single CPU still leave one worker.
TEST(CpuQuotaTest, HashWorkersLeaveACoreToServe) {
  EXPECT_EQ(app::HashWorkers(1, 6), 1);
  EXPECT_EQ(app::HashWorkers(2, 6), 1);
  EXPECT_EQ(app::HashWorkers(4, 6), 3);
  EXPECT_EQ(app::HashWorkers(64, 6), 6);
  EXPECT_EQ(app::HashWorkers(64, 1), 1);
  EXPECT_EQ(app::HashWorkers(8, 0), 1);
}

TEST(ServerBinaryTest, EnvironmentTwinsConfigureItAndFlagsWinOverThem) {
  TempDir dir;
  const std::string key = "sk_env_0123456789abcdefghijklmnopqrstuvwxyz";
  ServerProcess server(dir, {"--db=from-flag.db"},
                       {"ROSTER_SECRET_KEYS=" + key,
                        "ROSTER_LISTEN=127.0.0.1:0", "ROSTER_DB=from-env.db"});
  const int port = server.WaitForPort();
  ASSERT_NE(port, 0) << server.Stderr();
  User user;
  ASSERT_TRUE(CreateUserOn(port, key, &user).ok());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_EQ(access(dir.File("from-flag.db").c_str(), F_OK), 0);
  EXPECT_NE(access(dir.File("from-env.db").c_str(), F_OK), 0);
}

// A port another process serves is a start-up error, never a port the two
// share: with SO_REUSEPORT (gRPC's and httplib's default) a second server
// would silently take some of the first one's connections.
TEST(ServerBinaryTest, APortAnotherServerServesIsAStartUpError) {
  TempDir dir;
  const std::string key = "sk_port_0123456789abcdefghijklmnopqrstuvwxyz";
  ServerProcess first(dir,
                      {"--db=first.db", "--listen=127.0.0.1:0",
                       "--http_listen=127.0.0.1:0", "--secret_keys=" + key});
  const int port = first.WaitForPort();
  ASSERT_NE(port, 0) << first.Stderr();
  const int http_port = first.LoggedPort("http_port");
  ASSERT_GT(http_port, 0) << first.Stderr();

  ServerProcess grpc_clash(
      dir, {"--db=second.db", absl::StrCat("--listen=127.0.0.1:", port),
            "--secret_keys=" + key});
  EXPECT_EQ(grpc_clash.WaitForPort(), 0) << "it shares port " << port;
  EXPECT_EQ(grpc_clash.Stop(SIGKILL), 1);
  EXPECT_THAT(grpc_clash.Stderr(), ::testing::HasSubstr("cannot listen on"));
  ServerProcess http_clash(dir,
                           {"--db=third.db", "--listen=127.0.0.1:0",
                            absl::StrCat("--http_listen=127.0.0.1:", http_port),
                            "--secret_keys=" + key});
  EXPECT_EQ(http_clash.WaitForPort(), 0) << "it shares " << http_port;
  EXPECT_EQ(http_clash.Stop(SIGKILL), 1);
  EXPECT_THAT(http_clash.Stderr(),
              ::testing::HasSubstr("cannot listen for HTTP"));

  User user;
  EXPECT_TRUE(CreateUserOn(port, key, &user).ok());
  EXPECT_EQ(first.Stop(SIGTERM), 0) << first.Stderr();
}

TEST(ServerBinaryTest, SecretKeysFileWithCommentsIsRead) {
  TempDir dir;
  const std::string key = "sk_file_0123456789abcdefghijklmnopqrstuvwxyz";
  std::ofstream(dir.File("keys")) << "# rotated 2026-11\n\n" << key << "\n";
  ServerProcess server(dir, {"--db=roster.db", "--listen=127.0.0.1:0",
                             "--secret_keys_file=" + dir.File("keys")});
  const int port = server.WaitForPort();
  ASSERT_NE(port, 0) << server.Stderr();
  User user;
  EXPECT_TRUE(CreateUserOn(port, key, &user).ok());
  EXPECT_EQ(CreateUserOn(port, "# rotated 2026-11", &user).error_code(),
            grpc::UNAUTHENTICATED);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
}

TEST(ServerBinaryTest, RefusesDangerousConfigurationsWithTheFix) {
  TempDir dir;
  const std::string key =
      "--secret_keys=sk_0123456789abcdefghijklmnopqrstuvwxyz";
  ServerProcess open_plaintext(dir,
                               {"--db=roster.db", "--listen=0.0.0.0:0", key});
  EXPECT_EQ(open_plaintext.Stop(0), 2);
  EXPECT_THAT(open_plaintext.Stderr(),
              ::testing::HasSubstr("refusing plaintext gRPC on non-loopback"));
  ServerProcess allowed(
      dir, {"--db=roster.db", "--listen=0.0.0.0:0", "--allow_insecure", key});
  EXPECT_NE(allowed.WaitForPort(), 0) << allowed.Stderr();
  EXPECT_EQ(allowed.Stop(SIGTERM), 0);

  ServerProcess missing_tls(
      dir, {"--db=roster.db", "--listen=127.0.0.1:0", key,
            "--tls_cert_file=missing.pem", "--tls_key_file=missing.key"});
  EXPECT_EQ(missing_tls.Stop(0), 2);
  EXPECT_THAT(
      missing_tls.Stderr(),
      ::testing::HasSubstr("--tls_cert_file missing.pem is not readable"));
  ServerProcess half_tls(dir, {"--db=roster.db", "--listen=127.0.0.1:0", key,
                               "--tls_cert_file=missing.pem"});
  EXPECT_EQ(half_tls.Stop(0), 2);
  ServerProcess no_dir(
      dir, {"--db=no/such/dir/roster.db", "--listen=127.0.0.1:0", key});
  EXPECT_EQ(no_dir.Stop(0), 2);
  EXPECT_THAT(no_dir.Stderr(), ::testing::HasSubstr("is not writable"));
}

TEST(ServerBinaryTest, LogsOneJsonLinePerRpcAndNoSecrets) {
  TempDir dir;
  ServerProcess server(dir, {"--dev", "--db=dev.db", "--listen=127.0.0.1:0"});
  const int port = server.WaitForPort();
  ASSERT_NE(port, 0) << server.Stderr();
  const std::string key = ReadKey(dir.File("dev.db.secret_key"));
  User user;
  ASSERT_TRUE(CreateUserOn(port, key, &user).ok());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  const std::string log = server.Stderr();
  EXPECT_THAT(log,
              ::testing::ContainsRegex(
                  R"(\{"time":"[^"]+","level":"info","msg":"rpc","method":)"
                  R"("/roster.v1.BackendUsers/CreateUser","code":"OK",)"
                  R"("latency_ms":[0-9.]+,"peer":"ipv4:127.0.0.1:[0-9]+",)"
                  R"("request_id":"[0-9a-f]{32}"\})"));
  EXPECT_EQ(log.find(key), std::string::npos) << "the secret key was logged";
  EXPECT_EQ(log.find("binary@example.com"), std::string::npos)
      << "an email address was logged";
}

TEST(ServerBinaryTest, EveryLineOnStderrIsJsonGrpcsOwnIncluded) {
  TempDir dir;
  // At DEBUG, gRPC writes lines of its own as it starts, serves and stops.
  ServerProcess server(dir, {"--dev", "--db=dev.db", "--listen=127.0.0.1:0"},
                       {"GRPC_VERBOSITY=DEBUG"});
  const int port = server.WaitForPort();
  ASSERT_NE(port, 0) << server.Stderr();
  User user;
  ASSERT_TRUE(
      CreateUserOn(port, ReadKey(dir.File("dev.db.secret_key")), &user).ok());
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  int grpc_lines = 0;
  for (const absl::string_view line :
       absl::StrSplit(server.Stderr(), '\n', absl::SkipEmpty())) {
    google::protobuf::Struct object;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(std::string(line), &object)
            .ok())
        << "not a JSON object: " << line;
    const auto& fields = object.fields();
    EXPECT_EQ(fields.count("time"), 1) << line;
    EXPECT_EQ(fields.count("level"), 1) << line;
    ASSERT_EQ(fields.count("msg"), 1) << line;
    if (fields.at("msg").string_value() == "grpc") {
      ++grpc_lines;
      EXPECT_EQ(fields.count("detail"), 1) << line;
      EXPECT_EQ(fields.count("source"), 1) << line;
    }
  }
  EXPECT_GT(grpc_lines, 0) << "gRPC logged nothing at DEBUG";
}

TEST(ServerBinaryTest, BackupWhileServingThenServeTheCopy) {
  TempDir dir;
  const std::string key = "sk_backup_0123456789abcdefghijklmnopqrstuvwxyz";
  ServerProcess live(
      dir, {"--db=live.db", "--listen=127.0.0.1:0", "--secret_keys=" + key});
  const int port = live.WaitForPort();
  ASSERT_NE(port, 0) << live.Stderr();
  User user;
  ASSERT_TRUE(CreateUserOn(port, key, &user).ok());

  ServerProcess backup(dir, {"backup", "--db=live.db", "--to=copy.db"});
  EXPECT_EQ(backup.Stop(0), 0) << backup.Stderr();
  ServerProcess no_source(dir, {"backup", "--db=missing.db", "--to=x.db"});
  EXPECT_EQ(no_source.Stop(0), 1);
  EXPECT_THAT(no_source.Stderr(), ::testing::HasSubstr("no database at"));
  // The live server keeps serving and writing.
  User later;
  EXPECT_EQ(CreateUserOn(port, key, &later).error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(live.Stop(SIGTERM), 0);

  ServerProcess restored(
      dir, {"--db=copy.db", "--listen=127.0.0.1:0", "--secret_keys=" + key});
  const int restored_port = restored.WaitForPort();
  ASSERT_NE(restored_port, 0) << restored.Stderr();
  auto stub = roster::v1::BackendUsers::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", restored_port),
                          grpc::InsecureChannelCredentials()));
  roster::v1::GetUserRequest get;
  get.set_user_id(user.id());
  User fetched;
  ASSERT_TRUE(stub->GetUser(Authed(key).get(), get, &fetched).ok());
  EXPECT_EQ(fetched.etag(), user.etag());
  // An idle C++ sync channel acks the server's graceful-GOAWAY ping only when
  // polled, which would hold the drain for seconds: close it first.
  stub.reset();
  EXPECT_EQ(restored.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace roster

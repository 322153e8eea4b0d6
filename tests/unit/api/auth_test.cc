#include "server/api/auth.h"

#include <gtest/gtest.h>

#include "server/domain/errors.h"
#include "tests/testing/status_matchers.h"

namespace roster::api {
namespace {

using ::roster::testing::IsOk;
using ::roster::testing::StatusIs;
using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

const std::string kOld = "sk_old_0123456789abcdefghijklmnopqrstuvwxyz";
const std::string kNew = "sk_new_0123456789abcdefghijklmnopqrstuvwxyz";

TEST(SecretKeyAuthenticatorTest, AcceptsEveryConfiguredKeySoKeysCanRotate) {
  SecretKeyAuthenticator auth({kOld, kNew});
  for (const auto& key : {kOld, kNew}) {
    const std::string header = "Bearer " + key;
    auto actor = auth.Authenticate(Metadata{{"authorization", header}});
    ASSERT_THAT(actor, IsOk());
    EXPECT_EQ(actor->size(), std::string("secret_key:").size() + 8);
    EXPECT_EQ(actor->find(key), std::string::npos);
  }
  const std::string old_header = "Bearer " + kOld;
  const std::string new_header = "Bearer " + kNew;
  EXPECT_NE(*auth.Authenticate(Metadata{{"authorization", old_header}}),
            *auth.Authenticate(Metadata{{"authorization", new_header}}));
  const std::string lower = "bearer " + kNew;
  EXPECT_THAT(auth.Authenticate(Metadata{{"authorization", lower}}), IsOk());
}

TEST(SecretKeyAuthenticatorTest,
     RejectsMissingMalformedWrongAndDuplicatedCredentials) {
  SecretKeyAuthenticator auth({kOld});
  const std::string wrong = "Bearer " + kNew;
  const std::string prefix = "Bearer " + kOld.substr(0, kOld.size() - 1);
  const std::string longer = "Bearer " + kOld + "x";
  const std::string basic = "Basic " + kOld;
  const std::string bare = kOld;
  const std::string good = "Bearer " + kOld;
  const Metadata rejected[] = {
      {},
      {{"authorization", ""}},
      {{"authorization", "Bearer "}},
      {{"authorization", bare}},
      {{"authorization", basic}},
      {{"authorization", wrong}},
      {{"authorization", prefix}},
      {{"authorization", longer}},
      {{"authorization", good}, {"authorization", wrong}},
  };
  for (const auto& metadata : rejected) {
    absl::Status status = auth.Authenticate(metadata).status();
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_EQ(domain::ReasonOf(status), "UNAUTHENTICATED");
    EXPECT_EQ(std::string(status.message()).find(kOld), std::string::npos);
  }
}

}  // namespace
}  // namespace roster::api

#include "server/delivery/message_templates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/delivery/senders.h"
#include "tests/testing/temp_dir.h"

namespace roster::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

domain::VerificationMessage Message(const std::string& purpose) {
  domain::VerificationMessage message;
  message.address = "kim@example.com";
  message.code = "123456";
  message.purpose = purpose;
  message.expire_at = absl::ToUnixMicros(kNow + absl::Minutes(10));
  return message;
}

TEST(MessageTemplatesTest, EveryPurposeSaysTheCodeAndWhenItExpires) {
  auto templates = MessageTemplates::Load("", "Acme <Beta>");
  ASSERT_TRUE(templates.ok()) << templates.status();
  for (const char* purpose :
       {"verify_email_address", "verify_phone_number", "sign_up", "sign_in",
        "reset_password", "second_factor"}) {
    const RenderedEmail email = templates->RenderEmail(Message(purpose), kNow);
    EXPECT_THAT(email.subject, HasSubstr("Acme <Beta>")) << purpose;
    EXPECT_THAT(email.text, HasSubstr("123456")) << purpose;
    EXPECT_THAT(email.text, HasSubstr("expires in 10 minutes")) << purpose;
    EXPECT_THAT(email.html, HasSubstr("123456")) << purpose;
    // The app name is text in HTML, never markup.
    EXPECT_THAT(email.html, HasSubstr("Acme &lt;Beta&gt;")) << purpose;
    EXPECT_THAT(email.html, Not(HasSubstr("<Beta>"))) << purpose;
    EXPECT_THAT(templates->RenderSms(Message(purpose), kNow),
                HasSubstr("123456. It expires in 10 min."))
        << purpose;
  }
  // Minutes round up: 9 min 1 s left reads 10.
  domain::VerificationMessage late = Message("sign_in");
  late.expire_at -= absl::ToInt64Microseconds(absl::Seconds(59));
  EXPECT_THAT(templates->RenderEmail(late, kNow).text,
              HasSubstr("expires in 10 minutes"));
}

TEST(MessageTemplatesTest, AnInvitationCarriesItsLinkEscapedInHtml) {
  auto templates = MessageTemplates::Load("", "Acme");
  ASSERT_TRUE(templates.ok());
  domain::VerificationMessage invitation = Message("invitation");
  invitation.code.clear();
  invitation.url = "https://app.example.com/join?ticket=tkt_1&x=\"y\"";
  invitation.ticket = "tkt_1";
  const RenderedEmail email = templates->RenderEmail(invitation, kNow);
  EXPECT_EQ(email.subject, "You are invited to Acme");
  EXPECT_THAT(email.text, HasSubstr(invitation.url));
  EXPECT_THAT(email.html,
              HasSubstr("href=\"https://app.example.com/join?ticket=tkt_1&amp;"
                        "x=&quot;y&quot;\""));
}

TEST(MessageTemplatesTest, FilesInTheDirectoryReplaceTheirPartOnly) {
  testing::TempDir dir;
  std::ofstream(dir.File("sign_in.subject")) << "  Your code: {{code}}\n";
  std::ofstream(dir.File("sign_in.sms")) << "{{app_name}} code {{code}}";
  auto templates = MessageTemplates::Load(dir.path(), "Acme");
  ASSERT_TRUE(templates.ok()) << templates.status();
  const RenderedEmail email = templates->RenderEmail(Message("sign_in"), kNow);
  EXPECT_EQ(email.subject, "Your code: 123456");
  EXPECT_THAT(email.text, HasSubstr("Your Acme sign-in code is 123456"));
  EXPECT_EQ(templates->RenderSms(Message("sign_in"), kNow), "Acme code 123456");
  EXPECT_THAT(templates->RenderSms(Message("sign_up"), kNow),
              HasSubstr("Your Acme sign-up code is 123456."));
  EXPECT_EQ(templates->RenderEmail(Message("sign_up"), kNow).subject,
            "Finish signing up for Acme");
}

TEST(MessageTemplatesTest, RefusesTyposAndMultiLineSubjects) {
  testing::TempDir unknown_file;
  std::ofstream(unknown_file.File("signin.txt")) << "{{code}}";
  auto loaded = MessageTemplates::Load(unknown_file.path(), "Acme");
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(loaded.status().message(), HasSubstr("signin.txt"));

  testing::TempDir unknown_placeholder;
  std::ofstream(unknown_placeholder.File("sign_up.html")) << "{{ code }}";
  loaded = MessageTemplates::Load(unknown_placeholder.path(), "Acme");
  EXPECT_THAT(loaded.status().message(), HasSubstr("{{ code }}"));

  testing::TempDir two_lines;
  std::ofstream(two_lines.File("sign_in.subject")) << "Hello\nBcc: x@y.z";
  loaded = MessageTemplates::Load(two_lines.path(), "Acme");
  EXPECT_THAT(loaded.status().message(), HasSubstr("one line"));

  EXPECT_FALSE(MessageTemplates::Load("/nonexistent/templates", "Acme").ok());
}

TEST(MaskAddressTest, KeepsTooLittleToIdentifyAnyone) {
  EXPECT_EQ(MaskAddress("kim@example.com"), "k***@example.com");
  EXPECT_EQ(MaskAddress("+15555550100"), "+1********00");
  EXPECT_EQ(MaskAddress("+1234"), "***");
}

}  // namespace
}  // namespace roster::delivery

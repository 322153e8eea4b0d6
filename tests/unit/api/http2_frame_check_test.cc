// Http2ClientFrameCheck on hand-made client byte streams: frames split at any
// byte, header blocks at and over the limit, resets within and over the
// bucket, and streams that are not cleartext HTTP/2.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "server/app/http2_guard.h"
#include "tests/testing/http2_frames.h"

namespace roster::app {
namespace {

constexpr char kClientPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kHeaders = 0x1;
constexpr uint8_t kRstStream = 0x3;
constexpr uint8_t kSettings = 0x4;
constexpr uint8_t kContinuation = 0x9;
constexpr uint8_t kEndHeaders = 0x4;

// A frame whose payload is `payload_size` filler bytes.
std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                  size_t payload_size) {
  return testing::Http2Frame(type, flags, stream,
                             std::string(payload_size, 'h'));
}

std::string Start() {
  return std::string(kClientPreface) + Frame(kSettings, 0, 0, 0);
}

class Http2FrameCheckTest : public ::testing::Test {
 protected:
  Http2Verdict FeedAll(Http2ClientFrameCheck& check, const std::string& bytes,
                       size_t piece = 1 << 20) {
    Http2Verdict verdict = check.verdict();
    for (size_t i = 0; i < bytes.size(); i += piece) {
      const std::string part = bytes.substr(i, piece);
      verdict = check.Feed(reinterpret_cast<const uint8_t*>(part.data()),
                           part.size(), now_);
    }
    return verdict;
  }

  Http2Limits limits_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(Http2FrameCheckTest, OrdinaryRequestsPassInAnySplit) {
  std::string bytes = Start();
  for (uint32_t stream = 1; stream < 200; stream += 2) {
    bytes += Frame(kHeaders, kEndHeaders, stream, 300);
    bytes += Frame(0x0, 0x1, stream, 5000);  // DATA, END_STREAM.
  }
  for (const size_t piece : {size_t{1}, size_t{7}, size_t{4096}}) {
    Http2ClientFrameCheck check(limits_, now_);
    EXPECT_EQ(FeedAll(check, bytes, piece), Http2Verdict::kOk) << piece;
  }
}

TEST_F(Http2FrameCheckTest, AHeaderBlockMayReachTheLimitButNotPassIt) {
  const size_t limit = limits_.max_header_block_bytes;
  // HEADERS and CONTINUATION frames adding up to the limit exactly.
  const std::string at_limit =
      Frame(kHeaders, 0, 1, 16384) + Frame(kContinuation, 0, 1, 16384) +
      Frame(kContinuation, 0, 1, 16384) +
      Frame(kContinuation, kEndHeaders, 1, limit - size_t{3} * 16384);
  Http2ClientFrameCheck fits(limits_, now_);
  EXPECT_EQ(FeedAll(fits, Start() + at_limit, 1000), Http2Verdict::kOk);

  Http2ClientFrameCheck over(limits_, now_);
  const std::string one_more =
      Frame(kHeaders, 0, 1, 16384) + Frame(kContinuation, 0, 1, 16384) +
      Frame(kContinuation, 0, 1, 16384) +
      Frame(kContinuation, 0, 1, limit - size_t{3} * 16384) +
      Frame(kContinuation, kEndHeaders, 1, 1);
  EXPECT_EQ(FeedAll(over, Start() + one_more, 1000),
            Http2Verdict::kHeaderBlockTooLarge);
}

TEST_F(Http2FrameCheckTest, AnEndlessHeaderBlockIsRefusedOnItsFrameHeader) {
  // The verdict comes from the frame header that declares the excess, before
  // its payload: gRPC never gets to copy it.
  Http2ClientFrameCheck check(limits_, now_);
  std::string bytes = Start() + Frame(kHeaders, 0, 1, 16384);
  for (int i = 0; i < 3; ++i) {
    bytes += Frame(kContinuation, 0, 1, 16384);
  }
  ASSERT_EQ(FeedAll(check, bytes), Http2Verdict::kOk);
  const std::string next = Frame(kContinuation, 0, 1, 16384).substr(0, 9);
  EXPECT_EQ(FeedAll(check, next), Http2Verdict::kHeaderBlockTooLarge);
}

TEST_F(Http2FrameCheckTest, EachHeaderBlockIsCountedOnItsOwn) {
  // Many requests' headers add up to far more than the limit; none alone does.
  std::string bytes = Start();
  for (uint32_t stream = 1; stream < 2000; stream += 2) {
    bytes += Frame(kHeaders, 0, stream, 8000) +
             Frame(kContinuation, kEndHeaders, stream, 8000);
  }
  Http2ClientFrameCheck check(limits_, now_);
  EXPECT_EQ(FeedAll(check, bytes, 65536), Http2Verdict::kOk);
}

TEST_F(Http2FrameCheckTest, ResetsPastTheBurstCloseUnlessTheBucketRefilled) {
  Http2ClientFrameCheck check(limits_, now_);
  std::string resets;
  const auto burst_streams = static_cast<uint32_t>(2 * limits_.reset_burst);
  for (uint32_t stream = 1; stream < burst_streams; stream += 2) {
    resets += Frame(kHeaders, kEndHeaders, stream, 50) +
              Frame(kRstStream, 0, stream, 4);
  }
  ASSERT_EQ(FeedAll(check, Start() + resets), Http2Verdict::kOk);
  // The bucket is empty; ten seconds refill 200 at 20 a second.
  now_ += absl::Seconds(10);
  ASSERT_EQ(FeedAll(check, resets), Http2Verdict::kOk);
  // Without time passing, one more reset is one too many.
  EXPECT_EQ(FeedAll(check, Frame(kRstStream, 0, 1001, 4)),
            Http2Verdict::kTooManyResets);
  // The verdict stays.
  EXPECT_EQ(FeedAll(check, Frame(kHeaders, kEndHeaders, 1003, 10)),
            Http2Verdict::kTooManyResets);
}

TEST_F(Http2FrameCheckTest, AClientCancellingAtTheRefillRateIsNeverClosed) {
  Http2ClientFrameCheck check(limits_, now_);
  ASSERT_EQ(FeedAll(check, Start()), Http2Verdict::kOk);
  for (uint32_t stream = 1; stream < 20'000; stream += 2) {
    now_ += absl::Milliseconds(50);  // 20 a second.
    ASSERT_EQ(FeedAll(check, Frame(kHeaders, kEndHeaders, stream, 40) +
                                 Frame(kRstStream, 0, stream, 4)),
              Http2Verdict::kOk)
        << stream;
  }
}

TEST_F(Http2FrameCheckTest, BytesThatAreNotCleartextHttp2AreLeftAlone) {
  // A TLS ClientHello's first bytes.
  Http2ClientFrameCheck tls(limits_, now_);
  EXPECT_EQ(FeedAll(tls, std::string("\x16\x03\x01\x02\x00\x01", 6)),
            Http2Verdict::kNotHttp2);
  // HTTP/1.1, which gRPC answers with an error of its own.
  Http2ClientFrameCheck http1(limits_, now_);
  EXPECT_EQ(FeedAll(http1, "GET / HTTP/1.1\r\n\r\n"), Http2Verdict::kNotHttp2);
  // Once decided, nothing after it is checked.
  EXPECT_EQ(FeedAll(http1, Frame(kHeaders, 0, 1, 1 << 20)),
            Http2Verdict::kNotHttp2);
}

}  // namespace
}  // namespace roster::app

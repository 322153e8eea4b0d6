// MetricValue: one sample of a running server's Prometheus text, read as a
// scraper would, for tests that wait on what the server says it is doing.
#ifndef ROSTER_TESTS_TESTING_METRICS_H_
#define ROSTER_TESTS_TESTING_METRICS_H_

#include <httplib.h>

#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace roster::testing {

// The value of `series` (its name and labels as /metrics prints them, e.g.
// `roster_rpcs_in_flight{method="/roster.v1.FrontendUsers/GetMe"}`) at the
// metrics listener on `port`: 0 before the series has a line, -1 when the
// listener does not answer.
inline int64_t MetricValue(int port, const std::string& series) {
  httplib::Client metrics("127.0.0.1", port);
  const auto response = metrics.Get("/metrics");
  if (!response || response->status != 200) {
    return -1;
  }
  const std::string line = absl::StrCat("\n", series, " ");
  const size_t at = response->body.find(line);
  if (at == std::string::npos) {
    return 0;
  }
  const size_t from = at + line.size();
  int64_t value = 0;
  return absl::SimpleAtoi(response->body.substr(
                              from, response->body.find('\n', from) - from),
                          &value)
             ? value
             : -1;
}

}  // namespace roster::testing

#endif  // ROSTER_TESTS_TESTING_METRICS_H_

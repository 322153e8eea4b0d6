#include "tests/bench/results.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace roster::bench {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;

Result Measured(const char* name, double qps, double p99_us = 100,
                double cpu_us = 10) {
  Result r;
  r.name = name;
  r.qps = qps;
  r.p50_us = p99_us / 4;
  r.p99_us = p99_us;
  r.cpu_us_per_call = cpu_us;
  r.calls = static_cast<int64_t>(qps);
  return r;
}

TEST(MedianTest, TakesTheMiddleOfUnsortedValues) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({10, 1, 4, 2}), 3);  // The mean of 2 and 4.
  EXPECT_EQ(Median({7}), 7);
  EXPECT_EQ(Median({}), 0);
}

// The machine runs at half speed in round 2: raw figures halve, but a ratio
// taken within each round does not move.
TEST(SummarizeTest, RatiosAreTakenWithinEachRound) {
  const std::vector<std::vector<Result>> rounds = {
      {Measured("health", 50000), Measured("get_user", 45000)},
      {Measured("health", 25000), Measured("get_user", 22500)},
      {Measured("health", 40000), Measured("get_user", 36000)},
  };
  const std::vector<Summary> summaries = Summarize(rounds);
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0].median.name, "health");
  EXPECT_THAT(summaries[0].ratio_to_health, DoubleEq(1.0));
  const Summary& get_user = summaries[1];
  EXPECT_EQ(get_user.median.name, "get_user");
  EXPECT_THAT(get_user.qps_ratios,
              ElementsAre(DoubleEq(0.9), DoubleEq(0.9), DoubleEq(0.9)));
  EXPECT_THAT(get_user.ratio_to_health, DoubleEq(0.9));
  EXPECT_EQ(get_user.median.qps, 36000);
  EXPECT_EQ(get_user.median.calls, 45000 + 22500 + 36000);
}

// Pairing by round is not the ratio of the medians: here the medians would
// give 30000 / 40000 = 0.75, while every round but one measured 0.5.
TEST(SummarizeTest, MedianOfRatiosIsNotRatioOfMedians) {
  const std::vector<std::vector<Result>> rounds = {
      {Measured("health", 40000), Measured("list_by_email", 20000)},
      {Measured("health", 60000), Measured("list_by_email", 30000)},
      {Measured("health", 30000), Measured("list_by_email", 30000)},
  };
  const Summary summary = Summarize(rounds)[1];
  EXPECT_THAT(summary.ratio_to_health, DoubleEq(0.5));
  EXPECT_EQ(summary.median.qps, 30000);
}

TEST(SummarizeTest, LatencyAndCpuRatiosArePairedByRoundToo) {
  const std::vector<std::vector<Result>> rounds = {
      {Measured("health", 1000, 200, 20), Measured("get_user", 900, 300, 30)},
      {Measured("health", 1000, 400, 10), Measured("get_user", 900, 500, 14)},
      {Measured("health", 1000, 100, 40), Measured("get_user", 900, 900, 44)},
  };
  const Summary summary = Summarize(rounds)[1];
  // p99 ratios 1.5, 1.25, 9: the outlier round does not decide.
  EXPECT_THAT(summary.p99_ratio_to_health, DoubleEq(1.5));
  EXPECT_EQ(summary.median.p99_us, 500);
  // CPU ratios 1.5, 1.4, 1.1.
  EXPECT_THAT(summary.cpu_ratio_to_health, DoubleEq(1.4));
}

// The database's CPU per call is reported as measured (its median over
// rounds), with no ratio: health never reaches the database.
TEST(SummarizeTest, DatabaseCpuIsTheMedianOfRounds) {
  std::vector<std::vector<Result>> rounds;
  for (double db_cpu_us : {60.0, 20.0, 40.0}) {
    Result get_user = Measured("get_user", 900);
    get_user.db_cpu_us_per_call = db_cpu_us;
    rounds.push_back({Measured("health", 1000), get_user});
  }
  EXPECT_EQ(Summarize(rounds)[1].median.db_cpu_us_per_call, 40);
}

TEST(SummarizeTest, SumsErrorsAndKeepsTheEarliestFirstError) {
  std::vector<std::vector<Result>> rounds = {
      {Measured("health", 100), Measured("create_user", 50)},
      {Measured("health", 100), Measured("create_user", 50)},
  };
  rounds[1][1].errors = 3;
  rounds[1][1].first_error = "14 unavailable";
  const Summary summary = Summarize(rounds)[1];
  EXPECT_EQ(summary.median.errors, 3);
  EXPECT_EQ(summary.median.first_error, "14 unavailable");
}

TEST(SummarizeTest, ARoundWithNothingToCompareCountsAsZero) {
  const std::vector<std::vector<Result>> rounds = {
      {Measured("health", 0, 0, 0), Measured("get_user", 10)},
  };
  const Summary summary = Summarize(rounds)[1];
  EXPECT_EQ(summary.ratio_to_health, 0);
  EXPECT_EQ(summary.p99_ratio_to_health, 0);
  EXPECT_EQ(summary.cpu_ratio_to_health, 0);
  EXPECT_TRUE(Summarize({}).empty());
}

}  // namespace
}  // namespace roster::bench

#include "common/metrics.h"

#include <gtest/gtest.h>

namespace relay::metrics {
namespace {

TEST(MetricsTest, CountersRenderWithHelpTypeAndEscapedLabels) {
  Registry r;
  r.GetCounter("x_total", "things", {{"kind", "a\"b"}}).Inc(3);
  r.GetCounter("x_total", "ignored second help", {{"kind", "c"}}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP x_total things\n# TYPE x_total counter\n"
            "x_total{kind=\"a\\\"b\"} 3\nx_total{kind=\"c\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry r;
  Histogram& h = r.GetHistogram("lat_seconds", "latency", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP lat_seconds latency\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
            "lat_seconds_bucket{le=\"1\"} 3\n"
            "lat_seconds_bucket{le=\"+Inf\"} 4\n"
            "lat_seconds_sum 8.0500000000000007\n"
            "lat_seconds_count 4\n");
}

TEST(MetricsTest, GaugesAreGroupedUnderOneHeader) {
  Registry r;
  std::string out = r.Render({{"g", "help", {{"phase", "idle"}}, 2}, {"g", "help", {{"phase", "running"}}, 1}});
  EXPECT_EQ(out, "# HELP g help\n# TYPE g gauge\ng{phase=\"idle\"} 2\ng{phase=\"running\"} 1\n");
}

TEST(MetricsTest, SameSeriesIsReturnedEachTime) {
  Registry r;
  Counter& a = r.GetCounter("c_total", "h", {{"k", "v"}});
  Counter& b = r.GetCounter("c_total", "h", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
}

}  // namespace
}  // namespace relay::metrics

#pragma once
// Metrics: counters and histograms kept in process memory and rendered in the Prometheus text
// exposition format 0.0.4. Names follow Prometheus conventions (retl_relay_…_total, base units).
// All operations are thread-safe; Inc/Observe are lock-free after a series' first use.
// docs/operations.md lists every metric.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"

namespace relay::metrics {

// Label pairs in a fixed order, e.g. {{"result", "accepted"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Cumulative counts per bound (then +Inf), the sum and the count.
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  mutable Mutex sum_mu_;
  double sum_ GUARDED_BY(sum_mu_) = 0;
};

// A gauge value computed at scrape time (from the store, say).
struct GaugeSample {
  std::string name;
  std::string help;
  Labels labels;
  double value = 0;
};

class Registry {
 public:
  // Returns the series for (name, labels), creating it on first use. References stay valid for
  // the registry's lifetime. `help` is taken from the first call for a name.
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                          const Labels& labels = {});
  // The text exposition of everything registered plus `gauges`.
  std::string Render(const std::vector<GaugeSample>& gauges = {}) const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;      // by rendered label set
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // by rendered label set
  };
  mutable Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ GUARDED_BY(mu_);
};

// The process-wide registry the relay's modules record into.
Registry& Default();

// Latency buckets in seconds, from 0.5 ms to 10 s (webhook acknowledgement, API calls).
const std::vector<double>& LatencyBuckets();
// Duration buckets in seconds, from 1 s to 24 h (trigger-to-start delays, sync durations).
const std::vector<double>& DurationBuckets();

// `{a="x",b="y"}` with values escaped, or "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace relay::metrics

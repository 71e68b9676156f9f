#include "common/metrics.h"

#include <cmath>
#include <cstdio>

namespace relay::metrics {
namespace {

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string WithLabel(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    out += (i ? "," : "") + labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  MutexLock lock(sum_mu_);
  sum_ += value;
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  MutexLock lock(sum_mu_);
  s.sum = sum_;
  return s;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  MutexLock lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{std::string(help), "counter", {}, {}}).first;
  auto& slot = it->second.counters[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                                  const Labels& labels) {
  MutexLock lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{std::string(help), "histogram", {}, {}}).first;
  auto& slot = it->second.histograms[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

std::string Registry::Render(const std::vector<GaugeSample>& gauges) const {
  std::string out;
  {
    MutexLock lock(mu_);
    for (const auto& [name, f] : families_) {
      out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
      for (const auto& [labels, c] : f.counters) out += name + labels + " " + std::to_string(c->value()) + "\n";
      for (const auto& [labels, h] : f.histograms) {
        Histogram::Snapshot s = h->Take();
        for (size_t i = 0; i < h->bounds().size(); ++i) {
          out += name + "_bucket" + WithLabel(labels, "le=\"" + FormatValue(h->bounds()[i]) + "\"") + " " +
                 std::to_string(s.cumulative[i]) + "\n";
        }
        out += name + "_bucket" + WithLabel(labels, "le=\"+Inf\"") + " " + std::to_string(s.count) + "\n";
        out += name + "_sum" + labels + " " + FormatValue(s.sum) + "\n";
        out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
      }
    }
  }
  std::string last;
  for (const GaugeSample& g : gauges) {
    if (g.name != last) out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " gauge\n";
    last = g.name;
    out += g.name + RenderLabels(g.labels) + " " + FormatValue(g.value) + "\n";
  }
  return out;
}

Registry& Default() {
  static Registry* registry = new Registry();  // never destroyed: threads may record at exit
  return *registry;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

const std::vector<double>& DurationBuckets() {
  static const std::vector<double> kBuckets = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
  return kBuckets;
}

}  // namespace relay::metrics

// Reads load, CPU frequency and temperature from /proc and /sys, samples the frequency during a run,
// and draws the run's verdict.
#include "devices/probe/hygiene.h"
#include "devices/probe/text_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

namespace tlm {

namespace {

namespace fs = std::filesystem;
namespace v1 = tlmbench::v1;

template <typename T>
std::optional<T> ParseNumber(std::string_view s) {
  s = TrimSpace(s);
  T value{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  return value;
}

// "0-3,5,7-8" -> {0,1,2,3,5,7,8}; nullopt when malformed.
std::optional<std::set<int>> ParseCpuList(std::string_view text) {
  std::set<int> cpus;
  text = TrimSpace(text);
  if (text.empty()) return std::nullopt;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t dash = item.find('-');
    auto first = ParseNumber<int>(item.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : ParseNumber<int>(item.substr(dash + 1));
    if (!first || !last || *last < *first || *last - *first > 65536) return std::nullopt;
    for (int cpu = *first; cpu <= *last; ++cpu) cpus.insert(cpu);
  }
  return cpus;
}

std::set<int> OnlineCpus(const fs::path& cpu_dir) {
  if (auto online = ReadTextFile(cpu_dir / "online")) {
    if (auto cpus = ParseCpuList(*online)) return *cpus;
  }
  std::set<int> cpus;
  std::error_code ec;
  for (fs::directory_iterator it(cpu_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 4 || name.rfind("cpu", 0) != 0) continue;
    int cpu = 0;
    auto [ptr, parse_ec] = std::from_chars(name.data() + 3, name.data() + name.size(), cpu);
    if (parse_ec == std::errc() && ptr == name.data() + name.size()) cpus.insert(cpu);
  }
  return cpus;
}

std::string Percent(double fraction) { return fmt::format("{:.1f}%", fraction * 100.0); }

}  // namespace

double ReadLoadAverage1m(std::string_view procfs_root) {
  auto text = ReadTextFile(fs::path(procfs_root) / "loadavg");
  if (!text) return std::numeric_limits<double>::quiet_NaN();
  const std::string_view t = TrimSpace(*text);
  auto load = ParseNumber<double>(t.substr(0, t.find(' ')));
  return load ? *load : std::numeric_limits<double>::quiet_NaN();
}

double ReadCpuFrequencyMhz(std::string_view sysfs_root, std::string_view procfs_root) {
  const fs::path cpu_dir = fs::path(sysfs_root) / "devices/system/cpu";
  double sum = 0;
  int n = 0;
  for (int cpu : OnlineCpus(cpu_dir)) {
    auto text = ReadTextFile(cpu_dir / fmt::format("cpu{}", cpu) / "cpufreq/scaling_cur_freq");
    if (!text) continue;
    auto khz = ParseNumber<double>(*text);
    if (!khz || *khz <= 0) continue;
    sum += *khz / 1000.0;
    ++n;
  }
  if (n > 0) return sum / n;

  auto cpuinfo = ReadTextFile(fs::path(procfs_root) / "cpuinfo");
  if (!cpuinfo) return 0;
  std::istringstream lines(*cpuinfo);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || TrimSpace(std::string_view(line).substr(0, colon)) != "cpu MHz") continue;
    auto mhz = ParseNumber<double>(std::string_view(line).substr(colon + 1));
    if (!mhz || *mhz <= 0) continue;
    sum += *mhz;
    ++n;
  }
  return n > 0 ? sum / n : 0;
}

double ReadMaxTemperatureC(std::string_view sysfs_root) {
  double hottest = 0;
  std::error_code ec;
  const fs::path thermal = fs::path(sysfs_root) / "class/thermal";
  for (fs::directory_iterator it(thermal, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind("thermal_zone", 0) != 0) continue;
    auto text = ReadTextFile(it->path() / "temp");  // reading a zone whose sensor is off fails: skip it
    if (!text) continue;
    auto millideg = ParseNumber<double>(*text);
    if (millideg) hottest = std::max(hottest, *millideg / 1000.0);
  }
  return hottest;
}

FrequencySampler::FrequencySampler(std::chrono::milliseconds interval, std::string sysfs_root, std::string procfs_root)
    : interval_(interval), sysfs_root_(std::move(sysfs_root)), procfs_root_(std::move(procfs_root)) {}

FrequencySampler::~FrequencySampler() { Stop(); }

void FrequencySampler::Start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_) return;
    running_ = true;
    stop_requested_ = false;
    min_mhz_ = 0;
    samples_ = 0;
  }
  SampleOnce();
  thread_ = std::thread([this] { Loop(); });
}

void FrequencySampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) return;
    stop_requested_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  SampleOnce();
  std::lock_guard<std::mutex> lock(mutex_);
  running_ = false;
}

double FrequencySampler::MinMhz() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return min_mhz_;
}

int FrequencySampler::Samples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return samples_;
}

void FrequencySampler::SampleOnce() {
  const double mhz = ReadCpuFrequencyMhz(sysfs_root_, procfs_root_);
  if (mhz <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  min_mhz_ = samples_ == 0 ? mhz : std::min(min_mhz_, mhz);
  ++samples_;
}

void FrequencySampler::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_requested_) {
    if (wake_.wait_for(lock, interval_, [this] { return stop_requested_; })) break;
    lock.unlock();
    SampleOnce();
    lock.lock();
  }
}

VerdictResult ComputeVerdict(const v1::Hygiene& hygiene, std::string_view primary_metric, int n_reps, double noisy_cv,
                             double throttle_drop) {
  const double before = hygiene.cpu_freq_mhz_before();
  const double during = hygiene.cpu_freq_mhz_min_during();
  const bool freq_known = before > 0 && during > 0;
  if (freq_known && during < (1.0 - throttle_drop) * before) {
    return {v1::THROTTLED,
            fmt::format("CPU frequency fell to {:.0f} MHz during the run, {} below the {:.0f} MHz before it "
                        "(more than {})",
                        during, Percent(1.0 - during / before), before, Percent(throttle_drop))};
  }
  const double cv = hygiene.primary_cv();
  const std::string reps = fmt::format("{} rep{}", n_reps, n_reps == 1 ? "" : "s");
  if (noisy_cv > 0 && n_reps >= 2 && cv > noisy_cv) {
    return {v1::NOISY,
            fmt::format("cv {} of {} over {} exceeds {}", Percent(cv), primary_metric, reps, Percent(noisy_cv))};
  }
  std::string reason;
  if (n_reps < 2) {
    reason = fmt::format("cv of {} not measurable over {}", primary_metric, reps);
  } else if (noisy_cv > 0) {
    reason = fmt::format("cv {} of {} over {} within {}", Percent(cv), primary_metric, reps, Percent(noisy_cv));
  } else {
    reason = fmt::format("cv {} of {} over {} (no noise limit set)", Percent(cv), primary_metric, reps);
  }
  if (freq_known) {
    reason += fmt::format("; CPU frequency held (min {:.0f} MHz vs {:.0f} MHz before)", during, before);
  } else {
    reason += "; CPU frequency not readable, throttling not checked";
  }
  return {v1::VALID, reason};
}

}  // namespace tlm

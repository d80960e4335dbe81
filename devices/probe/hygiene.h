// Run hygiene: the machine's load, CPU frequency and temperature around a run, a sampler of the
// frequency during it, and the verdict (valid, noisy, throttled) drawn from them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tlmbench/v1/run.pb.h"

namespace tlm {

// Roots of the kernel's file systems; tests point them at fake trees.
inline constexpr std::string_view kProcfsRoot = "/proc";
inline constexpr std::string_view kSysfsRoot = "/sys";

// First field of <procfs_root>/loadavg; NaN if unreadable.
double ReadLoadAverage1m(std::string_view procfs_root = kProcfsRoot);

// Mean over the online CPUs (<sysfs_root>/devices/system/cpu/online, else every cpuN directory) of
// cpufreq/scaling_cur_freq, in MHz; where sysfs has none, the mean of the "cpu MHz" lines of
// <procfs_root>/cpuinfo; 0 if neither.
double ReadCpuFrequencyMhz(std::string_view sysfs_root = kSysfsRoot, std::string_view procfs_root = kProcfsRoot);

// Hottest <sysfs_root>/class/thermal/thermal_zone*/temp (millidegrees) in degrees C; 0 if none
// reads above 0.
double ReadMaxTemperatureC(std::string_view sysfs_root = kSysfsRoot);

// Samples ReadCpuFrequencyMhz on a background thread every `interval` while a run executes, keeping
// the minimum. Start() and Stop() each take a sample on the caller's thread, so even a run shorter
// than the interval has two. Readings of 0 (no cpufreq, no "cpu MHz") are not samples.
class FrequencySampler {
 public:
  explicit FrequencySampler(std::chrono::milliseconds interval = std::chrono::milliseconds(100),
                            std::string sysfs_root = std::string(kSysfsRoot),
                            std::string procfs_root = std::string(kProcfsRoot));
  ~FrequencySampler();  // stops the thread
  FrequencySampler(const FrequencySampler&) = delete;
  FrequencySampler& operator=(const FrequencySampler&) = delete;

  // Forgets earlier samples and starts sampling; a second Start() while running is a no-op.
  void Start();
  // Takes a last sample and joins the thread; stopping a stopped sampler is a no-op.
  void Stop();
  // Lowest frequency seen since Start(), in MHz; 0 when nothing could be read.
  double MinMhz() const;
  // Number of non-zero readings since Start().
  int Samples() const;

 private:
  void SampleOnce();
  void Loop();

  std::chrono::milliseconds interval_;
  std::string sysfs_root_, procfs_root_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  bool stop_requested_ = false;
  double min_mhz_ = 0;
  int samples_ = 0;
  std::thread thread_;
};

struct VerdictResult {
  tlmbench::v1::Verdict verdict = tlmbench::v1::VERDICT_UNSPECIFIED;
  std::string reason;  // a sentence with the numbers
};

// THROTTLED when the frequency during the run fell below (1 - throttle_drop) of the frequency
// before it (both must be readable, i.e. > 0); else NOISY when noisy_cv > 0, n_reps >= 2 and
// hygiene.primary_cv > noisy_cv; else VALID. noisy_cv and throttle_drop are fractions (0.10 = 10%).
// Example reason: "cv 12.3% of decode_tps over 5 reps exceeds 10.0%".
VerdictResult ComputeVerdict(const tlmbench::v1::Hygiene& hygiene, std::string_view primary_metric, int n_reps,
                             double noisy_cv, double throttle_drop = 0.10);

}  // namespace tlm

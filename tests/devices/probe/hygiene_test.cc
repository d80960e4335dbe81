// Tests for run hygiene: the load, frequency and temperature readers against fake /proc and /sys
// trees, the frequency sampler on this machine, the coefficient of variation and the verdict rules.
#include "devices/probe/hygiene.h"

#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace tlm {
namespace {

namespace fs = std::filesystem;
namespace v1 = tlmbench::v1;

class FakeRoot {
 public:
  FakeRoot() {
    std::string pattern = (fs::temp_directory_path() / "tlm_hygiene_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~FakeRoot() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  // Atomically (write, then rename), so a sampler thread never reads a half-written file.
  void Write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    const fs::path tmp = path_ / (name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, path_ / name);
  }

 private:
  fs::path path_;
};

TEST(HygieneReadersTest, LoadAverage) {
  FakeRoot proc;
  proc.Write("loadavg", "0.42 0.30 0.25 1/123 4567\n");
  EXPECT_DOUBLE_EQ(ReadLoadAverage1m(proc.str()), 0.42);
  FakeRoot empty;
  EXPECT_TRUE(std::isnan(ReadLoadAverage1m(empty.str())));
  EXPECT_FALSE(std::isnan(ReadLoadAverage1m()));  // this machine
}

TEST(HygieneReadersTest, FrequencyIsTheMeanOverOnlineCpus) {
  FakeRoot sys, proc;
  sys.Write("devices/system/cpu/online", "0-1,3\n");
  sys.Write("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2000000\n");
  sys.Write("devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "1000000\n");
  sys.Write("devices/system/cpu/cpu2/cpufreq/scaling_cur_freq", "9000000\n");  // offline: ignored
  sys.Write("devices/system/cpu/cpu3/cpufreq/scaling_cur_freq", "3000000\n");
  proc.Write("cpuinfo", "cpu MHz : 100.0\n");
  EXPECT_DOUBLE_EQ(ReadCpuFrequencyMhz(sys.str(), proc.str()), 2000.0);
}

TEST(HygieneReadersTest, FrequencyWithoutOnlineFileUsesEveryCpuDirectory) {
  FakeRoot sys, proc;
  sys.Write("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "1500000\n");
  sys.Write("devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "2500000\n");
  sys.Write("devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "9999999\n");  // not a cpuN dir
  EXPECT_DOUBLE_EQ(ReadCpuFrequencyMhz(sys.str(), proc.str()), 2000.0);
}

TEST(HygieneReadersTest, FrequencyFallsBackToCpuinfo) {
  FakeRoot sys, proc;
  sys.Write("devices/system/cpu/online", "0-1\n");  // VM: no cpufreq directories
  proc.Write("cpuinfo", "processor\t: 0\ncpu MHz\t\t: 2449.998\n\nprocessor\t: 1\ncpu MHz\t\t: 2450.002\n");
  EXPECT_NEAR(ReadCpuFrequencyMhz(sys.str(), proc.str()), 2450.0, 1e-9);
  FakeRoot none;
  EXPECT_EQ(ReadCpuFrequencyMhz(none.str(), none.str()), 0.0);
}

TEST(HygieneReadersTest, HottestThermalZone) {
  FakeRoot sys;
  sys.Write("class/thermal/thermal_zone0/temp", "45000\n");
  sys.Write("class/thermal/thermal_zone1/temp", "71500\n");
  sys.Write("class/thermal/thermal_zone2/temp", "garbage\n");
  sys.Write("class/thermal/cooling_device0/cur_state", "99000\n");
  EXPECT_DOUBLE_EQ(ReadMaxTemperatureC(sys.str()), 71.5);
  FakeRoot none;
  EXPECT_EQ(ReadMaxTemperatureC(none.str()), 0.0);
  EXPECT_GE(ReadMaxTemperatureC(), 0.0);  // this machine; 0 in most VMs
}

TEST(FrequencySamplerTest, KeepsTheMinimumOfAFakeTree) {
  FakeRoot sys, proc;
  sys.Write("devices/system/cpu/online", "0\n");
  sys.Write("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n");
  FrequencySampler sampler(std::chrono::milliseconds(5), sys.str(), proc.str());
  sampler.Start();
  EXPECT_DOUBLE_EQ(sampler.MinMhz(), 2400.0);  // Start() samples at once
  sys.Write("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "1200000\n");
  // Wait for the background thread to see the dip (generous deadline for a loaded machine).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sampler.MinMhz() != 1200.0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  sys.Write("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n");
  sampler.Stop();
  EXPECT_DOUBLE_EQ(sampler.MinMhz(), 1200.0);
  EXPECT_GE(sampler.Samples(), 3);  // Start, at least one in the thread, Stop
  sampler.Stop();                   // no-op
  sampler.Start();                  // starts over
  sampler.Stop();
  EXPECT_DOUBLE_EQ(sampler.MinMhz(), 2400.0);
}

TEST(FrequencySamplerTest, PlausibleOnThisMachine) {
  FrequencySampler sampler(std::chrono::milliseconds(10));
  sampler.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  sampler.Stop();
  const double now = ReadCpuFrequencyMhz();
  if (now == 0) {
    EXPECT_EQ(sampler.MinMhz(), 0.0);  // neither cpufreq nor "cpu MHz" readable here
    GTEST_SKIP() << "no CPU frequency readable on this machine";
  }
  EXPECT_GT(sampler.MinMhz(), 100.0);
  EXPECT_LT(sampler.MinMhz(), 10000.0);
  EXPECT_GE(sampler.Samples(), 2);
}

TEST(FrequencySamplerTest, DestructorStopsARunningSampler) {
  FrequencySampler sampler(std::chrono::milliseconds(1));
  sampler.Start();
}

v1::Hygiene MakeHygiene(double before, double min_during, double cv) {
  v1::Hygiene h;
  h.set_cpu_freq_mhz_before(before);
  h.set_cpu_freq_mhz_min_during(min_during);
  h.set_primary_cv(cv);
  return h;
}

TEST(ComputeVerdictTest, Valid) {
  const VerdictResult r = ComputeVerdict(MakeHygiene(2450, 2400, 0.021), "decode_tps", 5, 0.10);
  EXPECT_EQ(r.verdict, v1::VALID);
  EXPECT_NE(r.reason.find("cv 2.1% of decode_tps over 5 reps within 10.0%"), std::string::npos) << r.reason;
}

TEST(ComputeVerdictTest, Noisy) {
  const VerdictResult r = ComputeVerdict(MakeHygiene(2450, 2440, 0.123), "decode_tps", 5, 0.10);
  EXPECT_EQ(r.verdict, v1::NOISY);
  EXPECT_EQ(r.reason, "cv 12.3% of decode_tps over 5 reps exceeds 10.0%");
}

TEST(ComputeVerdictTest, ThrottledWinsOverNoisy) {
  const VerdictResult r = ComputeVerdict(MakeHygiene(2400, 1800, 0.5), "decode_tps", 5, 0.10);
  EXPECT_EQ(r.verdict, v1::THROTTLED);
  EXPECT_NE(r.reason.find("1800 MHz"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("25.0%"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("2400 MHz"), std::string::npos) << r.reason;
}

TEST(ComputeVerdictTest, EdgesAndUnreadableFrequency) {
  // Exactly at the limit is not throttled (needs to fall below 90%).
  EXPECT_EQ(ComputeVerdict(MakeHygiene(2000, 1800, 0), "decode_tps", 3, 0.10).verdict, v1::VALID);
  EXPECT_EQ(ComputeVerdict(MakeHygiene(2000, 1799, 0), "decode_tps", 3, 0.10).verdict, v1::THROTTLED);
  EXPECT_EQ(ComputeVerdict(MakeHygiene(2000, 1500, 0), "decode_tps", 3, 0.10, 0.30).verdict, v1::VALID);
  // Frequency unreadable: only the noise rule applies.
  const VerdictResult unknown = ComputeVerdict(MakeHygiene(0, 0, 0.01), "ttft_ms", 3, 0.10);
  EXPECT_EQ(unknown.verdict, v1::VALID);
  EXPECT_NE(unknown.reason.find("not readable"), std::string::npos) << unknown.reason;
  // One repetition: no cv to judge.
  EXPECT_EQ(ComputeVerdict(MakeHygiene(0, 0, 0.5), "decode_tps", 1, 0.10).verdict, v1::VALID);
  // No noise limit set.
  EXPECT_EQ(ComputeVerdict(MakeHygiene(0, 0, 0.5), "decode_tps", 5, 0).verdict, v1::VALID);
}

}  // namespace
}  // namespace tlm

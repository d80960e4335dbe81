// CPU and host facts for results and agent capabilities: model, cores, ISA, governor, memory, OS.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/common/status.h"

namespace tlm {

struct CpuInfo {
  std::string model_name;      // "AMD EPYC 7B13"; on Arm without a name, "implementer 0x41 part 0xd0b"
  std::string architecture;    // uname machine: "x86_64", "aarch64"
  int logical_cores = 0;       // online logical CPUs
  int available_cores = 0;     // CPUs this process may run on (affinity mask, cgroup cpusets)

  // ISA features the kernels dispatch on. x86 from /proc/cpuinfo "flags"; Arm from getauxval
  // (AT_HWCAP) where built for aarch64, else /proc/cpuinfo "Features" (asimd, asimddp).
  bool avx2 = false, fma = false, f16c = false, avx512f = false;
  bool neon = false, dotprod = false;
  std::vector<std::string> features() const;  // names of the flags above that are set

  // cpufreq of cpu0 where sysfs exposes it (often absent in VMs and containers).
  std::string governor;                      // "performance", "schedutil"; empty if unreadable
  std::optional<double> cur_freq_mhz;        // scaling_cur_freq
  std::optional<double> max_freq_mhz;        // cpuinfo_max_freq
  std::vector<double> cur_freq_mhz_per_cpu;  // every CPU that reports one, in CPU order

  uint64_t mem_total_bytes = 0;  // MemTotal of /proc/meminfo
  std::string os_name;           // uname sysname: "Linux"
  std::string kernel_release;    // uname release: "6.1.0-18-amd64"
  std::string kernel_version;    // uname version
  double load_avg_1m = 0, load_avg_5m = 0, load_avg_15m = 0;

  // All of the above, keys named as the fields; absent optionals are null.
  nlohmann::ordered_json ToJson() const;
  // One line for results: "AMD EPYC 7B13, 2/2 cores, avx2 fma f16c".
  std::string Summary() const;
};

// Reads /proc/cpuinfo, /proc/meminfo, sysfs cpufreq, uname and the load average. Only the CPU
// model, core counts and uname are required; unreadable sysfs entries are left empty, because
// VMs and containers often hide them. Fails (kUnavailable) when /proc/cpuinfo cannot be read.
StatusOr<CpuInfo> ProbeCpuInfo();

// The /proc/cpuinfo part alone, for tests: model name, flags/Features and, on Arm, the implementer
// and part when there is no model name. Sets the ISA booleans present in the text.
void ParseProcCpuinfo(std::string_view cpuinfo, CpuInfo& info);

}  // namespace tlm

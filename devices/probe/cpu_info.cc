// Reads CPU and host facts from /proc, sysfs, uname, getauxval and the scheduler.
#include "devices/probe/cpu_info.h"
#include "devices/probe/text_file.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tlm {

namespace {

std::optional<double> ParseDouble(std::string_view s) {
  s = TrimSpace(s);
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  return value;
}

// sysfs cpufreq files hold kHz.
std::optional<double> ReadKhzAsMhz(const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text) return std::nullopt;
  auto khz = ParseDouble(*text);
  if (!khz) return std::nullopt;
  return *khz / 1000.0;
}

bool HasWord(std::string_view words, std::string_view word) {
  size_t pos = 0;
  while (pos < words.size()) {
    const size_t begin = words.find_first_not_of(" \t", pos);
    if (begin == std::string_view::npos) break;
    size_t end = words.find_first_of(" \t", begin);
    if (end == std::string_view::npos) end = words.size();
    if (words.substr(begin, end - begin) == word) return true;
    pos = end;
  }
  return false;
}

}  // namespace

std::vector<std::string> CpuInfo::features() const {
  std::vector<std::string> names;
  if (avx2) names.push_back("avx2");
  if (fma) names.push_back("fma");
  if (f16c) names.push_back("f16c");
  if (avx512f) names.push_back("avx512f");
  if (neon) names.push_back("neon");
  if (dotprod) names.push_back("dotprod");
  return names;
}

void ParseProcCpuinfo(std::string_view cpuinfo, CpuInfo& info) {
  std::string hardware, implementer, part;
  bool have_flags = false;
  size_t pos = 0;
  while (pos < cpuinfo.size()) {
    size_t eol = cpuinfo.find('\n', pos);
    if (eol == std::string_view::npos) eol = cpuinfo.size();
    std::string_view line = cpuinfo.substr(pos, eol - pos);
    pos = eol + 1;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = TrimSpace(line.substr(0, colon));
    const std::string_view value = TrimSpace(line.substr(colon + 1));
    // The first processor's block decides; later blocks repeat it (or differ on big.LITTLE, where
    // the flags are the same anyway).
    if ((key == "model name" || key == "Processor") && info.model_name.empty()) {
      info.model_name = value;
    } else if (key == "Hardware" && hardware.empty()) {
      hardware = value;
    } else if (key == "CPU implementer" && implementer.empty()) {
      implementer = value;
    } else if (key == "CPU part" && part.empty()) {
      part = value;
    } else if (key == "cpu MHz") {
      if (auto mhz = ParseDouble(value)) info.cur_freq_mhz_per_cpu.push_back(*mhz);
    } else if ((key == "flags" || key == "Features") && !have_flags) {
      have_flags = true;
      info.avx2 = HasWord(value, "avx2");
      info.fma = HasWord(value, "fma");
      info.f16c = HasWord(value, "f16c");
      info.avx512f = HasWord(value, "avx512f");
      info.neon = HasWord(value, "asimd") || HasWord(value, "neon");
      info.dotprod = HasWord(value, "asimddp");
    }
  }
  if (info.model_name.empty() && !hardware.empty()) info.model_name = hardware;
  if (info.model_name.empty() && !implementer.empty()) {
    info.model_name = fmt::format("implementer {} part {}", implementer, part.empty() ? "?" : part);
  }
  if (!info.cur_freq_mhz_per_cpu.empty()) info.cur_freq_mhz = info.cur_freq_mhz_per_cpu.front();
}

StatusOr<CpuInfo> ProbeCpuInfo() {
  CpuInfo info;
  auto cpuinfo = ReadTextFile("/proc/cpuinfo");
  if (!cpuinfo) {
    return Unavailable("cannot read /proc/cpuinfo: {} (the CPU probe needs Linux with /proc mounted)",
                       std::strerror(errno));
  }
  ParseProcCpuinfo(*cpuinfo, info);

#if defined(__aarch64__) && defined(__linux__)
  // The auxiliary vector is what the kernel guarantees to user space; prefer it to the text.
  const unsigned long hwcap = getauxval(AT_HWCAP);
  info.neon = (hwcap & HWCAP_ASIMD) != 0;
  info.dotprod = (hwcap & HWCAP_ASIMDDP) != 0;
#endif

  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  info.logical_cores = online > 0 ? static_cast<int>(online) : 0;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  info.available_cores = ::sched_getaffinity(0, sizeof(mask), &mask) == 0 ? CPU_COUNT(&mask) : info.logical_cores;

  struct utsname names {};
  if (::uname(&names) != 0) return Unavailable("uname: {}", std::strerror(errno));
  info.os_name = names.sysname;
  info.kernel_release = names.release;
  info.kernel_version = names.version;
  info.architecture = names.machine;
  if (info.model_name.empty()) info.model_name = info.architecture;

  const std::string cpufreq = "/sys/devices/system/cpu/cpu0/cpufreq/";
  if (auto governor = ReadTextFile(cpufreq + "scaling_governor")) info.governor = TrimSpace(*governor);
  if (auto max = ReadKhzAsMhz(cpufreq + "cpuinfo_max_freq")) info.max_freq_mhz = max;
  std::vector<double> sysfs_freqs;
  for (int cpu = 0; cpu < info.logical_cores; ++cpu) {
    auto mhz = ReadKhzAsMhz(fmt::format("/sys/devices/system/cpu/cpu{}/cpufreq/scaling_cur_freq", cpu));
    if (mhz) sysfs_freqs.push_back(*mhz);
  }
  if (!sysfs_freqs.empty()) {  // else keep /proc/cpuinfo's "cpu MHz", all a VM may show
    info.cur_freq_mhz_per_cpu = std::move(sysfs_freqs);
    info.cur_freq_mhz = info.cur_freq_mhz_per_cpu.front();
  }

  if (auto meminfo = ReadTextFile("/proc/meminfo")) {
    std::istringstream lines(*meminfo);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("MemTotal:", 0) == 0) {
        std::string_view value = std::string_view(line).substr(9);  // "   16318648 kB"
        if (auto kib = ParseDouble(value.substr(0, value.find('k')))) {
          info.mem_total_bytes = static_cast<uint64_t>(*kib) * 1024;
        }
        break;
      }
    }
  }
  if (info.mem_total_bytes == 0) {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) info.mem_total_bytes = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  }

  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) == 3) {
    info.load_avg_1m = load[0];
    info.load_avg_5m = load[1];
    info.load_avg_15m = load[2];
  }
  return info;
}

nlohmann::ordered_json CpuInfo::ToJson() const {
  auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
  };
  nlohmann::ordered_json j;
  j["model_name"] = model_name;
  j["architecture"] = architecture;
  j["logical_cores"] = logical_cores;
  j["available_cores"] = available_cores;
  j["features"] = features();
  j["avx2"] = avx2;
  j["fma"] = fma;
  j["f16c"] = f16c;
  j["avx512f"] = avx512f;
  j["neon"] = neon;
  j["dotprod"] = dotprod;
  j["governor"] = governor.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(governor);
  j["cur_freq_mhz"] = optional(cur_freq_mhz);
  j["max_freq_mhz"] = optional(max_freq_mhz);
  j["cur_freq_mhz_per_cpu"] = cur_freq_mhz_per_cpu;
  j["mem_total_bytes"] = mem_total_bytes;
  j["os_name"] = os_name;
  j["kernel_release"] = kernel_release;
  j["kernel_version"] = kernel_version;
  j["load_avg_1m"] = load_avg_1m;
  j["load_avg_5m"] = load_avg_5m;
  j["load_avg_15m"] = load_avg_15m;
  return j;
}

std::string CpuInfo::Summary() const {
  std::string line = fmt::format("{}, {}/{} cores", model_name, available_cores, logical_cores);
  std::vector<std::string> names = features();
  if (!names.empty()) line += fmt::format(", {}", fmt::join(names, " "));
  return line;
}

}  // namespace tlm

// Probes the machine into a DeviceInfo record, parses --labels, and matches run requirements.
#include "devices/probe/device_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "devices/probe/cpu_info.h"
#include "devices/probe/text_file.h"

namespace tlm {

namespace {

namespace fs = std::filesystem;
namespace v1 = tlmbench::v1;

std::optional<long> ParseLong(std::string_view s) {
  s = TrimSpace(s);
  long value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

std::string Hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

std::string OpenClSummary(const v1::DeviceInfo& device) {
  if (device.opencl_devices_size() == 0) return fmt::format("no OpenCL device: {}", device.opencl_error());
  std::string names;
  for (const auto& d : device.opencl_devices()) {
    if (!names.empty()) names += ", ";
    names += fmt::format("{} on {}", d.name(), d.platform());
  }
  return fmt::format("OpenCL devices present: {} ({})", device.opencl_devices_size(), names);
}

std::string VulkanSummary(const v1::DeviceInfo& device) {
  if (device.vulkan_devices_size() == 0) return fmt::format("no Vulkan device: {}", device.vulkan_error());
  std::string names;
  for (const auto& d : device.vulkan_devices()) {
    if (!names.empty()) names += ", ";
    names += fmt::format("{} ({})", d.name(), d.type());
  }
  return fmt::format("Vulkan devices present: {} ({})", device.vulkan_devices_size(), names);
}

std::string NpuSummary(const v1::DeviceInfo& device, const std::string& npu_plugin_dir) {
  if (npu_plugin_dir.empty()) return "no NPU plugin directory given";
  if (device.npu_plugins_size() == 0) return fmt::format("no NPU plugin (tlm_npu_*.so) in {}", npu_plugin_dir);
  return fmt::format("NPU plugins present: {} in {}", device.npu_plugins_size(), npu_plugin_dir);
}

std::string CpuDescription(const v1::DeviceInfo& device) {
  const auto& cpu = device.cpu();
  std::string text = cpu.model().empty() ? device.arch() : cpu.model();
  text += fmt::format(", {} logical CPUs", cpu.logical_cpus());
  if (cpu.isa_features_size() > 0) {
    text += ",";
    for (const auto& f : cpu.isa_features()) text += " " + f;
  }
  return text;
}

void FillBackends(const DeviceProbeOptions& options, v1::DeviceInfo& device) {
  constexpr std::string_view kNotBuilt = "not built into this tlmbench (no engine backend yet)";
  std::set<std::string> design;
  for (const std::string& name : DesignBackendNames()) {
    design.insert(name);
    auto registered = std::find_if(options.engine_backends.begin(), options.engine_backends.end(),
                                   [&](const v1::BackendCapability& b) { return b.name() == name; });
    v1::BackendCapability* b = device.add_backends();
    if (registered != options.engine_backends.end()) {
      *b = *registered;
      if (b->description().empty() && name == "cpu") b->set_description(CpuDescription(device));
      continue;
    }
    b->set_name(name);
    if (name == "cpu") {  // the reference CPU backend runs on every machine the probe runs on
      b->set_available(true);
      b->set_description(CpuDescription(device));
    } else if (name == "cpu-xnnpack") {
      b->set_reason(std::string(kNotBuilt));
      b->set_description(CpuDescription(device));
    } else if (name == "opencl") {
      b->set_reason(fmt::format("{}; {}", kNotBuilt, OpenClSummary(device)));
    } else if (name == "vulkan") {
      b->set_reason(fmt::format("{}; {}", kNotBuilt, VulkanSummary(device)));
    } else if (name == "npu") {
      b->set_reason(fmt::format("{}; {}", kNotBuilt, NpuSummary(device, options.npu_plugin_dir)));
    } else {
      b->set_reason(std::string(kNotBuilt));
    }
  }
  // Registered backends beyond the design list (new ones) are reported as the engine says.
  for (const auto& registered : options.engine_backends) {
    if (!design.count(registered.name())) *device.add_backends() = registered;
  }
}

// The plugin and SoC of an npu backend spec's device part: "vnpu", "vnpu:vnpu-large", or
// "plugin=vnpu,soc=vnpu-large,..." (kernels/npu/backend's forms).
std::pair<std::string, std::string> NpuPluginAndSoc(std::string_view device_part) {
  std::string plugin, soc;
  if (device_part.find('=') == std::string_view::npos) {
    const size_t colon = device_part.find(':');
    plugin = std::string(device_part.substr(0, colon));
    if (colon != std::string_view::npos) soc = std::string(device_part.substr(colon + 1));
    return {plugin, soc};
  }
  size_t begin = 0;
  while (begin <= device_part.size()) {
    size_t end = device_part.find(',', begin);
    if (end == std::string_view::npos) end = device_part.size();
    const std::string_view item = device_part.substr(begin, end - begin);
    if (item.rfind("plugin=", 0) == 0) plugin = std::string(item.substr(7));
    if (item.rfind("soc=", 0) == 0) soc = std::string(item.substr(4));
    begin = end + 1;
  }
  return {plugin, soc};
}

// Whether the device lists plugin `name` (tlm_npu_<name>.so) as loadable and, when `soc` is given,
// serving that SoC. A plugin listed without SoCs and without an error was not probed: accepted.
bool NpuPluginUsable(const v1::DeviceInfo& device, const std::string& name, const std::string& soc,
                     std::string* why) {
  const std::string file = name.size() > 3 && name.substr(name.size() - 3) == ".so" ? name : "tlm_npu_" + name + ".so";
  for (const v1::NpuPlugin& p : device.npu_plugins()) {
    if (fs::path(p.path()).filename().string() != file) continue;
    if (!p.error().empty()) {
      *why = fmt::format("npu plugin {} cannot be used: {}", name, p.error());
      return false;
    }
    if (soc.empty() || p.socs_size() == 0) return true;
    for (const std::string& s : p.socs())
      if (s == soc) return true;
    *why = fmt::format("npu plugin {} serves SoCs {}, not {}", name, fmt::join(p.socs(), ", "), soc);
    return false;
  }
  *why = fmt::format("npu plugin {} ({}) is not in the device's plugin folder", name, file);
  return false;
}

bool HasCapability(const v1::DeviceInfo& device, std::string_view capability) {
  if (capability.rfind("npu:", 0) == 0) {  // "npu:PLUGIN" or "npu:PLUGIN:SOC"
    auto it = std::find_if(device.backends().begin(), device.backends().end(),
                           [](const v1::BackendCapability& b) { return b.name() == "npu"; });
    if (it == device.backends().end() || !it->available()) return false;
    const auto [plugin, soc] = NpuPluginAndSoc(capability.substr(4));
    std::string why;
    return !plugin.empty() && NpuPluginUsable(device, plugin, soc, &why);
  }
  for (const auto& f : device.cpu().isa_features()) {
    if (f == capability) return true;
  }
  for (const auto& b : device.backends()) {
    if (b.name() == capability && b.available()) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& DesignBackendNames() {
  static const std::vector<std::string> names = {"cpu", "cpu-xnnpack", "opencl", "vulkan", "npu"};
  return names;
}

v1::BackendCapability EngineBackendCapability(std::string_view name, std::string_view description,
                                              const Status& probe) {
  v1::BackendCapability b;
  b.set_name(std::string(name));
  b.set_description(std::string(description));
  b.set_available(probe.ok());
  if (!probe.ok()) b.set_reason(probe.message());
  return b;
}

std::vector<v1::ModelFile> ListModelFiles(const std::string& dir) {
  std::vector<v1::ModelFile> models;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.extension() != ".gguf") continue;
    std::error_code file_ec;
    if (!fs::is_regular_file(path, file_ec)) continue;  // follows symlinks
    const uintmax_t size = fs::file_size(path, file_ec);
    v1::ModelFile model;
    model.set_name(path.filename().string());
    model.set_size_bytes(file_ec ? 0 : static_cast<uint64_t>(size));
    models.push_back(std::move(model));
  }
  std::sort(models.begin(), models.end(), [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return models;
}

std::vector<v1::NpuPlugin> ListNpuPlugins(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().filename().string();
    // The plugin ABI's naming (docs/npu.md): tlm_npu_<name>.so, loaded by `tlmbench qualify` and the
    // npu backend in a worker; the agent itself never dlopens a plugin.
    if (file.rfind("tlm_npu_", 0) != 0 || file.size() < 12 || file.substr(file.size() - 3) != ".so") continue;
    std::error_code file_ec;
    if (!fs::is_regular_file(it->path(), file_ec)) continue;
    paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<v1::NpuPlugin> plugins;
  for (auto& path : paths) {
    v1::NpuPlugin plugin;
    plugin.set_path(std::move(path));  // not dlopen'ed by the agent: vendor, version and SoCs stay empty
    plugins.push_back(std::move(plugin));
  }
  return plugins;
}

int CountPhysicalCores(const std::string& sysfs_root, std::string_view cpuinfo) {
  std::set<std::pair<long, long>> cores;
  std::error_code ec;
  const fs::path cpu_dir = fs::path(sysfs_root) / "devices/system/cpu";
  for (fs::directory_iterator it(cpu_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 4 || name.rfind("cpu", 0) != 0 || !ParseLong(name.substr(3))) continue;
    auto package = ReadTextFile((it->path() / "topology/physical_package_id").string());
    auto core = ReadTextFile((it->path() / "topology/core_id").string());
    if (!package || !core) continue;
    auto p = ParseLong(*package), c = ParseLong(*core);
    if (p && c) cores.insert({*p, *c});
  }
  if (!cores.empty()) return static_cast<int>(cores.size());

  // /proc/cpuinfo: each processor block has "physical id" and "core id" on x86.
  long package = 0, core = -1;  // core -1: no "core id" in this processor block yet
  size_t pos = 0;
  auto flush = [&] {
    if (core >= 0) cores.insert({package, core});
    package = 0;
    core = -1;
  };
  while (pos <= cpuinfo.size()) {
    size_t eol = cpuinfo.find('\n', pos);
    if (eol == std::string_view::npos) eol = cpuinfo.size();
    const std::string_view line = cpuinfo.substr(pos, eol - pos);
    pos = eol + 1;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (TrimSpace(line).empty()) flush();
      continue;
    }
    const std::string_view key = TrimSpace(line.substr(0, colon));
    if (key == "processor") flush();
    if (key == "physical id") package = ParseLong(line.substr(colon + 1)).value_or(0);
    if (key == "core id") core = ParseLong(line.substr(colon + 1)).value_or(-1);
  }
  flush();
  return static_cast<int>(cores.size());
}

std::string ParseOsReleasePrettyName(std::string_view os_release) {
  size_t pos = 0;
  while (pos < os_release.size()) {
    size_t eol = os_release.find('\n', pos);
    if (eol == std::string_view::npos) eol = os_release.size();
    std::string_view line = TrimSpace(os_release.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    std::string_view value = TrimSpace(line.substr(12));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::string unescaped;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      unescaped += value[i];
    }
    return unescaped;
  }
  return "";
}

v1::DeviceInfo ProbeDevice(const DeviceProbeOptions& options) {
  v1::DeviceInfo device;
  device.set_hostname(Hostname());
  device.set_name(options.name.empty() ? device.hostname() : options.name);
  for (const auto& [key, value] : options.labels) (*device.mutable_labels())[key] = value;

  struct utsname names {};
  if (::uname(&names) == 0) {
    device.set_kernel(fmt::format("{} {}", names.sysname, names.release));
    device.set_arch(names.machine);
  }
  auto os_release = ReadTextFile("/etc/os-release");
  if (!os_release) os_release = ReadTextFile("/usr/lib/os-release");
  if (os_release) device.set_os(ParseOsReleasePrettyName(*os_release));

  v1::CpuFacts& facts = *device.mutable_cpu();
  const std::string cpuinfo_text = ReadTextFile("/proc/cpuinfo").value_or("");
  if (auto cpu = ProbeCpuInfo(); cpu.ok()) {
    facts.set_model(cpu->model_name);
    facts.set_logical_cpus(cpu->logical_cores);
    for (const std::string& f : cpu->features()) facts.add_isa_features(f);
    facts.set_governor(cpu->governor);
    if (cpu->cur_freq_mhz) facts.set_cur_freq_mhz(*cpu->cur_freq_mhz);  // cpu0 of sysfs, else of /proc/cpuinfo
    if (cpu->max_freq_mhz) facts.set_max_freq_mhz(*cpu->max_freq_mhz);
    device.set_memory_bytes(cpu->mem_total_bytes);
  } else {
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    facts.set_logical_cpus(online > 0 ? static_cast<int>(online) : 0);
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) device.set_memory_bytes(static_cast<uint64_t>(pages) * static_cast<uint64_t>(page));
  }
  int physical = CountPhysicalCores("/sys", cpuinfo_text);
  if (physical <= 0 || physical > facts.logical_cpus()) physical = facts.logical_cpus();
  facts.set_physical_cores(physical);

  ProbeOpenClDevices(device);
  ProbeVulkanDevices(device);
  if (!options.npu_plugin_dir.empty()) {
    for (auto& plugin : ListNpuPlugins(options.npu_plugin_dir)) *device.add_npu_plugins() = std::move(plugin);
  }
  FillBackends(options, device);
  if (!options.models_dir.empty()) {
    for (auto& model : ListModelFiles(options.models_dir)) *device.add_models() = std::move(model);
  }
  return device;
}

StatusOr<std::map<std::string, std::string>> ParseLabels(std::string_view text) {
  std::map<std::string, std::string> labels;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = TrimSpace(text.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("label \"{}\" is not key=value (--labels takes \"k=v,k2=v2\")", item);
    }
    const std::string key(TrimSpace(item.substr(0, eq)));
    const std::string value(TrimSpace(item.substr(eq + 1)));
    if (key.empty()) return InvalidArgument("label \"{}\" has an empty key", item);
    if (!labels.emplace(key, value).second) return InvalidArgument("label \"{}\": key \"{}\" given twice", item, key);
  }
  return labels;
}

bool DeviceMatches(const v1::DeviceInfo& device, const std::map<std::string, std::string>& labels,
                   const std::vector<std::string>& capabilities, std::string_view backend, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  for (const auto& [key, value] : labels) {
    auto it = device.labels().find(key);
    if (it == device.labels().end())
      return fail(fmt::format("label {}={} required; device has no {}", key, value, key));
    if (it->second != value)
      return fail(fmt::format("label {}={} required; device has {}={}", key, value, key, it->second));
  }
  for (const std::string& capability : capabilities) {
    if (!HasCapability(device, capability)) {
      return fail(fmt::format(
          "capability \"{}\" required; device lacks it (neither an ISA feature, an available backend, nor an npu:PLUGIN[:SOC] the device can load)", capability));
    }
  }
  if (backend.empty()) return true;
  const size_t colon = backend.find(':');
  const std::string_view name = backend.substr(0, colon);
  auto it = std::find_if(device.backends().begin(), device.backends().end(),
                         [&](const v1::BackendCapability& b) { return b.name() == name; });
  if (it == device.backends().end()) return fail(fmt::format("backend \"{}\" is unknown to this device", name));
  if (!it->available()) return fail(fmt::format("backend \"{}\" unavailable: {}", name, it->reason()));
  if (colon != std::string_view::npos && name == "npu") {
    const auto [plugin, soc] = NpuPluginAndSoc(backend.substr(colon + 1));
    std::string why;
    if (!plugin.empty() && !NpuPluginUsable(device, plugin, soc, &why)) return fail(why);
  }
  if (colon != std::string_view::npos && (name == "opencl" || name == "vulkan")) {
    const auto index = ParseLong(backend.substr(colon + 1));
    const int count = name == "opencl" ? device.opencl_devices_size() : device.vulkan_devices_size();
    if (index && (*index < 0 || *index >= count)) {
      return fail(
          fmt::format("backend \"{}\": device {} does not exist ({} {} devices listed)", backend, *index, count, name));
    }
  }
  return true;
}

}  // namespace tlm

// What a device agent reports about its machine (tlmbench.v1.DeviceInfo): host, CPU, memory, OS,
// OpenCL and Vulkan devices, NPU plugins, backends and models; and whether a run's requirements
// (labels, capabilities, backend) match it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm {

struct DeviceProbeOptions {
  std::string name;                           // DeviceInfo.name; "" -> the host name
  std::map<std::string, std::string> labels;  // copied into DeviceInfo.labels
  std::string models_dir;                     // *.gguf files (name, size) into DeviceInfo.models; "" -> none
  std::string npu_plugin_dir;                 // lib*.so there as NpuPlugin entries (path only); "" -> none
  // The backends compiled into this binary, as the engine's registry reports them (the agent fills
  // this from RegisteredBackends() with EngineBackendCapability). tlm_devices does not link the
  // engine, so the registry comes in here. Design backends absent from it are reported as not built.
  std::vector<tlmbench::v1::BackendCapability> engine_backends;
};

// Every backend name of the design, in the order DeviceInfo.backends lists them.
const std::vector<std::string>& DesignBackendNames();

// One registered engine backend as a capability: available when its probe is OK, else the probe's
// message is the reason. `probe` is BackendRegistration::probe() of engine/backend/backend.h.
tlmbench::v1::BackendCapability EngineBackendCapability(std::string_view name, std::string_view description,
                                                        const Status& probe);

// Probes the machine. Never fails: facts that cannot be read stay empty (0, ""), and the OpenCL and
// Vulkan errors are reported in opencl_error / vulkan_error.
tlmbench::v1::DeviceInfo ProbeDevice(const DeviceProbeOptions& options);

// Parses "k=v,k2=v2" (the agent's --labels). Spaces around items, keys and values are trimmed;
// empty items are skipped. Errors (kInvalidArgument) name the bad item: no '=', empty key, or a
// key given twice.
StatusOr<std::map<std::string, std::string>> ParseLabels(std::string_view text);

// True when `device` can take a run: every required label present with the same value, every
// required capability present, and the backend available. Capabilities are ISA features ("avx2",
// "neon") or names of available backends ("cpu", "opencl", "vulkan"). `backend` may carry a device
// suffix ("opencl:1"): the name before ':' must be available and, for opencl and vulkan, a numeric
// suffix must index a listed device. An empty backend requires none. When not matching, *why (if
// not null) gets the first reason.
bool DeviceMatches(const tlmbench::v1::DeviceInfo& device, const std::map<std::string, std::string>& labels,
                   const std::vector<std::string>& capabilities, std::string_view backend, std::string* why);

// The parts of ProbeDevice, exposed for tests and for the agent's re-probes.

// Lists OpenCL platforms and devices through the ICD loader into device.opencl_devices, or sets
// device.opencl_error ("no OpenCL platform (clGetPlatformIDs: CL_PLATFORM_NOT_FOUND_KHR -1001)").
void ProbeOpenClDevices(tlmbench::v1::DeviceInfo& device);
// "CL_DEVICE_NOT_FOUND" for -1, "CL_PLATFORM_NOT_FOUND_KHR" for -1001, "CL_ERROR" otherwise.
std::string OpenClErrorName(int32_t code);

// Creates a bare VkInstance (no layers, no extensions), lists the physical devices into
// device.vulkan_devices and destroys it; or sets device.vulkan_error.
void ProbeVulkanDevices(tlmbench::v1::DeviceInfo& device);
// "VK_ERROR_INCOMPATIBLE_DRIVER" for -9, "VK_RESULT" otherwise.
std::string VulkanResultName(int32_t code);

// *.gguf regular files (symlinks followed) of `dir`, sorted by name. Missing dir: empty.
std::vector<tlmbench::v1::ModelFile> ListModelFiles(const std::string& dir);
// lib*.so files of `dir`, sorted, as plugins with only the path set. Missing dir: empty.
std::vector<tlmbench::v1::NpuPlugin> ListNpuPlugins(const std::string& dir);
// Distinct (package, core) pairs of sysfs topology under `sysfs_root`, else of the "physical id" and
// "core id" lines of `cpuinfo`; 0 when neither says.
int CountPhysicalCores(const std::string& sysfs_root, std::string_view cpuinfo);
// PRETTY_NAME of an os-release file, unquoted; "" if absent.
std::string ParseOsReleasePrettyName(std::string_view os_release);

}  // namespace tlm

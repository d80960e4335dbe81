// OpenCL plumbing for the opencl backend: device enumeration and selection ("opencl:1",
// "opencl:pthread"), error names, and the JIT program build with its on-disk binary cache.
#pragma once

#include <CL/cl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/common/status.h"

namespace tlm::opencl {

const char* ClErrorName(cl_int err);

struct ClDeviceInfo {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  int index = 0;  // across all platforms, in enumeration order
  std::string platform_name, name, driver_version, device_version, extensions;
  cl_uint compute_units = 0;
  cl_ulong local_mem_bytes = 0, global_mem_bytes = 0, max_alloc_bytes = 0;
  size_t max_work_group_size = 0;
  cl_device_type type = 0;
  bool HasExtension(const std::string& ext) const;
};

// Every device of every platform. Unavailable (with the reason) when there is none.
StatusOr<std::vector<ClDeviceInfo>> ListDevices();
// selector: "" (the first GPU, else the first device), an index ("1") or a case-insensitive substring of the device
// name ("pthread"). A selector that matches nothing lists the devices.
StatusOr<ClDeviceInfo> SelectDevice(const std::string& selector);

// $TLMBENCH_CACHE_DIR/opencl, else $XDG_CACHE_HOME/tlmbench/opencl, else ~/.cache/tlmbench/opencl.
std::string ProgramCacheDir();

struct BuiltProgram {
  cl_program program = nullptr;
  bool from_cache = false;
  std::string cache_file;
  std::string cache_note;  // why the cache was not used or not written, if it was not
};

// Builds `source` for the device with `options`: from the binary cache when a valid entry for
// (platform, device, driver, options, source) exists, else from source (then stores the binary).
// Corrupt or refused entries are rebuilt.
StatusOr<BuiltProgram> BuildProgram(cl_context context, const ClDeviceInfo& device, const std::string& source,
                                    const std::string& options);

}  // namespace tlm::opencl

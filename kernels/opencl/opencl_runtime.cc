// OpenCL device enumeration and selection, and the program-binary cache. A cache entry is
// <cache dir>/<sha256 of the key>.clbin: a header (magic, payload size, payload sha256) then the
// driver's binary; an entry whose header or checksum does not match, or that the driver refuses,
// is rebuilt from source and rewritten (atomically, through a temporary file and a rename).
#include "kernels/opencl/opencl_runtime.h"

#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/common/cache_dir.h"
#include "engine/common/sha256.h"
#include "kernels/opencl/cl_info.h"

namespace tlm::opencl {
namespace {

namespace fs = std::filesystem;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

constexpr char kMagic[8] = {'T', 'L', 'M', 'C', 'L', 'B', 'N', '1'};
constexpr size_t kHeaderBytes = 8 + 8 + 64;  // magic, payload size, sha256 hex

std::string BuildLog(cl_program program, cl_device_id device) {
  size_t n = 0;
  clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
  std::string log(n, '\0');
  if (n > 0) clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  if (log.size() > 4000) log = log.substr(0, 4000) + "\n...";
  return log;
}

// The payload of a cache entry, or empty when it is missing or corrupt.
std::string ReadEntry(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < kHeaderBytes || std::memcmp(data.data(), kMagic, 8) != 0) return "";
  uint64_t size = 0;
  std::memcpy(&size, data.data() + 8, 8);
  if (size == 0 || size != data.size() - kHeaderBytes) return "";
  std::string payload = data.substr(kHeaderBytes);
  if (Sha256Hex(payload.data(), payload.size()) != data.substr(16, 64)) return "";
  return payload;
}

Status WriteEntry(const std::string& path, const std::string& payload) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Unavailable("cannot create {}: {}", fs::path(path).parent_path().string(), ec.message());
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Unavailable("cannot write {}", tmp);
    const uint64_t size = payload.size();
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&size), 8);
    out << Sha256Hex(payload.data(), payload.size()) << payload;
    if (!out) return Unavailable("cannot write {}", tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Unavailable("cannot rename the cache entry to {}", path);
  }
  return Status::Ok();
}

}  // namespace

const char* ClErrorName(cl_int err) {
  switch (err) {
    case CL_SUCCESS:
      return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND:
      return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE:
      return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE:
      return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
      return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES:
      return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY:
      return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE:
      return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE:
      return "CL_INVALID_VALUE";
    case CL_INVALID_PLATFORM:
      return "CL_INVALID_PLATFORM";
    case CL_INVALID_DEVICE:
      return "CL_INVALID_DEVICE";
    case CL_INVALID_CONTEXT:
      return "CL_INVALID_CONTEXT";
    case CL_INVALID_COMMAND_QUEUE:
      return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_MEM_OBJECT:
      return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_BINARY:
      return "CL_INVALID_BINARY";
    case CL_INVALID_BUILD_OPTIONS:
      return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_PROGRAM:
      return "CL_INVALID_PROGRAM";
    case CL_INVALID_PROGRAM_EXECUTABLE:
      return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_KERNEL_NAME:
      return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL:
      return "CL_INVALID_KERNEL";
    case CL_INVALID_ARG_INDEX:
      return "CL_INVALID_ARG_INDEX";
    case CL_INVALID_ARG_VALUE:
      return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_ARG_SIZE:
      return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_KERNEL_ARGS:
      return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_DIMENSION:
      return "CL_INVALID_WORK_DIMENSION";
    case CL_INVALID_WORK_GROUP_SIZE:
      return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE:
      return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_OFFSET:
      return "CL_INVALID_GLOBAL_OFFSET";
    case CL_INVALID_BUFFER_SIZE:
      return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE:
      return "CL_INVALID_GLOBAL_WORK_SIZE";
    case -1001:
      return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL ICD installed)";
    default:
      return "unknown OpenCL error";
  }
}

bool ClDeviceInfo::HasExtension(const std::string& ext) const {
  size_t at = 0;
  while ((at = extensions.find(ext, at)) != std::string::npos) {
    const size_t end = at + ext.size();
    if ((at == 0 || extensions[at - 1] == ' ') && (end == extensions.size() || extensions[end] == ' ')) return true;
    at = end;
  }
  return false;
}

StatusOr<std::vector<ClDeviceInfo>> ListDevices() {
  cl_uint n_platforms = 0;
  cl_int err = clGetPlatformIDs(0, nullptr, &n_platforms);
  if (err != CL_SUCCESS || n_platforms == 0)
    return Unavailable("no OpenCL platform ({}; install an ICD, e.g. Debian's pocl-opencl-icd)",
                       err != CL_SUCCESS ? ClErrorName(err) : "0 platforms");
  std::vector<cl_platform_id> platforms(n_platforms);
  if ((err = clGetPlatformIDs(n_platforms, platforms.data(), nullptr)) != CL_SUCCESS)
    return Unavailable("clGetPlatformIDs: {}", ClErrorName(err));
  std::vector<ClDeviceInfo> out;
  for (cl_platform_id p : platforms) {
    cl_uint n = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n) != CL_SUCCESS || n == 0) continue;
    std::vector<cl_device_id> devices(n);
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, devices.data(), nullptr) != CL_SUCCESS) continue;
    for (cl_device_id d : devices) {
      if (!DeviceValue<cl_bool>(d, CL_DEVICE_AVAILABLE) || !DeviceValue<cl_bool>(d, CL_DEVICE_COMPILER_AVAILABLE))
        continue;
      ClDeviceInfo info;
      info.platform = p;
      info.device = d;
      info.index = static_cast<int>(out.size());
      info.platform_name = PlatformString(p, CL_PLATFORM_NAME);
      info.name = DeviceString(d, CL_DEVICE_NAME);
      info.driver_version = DeviceString(d, CL_DRIVER_VERSION);
      info.device_version = DeviceString(d, CL_DEVICE_VERSION);
      info.extensions = DeviceString(d, CL_DEVICE_EXTENSIONS);
      info.compute_units = DeviceValue<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS);
      info.local_mem_bytes = DeviceValue<cl_ulong>(d, CL_DEVICE_LOCAL_MEM_SIZE);
      info.global_mem_bytes = DeviceValue<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE);
      info.max_alloc_bytes = DeviceValue<cl_ulong>(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
      info.max_work_group_size = DeviceValue<size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE);
      info.type = DeviceValue<cl_device_type>(d, CL_DEVICE_TYPE);
      out.push_back(std::move(info));
    }
  }
  if (out.empty()) return Unavailable("{} OpenCL platform(s) but no available device with a compiler", n_platforms);
  return out;
}

StatusOr<ClDeviceInfo> SelectDevice(const std::string& selector) {
  auto devices = ListDevices();
  if (!devices.ok()) return devices.status();
  if (selector.empty()) {
    for (const ClDeviceInfo& d : *devices)
      if (d.type & CL_DEVICE_TYPE_GPU) return d;
    return devices->front();
  }
  auto listing = [&] {
    std::string s;
    for (const ClDeviceInfo& d : *devices)
      s += fmt::format("{}{}: {} ({})", s.empty() ? "" : ", ", d.index, d.name, d.platform_name);
    return s;
  };
  if (std::all_of(selector.begin(), selector.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    const size_t index = selector.size() > 6 ? SIZE_MAX : std::stoul(selector);
    if (index >= devices->size())
      return InvalidArgument("opencl device index {} is out of range; devices: {}", selector, listing());
    return (*devices)[index];
  }
  const std::string want = Lower(selector);
  for (const ClDeviceInfo& d : *devices)
    if (Lower(d.name).find(want) != std::string::npos) return d;
  return InvalidArgument("no opencl device matches '{}'; devices: {}", selector, listing());
}

std::string ProgramCacheDir() { return BackendCacheDir("opencl"); }

StatusOr<BuiltProgram> BuildProgram(cl_context context, const ClDeviceInfo& device, const std::string& source,
                                    const std::string& options) {
  BuiltProgram out;
  const std::string key =
      fmt::format("platform={}\ndevice={}\ndriver={}\nversion={}\noptions={}\nsource=", device.platform_name,
                  device.name, device.driver_version, device.device_version, options) +
      source;
  out.cache_file =
      (fs::path(ProgramCacheDir()) / (Sha256Hex(key.data(), key.size()).substr(0, 32) + ".clbin")).string();
  cl_int err = CL_SUCCESS;
  // Warm path: a checksummed binary the driver accepts and links.
  if (const std::string binary = ReadEntry(out.cache_file); !binary.empty()) {
    const size_t size = binary.size();
    const auto* bytes = reinterpret_cast<const unsigned char*>(binary.data());
    cl_int binary_status = CL_SUCCESS;
    cl_program p = clCreateProgramWithBinary(context, 1, &device.device, &size, &bytes, &binary_status, &err);
    if (err == CL_SUCCESS && binary_status == CL_SUCCESS && p != nullptr &&
        clBuildProgram(p, 1, &device.device, options.c_str(), nullptr, nullptr) == CL_SUCCESS) {
      out.program = p;
      out.from_cache = true;
      return out;
    }
    if (p != nullptr) clReleaseProgram(p);
    out.cache_note = "cache entry refused by the driver; rebuilt";
  } else if (fs::exists(out.cache_file)) {
    out.cache_note = "corrupt cache entry; rebuilt";
  }
  const char* text = source.c_str();
  const size_t length = source.size();
  cl_program p = clCreateProgramWithSource(context, 1, &text, &length, &err);
  if (err != CL_SUCCESS) return Internal("clCreateProgramWithSource: {}", ClErrorName(err));
  err = clBuildProgram(p, 1, &device.device, options.c_str(), nullptr, nullptr);
  if (err != CL_SUCCESS) {
    const std::string log = BuildLog(p, device.device);
    clReleaseProgram(p);
    return Internal("building the OpenCL program for {} failed ({}):\n{}", device.name, ClErrorName(err), log);
  }
  out.program = p;
  size_t size = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, nullptr) != CL_SUCCESS || size == 0) {
    out.cache_note = "the driver returned no program binary; not cached";
    return out;
  }
  std::string binary(size, '\0');
  unsigned char* ptr = reinterpret_cast<unsigned char*>(binary.data());
  if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof(ptr), &ptr, nullptr) != CL_SUCCESS) {
    out.cache_note = "clGetProgramInfo(CL_PROGRAM_BINARIES) failed; not cached";
    return out;
  }
  if (Status s = WriteEntry(out.cache_file, binary); !s.ok()) out.cache_note = s.message();
  return out;
}

}  // namespace tlm::opencl

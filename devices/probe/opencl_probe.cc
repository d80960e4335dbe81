// Lists OpenCL platforms and devices through the ICD loader (the C API, no context is created).
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <CL/cl_ext.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "devices/probe/device_info.h"
#include "kernels/opencl/cl_info.h"

namespace tlm {

namespace {

namespace v1 = tlmbench::v1;

using opencl::DeviceString;
using opencl::DeviceValue;
using opencl::PlatformString;

std::string DeviceTypeName(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) return "gpu";
  if (type & CL_DEVICE_TYPE_CPU) return "cpu";
  if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  if (type & CL_DEVICE_TYPE_CUSTOM) return "custom";
  return "other";
}

std::string Describe(const char* call, cl_int code) {
  return fmt::format("{}: {} {}", call, OpenClErrorName(code), code);
}

}  // namespace

std::string OpenClErrorName(int32_t code) {
  switch (code) {
    case CL_SUCCESS:
      return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND:
      return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE:
      return "CL_DEVICE_NOT_AVAILABLE";
    case CL_OUT_OF_RESOURCES:
      return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY:
      return "CL_OUT_OF_HOST_MEMORY";
    case CL_INVALID_VALUE:
      return "CL_INVALID_VALUE";
    case CL_INVALID_PLATFORM:
      return "CL_INVALID_PLATFORM";
    case CL_INVALID_DEVICE_TYPE:
      return "CL_INVALID_DEVICE_TYPE";
    case CL_INVALID_DEVICE:
      return "CL_INVALID_DEVICE";
    case CL_PLATFORM_NOT_FOUND_KHR:
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      return "CL_ERROR";
  }
}

void ProbeOpenClDevices(v1::DeviceInfo& device) {
  device.clear_opencl_devices();
  device.clear_opencl_error();
  cl_uint n_platforms = 0;
  cl_int rc = clGetPlatformIDs(0, nullptr, &n_platforms);
  if (rc != CL_SUCCESS || n_platforms == 0) {
    device.set_opencl_error(fmt::format("no OpenCL platform ({})", rc != CL_SUCCESS ? Describe("clGetPlatformIDs", rc)
                                                                                    : "clGetPlatformIDs: 0 platforms"));
    return;
  }
  std::vector<cl_platform_id> platforms(n_platforms);
  rc = clGetPlatformIDs(n_platforms, platforms.data(), nullptr);
  if (rc != CL_SUCCESS) {
    device.set_opencl_error(fmt::format("no OpenCL platform ({})", Describe("clGetPlatformIDs", rc)));
    return;
  }

  std::vector<std::string> platform_errors;
  int device_index = 0;  // across all platforms, as opencl:N selects a device
  for (cl_uint p = 0; p < n_platforms; ++p) {
    const std::string platform_name = PlatformString(platforms[p], CL_PLATFORM_NAME);
    cl_uint n_devices = 0;
    rc = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, nullptr, &n_devices);
    if (rc != CL_SUCCESS || n_devices == 0) {
      platform_errors.push_back(fmt::format("platform {} ({}): {}", p, platform_name,
                                            rc != CL_SUCCESS ? Describe("clGetDeviceIDs", rc) : "0 devices"));
      continue;
    }
    std::vector<cl_device_id> ids(n_devices);
    rc = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, n_devices, ids.data(), nullptr);
    if (rc != CL_SUCCESS) {
      platform_errors.push_back(fmt::format("platform {} ({}): {}", p, platform_name, Describe("clGetDeviceIDs", rc)));
      continue;
    }
    for (cl_device_id id : ids) {
      v1::OpenClDevice* d = device.add_opencl_devices();
      d->set_platform_index(static_cast<int32_t>(p));
      d->set_platform(platform_name);
      d->set_device_index(device_index++);
      d->set_name(DeviceString(id, CL_DEVICE_NAME));
      d->set_vendor(DeviceString(id, CL_DEVICE_VENDOR));
      d->set_version(DeviceString(id, CL_DEVICE_VERSION));
      d->set_driver_version(DeviceString(id, CL_DRIVER_VERSION));
      d->set_type(DeviceTypeName(DeviceValue<cl_device_type>(id, CL_DEVICE_TYPE)));
      d->set_global_mem_bytes(DeviceValue<cl_ulong>(id, CL_DEVICE_GLOBAL_MEM_SIZE));
      d->set_compute_units(static_cast<int32_t>(DeviceValue<cl_uint>(id, CL_DEVICE_MAX_COMPUTE_UNITS)));
    }
  }
  if (device.opencl_devices_size() == 0) {
    std::string text;
    for (const auto& e : platform_errors) text += (text.empty() ? "" : "; ") + e;
    device.set_opencl_error(fmt::format("no OpenCL device ({})", text));
  }
}

}  // namespace tlm

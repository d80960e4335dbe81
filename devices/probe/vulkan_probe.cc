// Lists Vulkan physical devices through a bare instance (no layers, no extensions), then destroys it.
#include <vulkan/vulkan.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "devices/probe/device_info.h"

namespace tlm {

namespace {

namespace v1 = tlmbench::v1;

std::string DeviceTypeName(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "cpu";
    default:
      return "other";
  }
}

std::string ApiVersion(uint32_t v) {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

// driverVersion is vendor-defined; NVIDIA packs 10.8.8.6 bits, most others (Mesa) use the API layout.
std::string DriverVersion(uint32_t vendor_id, uint32_t v) {
  if (vendor_id == 0x10DE) {
    return fmt::format("{}.{}.{}.{}", (v >> 22) & 0x3ff, (v >> 14) & 0xff, (v >> 6) & 0xff, v & 0x3f);
  }
  return ApiVersion(v);
}

std::string Describe(const char* call, VkResult rc) {
  return fmt::format("{}: {} {}", call, VulkanResultName(rc), static_cast<int>(rc));
}

}  // namespace

std::string VulkanResultName(int32_t code) {
  switch (code) {
    case VK_SUCCESS:
      return "VK_SUCCESS";
    case VK_INCOMPLETE:
      return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
      return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return "VK_ERROR_INCOMPATIBLE_DRIVER";
    default:
      return "VK_RESULT";
  }
}

void ProbeVulkanDevices(v1::DeviceInfo& device) {
  device.clear_vulkan_devices();
  device.clear_vulkan_error();

  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "tlmbench-probe";
  app.pEngineName = "tlmbench";
  // Ask for 1.2 (for the driver properties) only where the loader has it: a 1.0 loader refuses any
  // higher version with VK_ERROR_INCOMPATIBLE_DRIVER.
  uint32_t instance_version = VK_API_VERSION_1_0;
  auto enumerate_version = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(
      vkGetInstanceProcAddr(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
  if (enumerate_version != nullptr && enumerate_version(&instance_version) != VK_SUCCESS) {
    instance_version = VK_API_VERSION_1_0;
  }
  app.apiVersion = std::min<uint32_t>(VK_API_VERSION_1_2, instance_version);
  VkInstanceCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  create.pApplicationInfo = &app;

  VkInstance instance = VK_NULL_HANDLE;
  VkResult rc = vkCreateInstance(&create, nullptr, &instance);
  if (rc != VK_SUCCESS) {
    device.set_vulkan_error(
        fmt::format("no Vulkan instance ({}{})", Describe("vkCreateInstance", rc),
                    rc == VK_ERROR_INCOMPATIBLE_DRIVER ? ": no Vulkan driver (ICD) installed" : ""));
    return;
  }
  uint32_t count = 0;
  rc = vkEnumeratePhysicalDevices(instance, &count, nullptr);
  std::vector<VkPhysicalDevice> physical(count);
  if (rc == VK_SUCCESS && count > 0) rc = vkEnumeratePhysicalDevices(instance, &count, physical.data());
  if (rc != VK_SUCCESS && rc != VK_INCOMPLETE) {
    device.set_vulkan_error(fmt::format("no Vulkan device ({})", Describe("vkEnumeratePhysicalDevices", rc)));
  } else if (count == 0) {
    device.set_vulkan_error("no Vulkan device (vkEnumeratePhysicalDevices: 0 devices)");
  } else {
    physical.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
      VkPhysicalDeviceProperties props{};
      vkGetPhysicalDeviceProperties(physical[i], &props);
      v1::VulkanDevice* d = device.add_vulkan_devices();
      d->set_index(static_cast<int32_t>(i));
      d->set_name(props.deviceName);
      d->set_type(DeviceTypeName(props.deviceType));
      d->set_api_version(ApiVersion(props.apiVersion));
      d->set_driver_version(DriverVersion(props.vendorID, props.driverVersion));
      if (app.apiVersion >= VK_API_VERSION_1_2 && props.apiVersion >= VK_API_VERSION_1_2) {
        // The driver's own name and version ("llvmpipe: Mesa 22.3.6 (LLVM 15.0.6)") say more than
        // the packed number, which lavapipe leaves at 0.0.1.
        VkPhysicalDeviceDriverProperties driver{};
        driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
        VkPhysicalDeviceProperties2 props2{};
        props2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
        props2.pNext = &driver;
        vkGetPhysicalDeviceProperties2(physical[i], &props2);
        const std::string name(driver.driverName), info(driver.driverInfo);
        if (!info.empty()) d->set_driver_version(name.empty() ? info : fmt::format("{}: {}", name, info));
      }
      d->set_vendor_id(props.vendorID);
      d->set_device_id(props.deviceID);
    }
  }
  vkDestroyInstance(instance, nullptr);
}

}  // namespace tlm

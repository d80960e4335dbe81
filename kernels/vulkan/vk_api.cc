// dlopen of the Vulkan loader and the entry point tables (vk_api.h).
#include "kernels/vulkan/vk_api.h"

#include <dlfcn.h>

namespace tlm::vulkan {

std::string LoadVulkanLoader(VkApi* api) {
  static void* library = [] {
    void* h = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) h = dlopen("libvulkan.so", RTLD_NOW | RTLD_LOCAL);
    return h;
  }();
  if (library == nullptr) return "no Vulkan loader: libvulkan.so.1 cannot be opened (Debian package libvulkan1)";
  api->vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library, "vkGetInstanceProcAddr"));
  if (api->vkGetInstanceProcAddr == nullptr) return "the Vulkan loader has no vkGetInstanceProcAddr";
#define TLM_VK_LOAD_GLOBAL(name) api->name = reinterpret_cast<PFN_##name>(api->vkGetInstanceProcAddr(nullptr, #name));
  TLM_VK_GLOBAL_FUNCTIONS(TLM_VK_LOAD_GLOBAL)
#undef TLM_VK_LOAD_GLOBAL
  if (api->vkCreateInstance == nullptr) return "the Vulkan loader has no vkCreateInstance";
  return "";
}

bool LoadInstanceFunctions(VkApi* api, VkInstance instance, std::string* missing) {
#define TLM_VK_LOAD_INSTANCE(name)                                                       \
  api->name = reinterpret_cast<PFN_##name>(api->vkGetInstanceProcAddr(instance, #name)); \
  if (api->name == nullptr) {                                                            \
    *missing = #name;                                                                    \
    return false;                                                                        \
  }
  TLM_VK_INSTANCE_FUNCTIONS(TLM_VK_LOAD_INSTANCE)
#undef TLM_VK_LOAD_INSTANCE
  return true;
}

bool LoadDeviceFunctions(VkApi* api, VkDevice device, std::string* missing) {
#define TLM_VK_LOAD_DEVICE(name)                                                     \
  api->name = reinterpret_cast<PFN_##name>(api->vkGetDeviceProcAddr(device, #name)); \
  if (api->name == nullptr) {                                                        \
    *missing = #name;                                                                \
    return false;                                                                    \
  }
  TLM_VK_DEVICE_FUNCTIONS(TLM_VK_LOAD_DEVICE)
#undef TLM_VK_LOAD_DEVICE
  return true;
}

const char* VkResultName(VkResult r) {
  switch (r) {
    case VK_SUCCESS:
      return "VK_SUCCESS";
    case VK_NOT_READY:
      return "VK_NOT_READY";
    case VK_TIMEOUT:
      return "VK_TIMEOUT";
    case VK_INCOMPLETE:
      return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
      return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
      return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED:
      return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
      return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS:
      return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED:
      return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL:
      return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY:
      return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default:
      return "VkResult error";
  }
}

}  // namespace tlm::vulkan

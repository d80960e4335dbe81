// VkContext (vk_context.h): device selection, memory types, buffers, pipeline cache, pipelines.
#include "kernels/vulkan/vk_context.h"

#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/common/cache_dir.h"
#include "kernels/vulkan/spirv_shaders.h"

namespace tlm::vulkan {
namespace {

namespace fs = std::filesystem;

#define TLM_VK_CHECK(expr, what)                                                                                  \
  do {                                                                                                            \
    const VkResult tlm_vk_result = (expr);                                                                        \
    if (tlm_vk_result != VK_SUCCESS) return Internal("vulkan: {} failed: {}", what, VkResultName(tlm_vk_result)); \
  } while (0)

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string VersionString(uint32_t v) {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

const char* DeviceTypeName(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "cpu";
    default:
      return "other";
  }
}

std::span<const uint32_t> ShaderCode(Shader s, bool subgroup) {
#define TLM_SPV(name) \
  subgroup ? std::span<const uint32_t>(spirv::k_##name##_sg1) : std::span<const uint32_t>(spirv::k_##name##_sg0)
  switch (s) {
    case Shader::kEmbedding:
      return TLM_SPV(embedding);
    case Shader::kGemv:
      return TLM_SPV(matmul_gemv);
    case Shader::kGemm:
      return TLM_SPV(matmul_gemm);
    case Shader::kRmsNorm:
      return TLM_SPV(rmsnorm);
    case Shader::kRope:
      return TLM_SPV(rope);
    case Shader::kEltwise:
      return TLM_SPV(eltwise);
    case Shader::kKvStore:
      return TLM_SPV(kv_store);
    case Shader::kAttention:
      return TLM_SPV(attention);
  }
#undef TLM_SPV
  return {};
}

const char* ShaderName(Shader s) {
  switch (s) {
    case Shader::kEmbedding:
      return "embedding";
    case Shader::kGemv:
      return "matmul_gemv";
    case Shader::kGemm:
      return "matmul_gemm";
    case Shader::kRmsNorm:
      return "rmsnorm";
    case Shader::kRope:
      return "rope";
    case Shader::kEltwise:
      return "eltwise";
    case Shader::kKvStore:
      return "kv_store";
    case Shader::kAttention:
      return "attention";
  }
  return "?";
}

bool EnvFlag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) == "1";
}

// The pipeline cache folder: $TLMBENCH_CACHE_DIR/vulkan, else $XDG_CACHE_HOME/tlmbench/vulkan,
// else ~/.cache/tlmbench/vulkan.
std::string CacheDir() { return BackendCacheDir("vulkan"); }

// Our wrapper around the driver's cache blob: magic, payload size and FNV-1a hash, so a truncated
// or corrupted file is ignored before the driver sees it.
constexpr char kCacheMagic[8] = {'T', 'L', 'M', 'V', 'K', 'P', 'C', '1'};

uint64_t Fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Everything the instance and device enumeration give for probe() and Create().
struct Instance {
  VkApi api;
  VkInstance instance = VK_NULL_HANDLE;
  // Every physical device, in the loader's order (the index of "vulkan:N", as the agent's Vulkan
  // probe lists them); usable: Vulkan 1.1 and a compute queue.
  std::vector<VkPhysicalDevice> devices;
  std::vector<std::string> names;
  std::vector<bool> usable;
  ~Instance() {
    if (instance != VK_NULL_HANDLE && api.vkDestroyInstance) api.vkDestroyInstance(instance, nullptr);
  }
};

Status OpenInstance(Instance* inst) {
  VkApi& api = inst->api;
  if (std::string why = LoadVulkanLoader(&api); !why.empty()) return Unavailable("{}", why);
  uint32_t version = VK_API_VERSION_1_0;
  if (api.vkEnumerateInstanceVersion) api.vkEnumerateInstanceVersion(&version);
  if (version < VK_API_VERSION_1_1)
    return Unavailable("the Vulkan loader offers API {}; the backend needs 1.1", VersionString(version));
  auto app = Make<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
  app.pApplicationName = "tlmbench";
  app.pEngineName = "tlmbench";
  app.apiVersion = std::min<uint32_t>(version, VK_API_VERSION_1_3);
  auto ci = Make<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  ci.pApplicationInfo = &app;
  VkResult r = api.vkCreateInstance(&ci, nullptr, &inst->instance);
  if (r != VK_SUCCESS)
    return Unavailable("vkCreateInstance failed: {} (no Vulkan driver installed? Debian: mesa-vulkan-drivers)",
                       VkResultName(r));
  std::string missing;
  if (!LoadInstanceFunctions(&api, inst->instance, &missing)) return Unavailable("the Vulkan loader lacks {}", missing);
  uint32_t n = 0;
  api.vkEnumeratePhysicalDevices(inst->instance, &n, nullptr);
  std::vector<VkPhysicalDevice> all(n);
  if (n > 0) api.vkEnumeratePhysicalDevices(inst->instance, &n, all.data());
  for (VkPhysicalDevice pd : all) {
    VkPhysicalDeviceProperties props;
    api.vkGetPhysicalDeviceProperties(pd, &props);
    uint32_t nq = 0;
    api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qs(nq);
    api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qs.data());
    bool compute = false;
    for (const auto& q : qs) compute |= (q.queueFlags & VK_QUEUE_COMPUTE_BIT) != 0;
    inst->devices.push_back(pd);
    inst->names.push_back(props.deviceName);
    inst->usable.push_back(compute && props.apiVersion >= VK_API_VERSION_1_1);
  }
  if (std::find(inst->usable.begin(), inst->usable.end(), true) == inst->usable.end())
    return Unavailable(
        "no Vulkan 1.1 device with a compute queue ({} physical devices; Debian: mesa-vulkan-drivers "
        "gives the llvmpipe CPU device)",
        n);
  return Status::Ok();
}

}  // namespace

Status VkContext::Probe() {
  Instance inst;
  return OpenInstance(&inst);
}

StatusOr<std::shared_ptr<VkContext>> VkContext::Create(const std::string& selector) {
  std::shared_ptr<VkContext> ctx(new VkContext());
  TLM_RETURN_IF_ERROR(ctx->Init(selector));
  return ctx;
}

Status VkContext::Init(const std::string& selector) {
  auto inst = std::make_unique<Instance>();
  TLM_RETURN_IF_ERROR(OpenInstance(inst.get()));
  // Device selection: index, or case-insensitive substring of the name.
  int chosen = -1;
  std::string listing;
  for (size_t i = 0; i < inst->names.size(); ++i) listing += fmt::format("{}{}: {}", i ? ", " : "", i, inst->names[i]);
  if (selector.empty()) {
    chosen = static_cast<int>(std::find(inst->usable.begin(), inst->usable.end(), true) - inst->usable.begin());
  } else if (std::all_of(selector.begin(), selector.end(),
                         [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    const long index = selector.size() > 6 ? -1 : std::atol(selector.c_str());
    if (index < 0 || index >= static_cast<long>(inst->devices.size()))
      return NotFound("vulkan device {} does not exist; devices: {}", selector, listing);
    chosen = static_cast<int>(index);
    if (!inst->usable[chosen])
      return Unavailable("vulkan device {} ({}) has no compute queue or no Vulkan 1.1", index, inst->names[chosen]);
  } else {
    for (size_t i = 0; i < inst->names.size(); ++i)
      if (inst->usable[i] && Lower(inst->names[i]).find(Lower(selector)) != std::string::npos) {
        chosen = static_cast<int>(i);
        break;
      }
    if (chosen < 0) return NotFound("no vulkan device name contains '{}'; devices: {}", selector, listing);
  }
  api_ = inst->api;
  instance_ = inst->instance;
  inst->instance = VK_NULL_HANDLE;  // owned by this context now
  physical_ = inst->devices[chosen];

  // Properties: name, driver, subgroups, limits.
  auto subgroup = Make<VkPhysicalDeviceSubgroupProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES);
  auto driver = Make<VkPhysicalDeviceDriverProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES);
  subgroup.pNext = &driver;
  auto props2 = Make<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2);
  props2.pNext = &subgroup;
  api_.vkGetPhysicalDeviceProperties2(physical_, &props2);
  const VkPhysicalDeviceProperties& p = props2.properties;
  info_.name = p.deviceName;
  info_.type = DeviceTypeName(p.deviceType);
  info_.driver = driver.driverName[0] ? fmt::format("{} {}", driver.driverName, driver.driverInfo) : "unknown driver";
  info_.api_version = p.apiVersion;
  info_.vendor_id = p.vendorID;
  info_.device_id = p.deviceID;
  info_.driver_version = p.driverVersion;
  info_.subgroup_size = subgroup.subgroupSize;
  info_.subgroup_arithmetic = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                              (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) &&
                              (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                              !EnvFlag("TLMBENCH_VULKAN_NO_SUBGROUPS");
  info_.shared_memory = p.limits.maxComputeSharedMemorySize;
  info_.max_invocations = p.limits.maxComputeWorkGroupInvocations;
  info_.max_storage_range = p.limits.maxStorageBufferRange;
  if (const char* env = std::getenv("TLMBENCH_VULKAN_MAX_BUFFER"); env && *env)  // tests: split weights and outputs
    info_.max_storage_range = std::min<uint64_t>(info_.max_storage_range, std::strtoull(env, nullptr, 10));
  info_.storage_offset_alignment = std::max<uint64_t>(p.limits.minStorageBufferOffsetAlignment, 1);
  // Workgroup size for the reductions: eight subgroups, a power of two in [64, 256], within the
  // device's limits (Vulkan guarantees 128 invocations).
  uint32_t wg = std::clamp<uint32_t>(std::max<uint32_t>(info_.subgroup_size, 1) * 8, 64, 256);
  while (wg > info_.max_invocations || wg > p.limits.maxComputeWorkGroupSize[0]) wg /= 2;
  workgroup_ = std::max<uint32_t>(wg, 64);
  if (info_.max_invocations < 128 || info_.shared_memory < 16384)
    return Unavailable(
        "vulkan device {} has {} invocations and {} bytes of shared memory per workgroup; the shaders "
        "need 128 and 16384",
        info_.name, info_.max_invocations, info_.shared_memory);
  api_.vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
  for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
    const auto f = memory_.memoryTypes[i].propertyFlags;
    if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
      info_.device_local_host_visible = true;
  }
  force_staging_ = EnvFlag("TLMBENCH_VULKAN_FORCE_STAGING");

  // Queue family with compute; extensions.
  uint32_t nq = 0;
  api_.vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qs(nq);
  api_.vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, qs.data());
  for (uint32_t i = 0; i < nq; ++i)
    if (qs[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      queue_family_ = i;
      if (qs[i].timestampValidBits > 0) info_.timestamp_period_ns = p.limits.timestampPeriod;
      break;
    }
  uint32_t next = 0;
  api_.vkEnumerateDeviceExtensionProperties(physical_, nullptr, &next, nullptr);
  std::vector<VkExtensionProperties> exts(next);
  api_.vkEnumerateDeviceExtensionProperties(physical_, nullptr, &next, exts.data());
  std::vector<const char*> enable;
  creation_feedback_ = p.apiVersion >= VK_API_VERSION_1_3;
  if (!creation_feedback_)
    for (const auto& e : exts)
      if (std::strcmp(e.extensionName, VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME) == 0) {
        creation_feedback_ = true;
        enable.push_back(VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME);
      }
  const float priority = 1.f;
  auto qci = Make<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  auto dci = Make<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = static_cast<uint32_t>(enable.size());
  dci.ppEnabledExtensionNames = enable.data();
  TLM_VK_CHECK(api_.vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice");
  std::string missing;
  if (!LoadDeviceFunctions(&api_, device_, &missing)) return Unavailable("the Vulkan driver lacks {}", missing);
  api_.vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  auto pci = Make<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = queue_family_;
  TLM_VK_CHECK(api_.vkCreateCommandPool(device_, &pci, nullptr, &command_pool_), "vkCreateCommandPool");
  auto fci = Make<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
  TLM_VK_CHECK(api_.vkCreateFence(device_, &fci, nullptr, &fence_), "vkCreateFence");

  // One descriptor set layout for every shader: 8 storage buffers (common.glsl).
  VkDescriptorSetLayoutBinding bindings[8];
  for (uint32_t i = 0; i < 8; ++i)
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  auto lci = Make<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
  lci.bindingCount = 8;
  lci.pBindings = bindings;
  TLM_VK_CHECK(api_.vkCreateDescriptorSetLayout(device_, &lci, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, 48};
  auto plci = Make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  plci.setLayoutCount = 1;
  plci.pSetLayouts = &set_layout_;
  plci.pushConstantRangeCount = 1;
  plci.pPushConstantRanges = &range;
  TLM_VK_CHECK(api_.vkCreatePipelineLayout(device_, &plci, nullptr, &pipeline_layout_), "vkCreatePipelineLayout");

  // The pipeline cache file, one per device and driver.
  std::string uuid;
  for (uint8_t b : p.pipelineCacheUUID) uuid += fmt::format("{:02x}", b);
  cache_path_ = (fs::path(CacheDir()) /
                 fmt::format("{:04x}-{:04x}-{:08x}-{}.pipelines", p.vendorID, p.deviceID, p.driverVersion, uuid))
                    .string();
  std::vector<uint8_t> initial;
  {
    std::ifstream in(cache_path_, std::ios::binary);
    std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (file.size() >= 24 && std::memcmp(file.data(), kCacheMagic, 8) == 0) {
      uint64_t size = 0, hash = 0;
      std::memcpy(&size, file.data() + 8, 8);
      std::memcpy(&hash, file.data() + 16, 8);
      const uint8_t* data = file.data() + 24;
      // The driver's header (VkPipelineCacheHeaderVersionOne) must name this device.
      if (size == file.size() - 24 && size >= 32 && Fnv1a(data, size) == hash) {
        uint32_t header_len, version, vendor, device;
        std::memcpy(&header_len, data, 4);
        std::memcpy(&version, data + 4, 4);
        std::memcpy(&vendor, data + 8, 4);
        std::memcpy(&device, data + 12, 4);
        if (header_len >= 32 && header_len <= size && version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
            vendor == p.vendorID && device == p.deviceID && std::memcmp(data + 16, p.pipelineCacheUUID, 16) == 0)
          initial.assign(data, data + size);
      }
    }
  }
  auto cci = Make<VkPipelineCacheCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO);
  cci.initialDataSize = initial.size();
  cci.pInitialData = initial.empty() ? nullptr : initial.data();
  if (api_.vkCreatePipelineCache(device_, &cci, nullptr, &pipeline_cache_) != VK_SUCCESS) {
    cci.initialDataSize = 0;  // the driver refused the data: start empty
    cci.pInitialData = nullptr;
    initial.clear();
    TLM_VK_CHECK(api_.vkCreatePipelineCache(device_, &cci, nullptr, &pipeline_cache_), "vkCreatePipelineCache");
  }
  cache_loaded_ = !initial.empty();
  loaded_ = initial;
  saved_ = initial;
  return Status::Ok();
}

VkContext::~VkContext() {
  if (device_ != VK_NULL_HANDLE) {
    api_.vkDeviceWaitIdle(device_);
    (void)SaveCache();
    for (auto& [key, pipeline] : pipelines_) api_.vkDestroyPipeline(device_, pipeline, nullptr);
    if (pipeline_cache_) api_.vkDestroyPipelineCache(device_, pipeline_cache_, nullptr);
    if (pipeline_layout_) api_.vkDestroyPipelineLayout(device_, pipeline_layout_, nullptr);
    if (set_layout_) api_.vkDestroyDescriptorSetLayout(device_, set_layout_, nullptr);
    if (fence_) api_.vkDestroyFence(device_, fence_, nullptr);
    if (command_pool_) api_.vkDestroyCommandPool(device_, command_pool_, nullptr);
    api_.vkDestroyDevice(device_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) api_.vkDestroyInstance(instance_, nullptr);
}

std::string VkContext::Describe() const {
  return fmt::format("{} ({}, driver {}, Vulkan {}, subgroup {}{}, {} B shared memory, workgroup {})", info_.name,
                     info_.type, info_.driver, VersionString(info_.api_version), info_.subgroup_size,
                     info_.subgroup_arithmetic ? " with arithmetic ops" : " without arithmetic ops",
                     info_.shared_memory, workgroup_);
}

int VkContext::FindMemoryType(uint32_t type_bits, MemoryUse use) const {
  using F = VkMemoryPropertyFlags;
  const F host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  std::vector<std::pair<F, F>> tries;  // (required, avoided)
  switch (use) {
    case MemoryUse::kDevice:
      if (force_staging_) tries.push_back({VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT});
      tries.push_back({VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0});
      tries.push_back({0, 0});
      break;
    case MemoryUse::kHostRead:
      tries.push_back({host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0});
      tries.push_back({host, 0});
      break;
    case MemoryUse::kHostWrite:
      tries.push_back({host, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT});
      tries.push_back({host, 0});
      break;
  }
  for (const auto& [required, avoided] : tries)
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
      const F f = memory_.memoryTypes[i].propertyFlags;
      if ((type_bits & (1u << i)) && (f & required) == required && (f & avoided) == 0) return static_cast<int>(i);
    }
  return -1;
}

StatusOr<Buffer> VkContext::CreateBuffer(uint64_t size, MemoryUse use, const std::string& what, bool bound_whole) {
  size = std::max<uint64_t>((size + 15) / 16 * 16, 16);
  if (bound_whole && size > info_.max_storage_range)
    return ResourceExhausted("{}: {} bytes exceed the device's storage buffer range of {} bytes", what, size,
                             info_.max_storage_range);
  Buffer b;
  b.size = size;
  auto bci = Make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bci.size = size;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  TLM_VK_CHECK(api_.vkCreateBuffer(device_, &bci, nullptr, &b.buffer), "vkCreateBuffer for " + what);
  VkMemoryRequirements req;
  api_.vkGetBufferMemoryRequirements(device_, b.buffer, &req);
  const int type = FindMemoryType(req.memoryTypeBits, use);
  if (type < 0) {
    DestroyBuffer(b);
    return Internal("vulkan: no memory type fits {}", what);
  }
  auto mai = Make<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = static_cast<uint32_t>(type);
  if (VkResult r = api_.vkAllocateMemory(device_, &mai, nullptr, &b.memory); r != VK_SUCCESS) {
    DestroyBuffer(b);
    return ResourceExhausted("vulkan: allocating {} bytes for {} failed: {}", req.size, what, VkResultName(r));
  }
  TLM_VK_CHECK(api_.vkBindBufferMemory(device_, b.buffer, b.memory, 0), "vkBindBufferMemory");
  const auto flags = memory_.memoryTypes[type].propertyFlags;
  if ((flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) &&
      !(use == MemoryUse::kDevice && force_staging_))
    TLM_VK_CHECK(api_.vkMapMemory(device_, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory");
  return b;
}

void VkContext::DestroyBuffer(Buffer& b) {
  if (b.mapped) api_.vkUnmapMemory(device_, b.memory);
  if (b.buffer) api_.vkDestroyBuffer(device_, b.buffer, nullptr);
  if (b.memory) api_.vkFreeMemory(device_, b.memory, nullptr);
  b = Buffer();
}

StatusOr<VkCommandBuffer> VkContext::AllocateCommandBuffer() {
  std::lock_guard<std::mutex> lock(mu_);
  auto ai = Make<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
  ai.commandPool = command_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cb;
  TLM_VK_CHECK(api_.vkAllocateCommandBuffers(device_, &ai, &cb), "vkAllocateCommandBuffers");
  return cb;
}

void VkContext::FreeCommandBuffer(VkCommandBuffer cb) {
  std::lock_guard<std::mutex> lock(mu_);
  api_.vkFreeCommandBuffers(device_, command_pool_, 1, &cb);
}

Status VkContext::SubmitAndWait(VkCommandBuffer cb) {
  std::lock_guard<std::mutex> lock(mu_);
  auto si = Make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  TLM_VK_CHECK(api_.vkResetFences(device_, 1, &fence_), "vkResetFences");
  TLM_VK_CHECK(api_.vkQueueSubmit(queue_, 1, &si, fence_), "vkQueueSubmit");
  TLM_VK_CHECK(api_.vkWaitForFences(device_, 1, &fence_, VK_TRUE, 600ull * 1000 * 1000 * 1000), "vkWaitForFences");
  return Status::Ok();
}

// One-time command buffers for uploads and fills.
Status VkContext::Upload(const Buffer& dst, const void* data, uint64_t bytes) {
  if (bytes == 0) return Status::Ok();
  if (dst.mapped) {
    std::memcpy(dst.mapped, data, bytes);
    return Status::Ok();
  }
  const uint64_t chunk = std::min<uint64_t>(bytes, 64ull << 20);
  auto staging = CreateBuffer(chunk, MemoryUse::kHostWrite, "staging buffer");
  if (!staging.ok()) return staging.status();
  Buffer s = *staging;
  Status status = Status::Ok();
  for (uint64_t off = 0; off < bytes && status.ok(); off += chunk) {
    const uint64_t n = std::min(chunk, bytes - off);
    std::memcpy(s.mapped, static_cast<const uint8_t*>(data) + off, n);
    auto cb = AllocateCommandBuffer();
    if (!cb.ok()) {
      status = cb.status();
      break;
    }
    auto bi = Make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    api_.vkBeginCommandBuffer(*cb, &bi);
    VkBufferCopy region{0, off, n};
    api_.vkCmdCopyBuffer(*cb, s.buffer, dst.buffer, 1, &region);
    api_.vkEndCommandBuffer(*cb);
    status = SubmitAndWait(*cb);
    FreeCommandBuffer(*cb);
  }
  DestroyBuffer(s);
  return status;
}

Status VkContext::Fill(const Buffer& dst, uint32_t value) {
  auto cb = AllocateCommandBuffer();
  if (!cb.ok()) return cb.status();
  auto bi = Make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  api_.vkBeginCommandBuffer(*cb, &bi);
  api_.vkCmdFillBuffer(*cb, dst.buffer, 0, VK_WHOLE_SIZE, value);
  api_.vkEndCommandBuffer(*cb);
  Status s = SubmitAndWait(*cb);
  FreeCommandBuffer(*cb);
  return s;
}

StatusOr<VkPipeline> VkContext::Pipeline(Shader shader, uint32_t weight_type, uint32_t variant) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto key = std::make_tuple(shader, weight_type, variant);
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;
  const std::span<const uint32_t> code = ShaderCode(shader, info_.subgroup_arithmetic);
  auto smci = Make<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
  smci.codeSize = code.size_bytes();
  smci.pCode = code.data();
  VkShaderModule module;
  TLM_VK_CHECK(api_.vkCreateShaderModule(device_, &smci, nullptr, &module),
               fmt::format("vkCreateShaderModule({})", ShaderName(shader)));
  const uint32_t values[3] = {workgroup_, weight_type, variant};
  VkSpecializationMapEntry entries[3] = {{0, 0, 4}, {1, 4, 4}, {2, 8, 4}};
  VkSpecializationInfo spec{3, entries, sizeof(values), values};
  auto ci = Make<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
  ci.stage = Make<VkPipelineShaderStageCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO);
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = &spec;
  ci.layout = pipeline_layout_;
  VkPipelineCreationFeedback feedback{};
  auto fci = Make<VkPipelineCreationFeedbackCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO);
  fci.pPipelineCreationFeedback = &feedback;
  if (creation_feedback_) ci.pNext = &fci;
  VkPipeline pipeline;
  const VkResult r = api_.vkCreateComputePipelines(device_, pipeline_cache_, 1, &ci, nullptr, &pipeline);
  api_.vkDestroyShaderModule(device_, module, nullptr);
  if (r != VK_SUCCESS)
    return Internal("vulkan: building the {} pipeline (weight type {}, variant {}) failed: {}", ShaderName(shader),
                    weight_type, variant, VkResultName(r));
  ++pipelines_built_;
  const bool hit = creation_feedback_ && (feedback.flags & VK_PIPELINE_CREATION_FEEDBACK_VALID_BIT) &&
                   (feedback.flags & VK_PIPELINE_CREATION_FEEDBACK_APPLICATION_PIPELINE_CACHE_HIT_BIT);
  if (!hit) ++cache_misses_;
  pipelines_[key] = pipeline;
  return pipeline;
}

std::vector<uint8_t> VkContext::CacheData() const {
  size_t size = 0;
  if (pipeline_cache_ == VK_NULL_HANDLE ||
      api_.vkGetPipelineCacheData(device_, pipeline_cache_, &size, nullptr) != VK_SUCCESS)
    return {};
  std::vector<uint8_t> data(size);
  if (api_.vkGetPipelineCacheData(device_, pipeline_cache_, &size, data.data()) != VK_SUCCESS) return {};
  data.resize(size);
  return data;
}

bool VkContext::cache_warm() const {
  if (!cache_loaded_ || pipelines_built_ == 0) return false;
  return cache_misses_ == 0 || CacheData() == loaded_;
}

Status VkContext::SaveCache() {
  const std::vector<uint8_t> data = CacheData();
  if (data.size() < 32 || (data == saved_ && fs::exists(cache_path_))) return Status::Ok();
  const size_t size = data.size();
  std::vector<uint8_t> file(24);
  file.insert(file.end(), data.begin(), data.end());
  const uint64_t size64 = size, hash = Fnv1a(data.data(), size);
  std::memcpy(file.data(), kCacheMagic, 8);
  std::memcpy(file.data() + 8, &size64, 8);
  std::memcpy(file.data() + 16, &hash, 8);
  std::error_code ec;
  fs::create_directories(fs::path(cache_path_).parent_path(), ec);
  if (ec)
    return Internal("cannot create the vulkan pipeline cache folder {}: {}",
                    fs::path(cache_path_).parent_path().string(), ec.message());
  const std::string tmp = fmt::format("{}.tmp{}", cache_path_, static_cast<long>(getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
    if (!out) return Internal("cannot write the vulkan pipeline cache {}", tmp);
  }
  fs::rename(tmp, cache_path_, ec);
  if (ec) return Internal("cannot rename {} to {}: {}", tmp, cache_path_, ec.message());
  saved_ = data;
  return Status::Ok();
}

}  // namespace tlm::vulkan

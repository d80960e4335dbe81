// One Vulkan device opened for the backend: instance, physical device chosen by index or name,
// logical device and compute queue, memory-type choice, buffers, the persisted pipeline cache and
// the compute pipelines built from the embedded SPIR-V.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "engine/common/status.h"
#include "kernels/vulkan/vk_api.h"

namespace tlm::vulkan {

// Where the memory of a buffer should live.
enum class MemoryUse {
  kDevice,     // weights, activations, KV cache: device-local where the device has it
  kHostRead,   // readback: host-visible + coherent, host-cached preferred
  kHostWrite,  // staging and per-step values: host-visible + coherent
};

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t size = 0;
  void* mapped = nullptr;  // persistently mapped when the memory is host-visible
};

// The shaders (kernels/vulkan/shaders/*.comp).
enum class Shader { kEmbedding, kGemv, kGemm, kRmsNorm, kRope, kEltwise, kKvStore, kAttention };

struct DeviceInfo {
  std::string name, type, driver;
  uint32_t api_version = 0, vendor_id = 0, device_id = 0, driver_version = 0;
  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;  // used in compute shaders
  uint32_t shared_memory = 0, max_invocations = 0;
  uint64_t max_storage_range = 0;
  uint64_t storage_offset_alignment = 256;
  bool device_local_host_visible = false;  // unified memory (lavapipe, integrated GPUs)
  double timestamp_period_ns = 0;          // 0: the queue writes no timestamps
};

// The Vulkan physical devices with a compute queue, for selection and listing.
struct DeviceListing {
  std::vector<std::string> names;  // by index
};

class VkContext {
 public:
  ~VkContext();
  // selector: "" (the first device), an index, or a case-insensitive substring of the name.
  static StatusOr<std::shared_ptr<VkContext>> Create(const std::string& selector);
  // Why Vulkan cannot run here, or OK (loader, instance, a device with a compute queue).
  static Status Probe();

  const VkApi& vk() const { return api_; }
  VkDevice device() const { return device_; }
  const DeviceInfo& info() const { return info_; }
  uint32_t workgroup_size() const { return workgroup_; }
  std::string Describe() const;

  // bound_whole: the buffer is bound whole, so it must fit maxStorageBufferRange.
  StatusOr<Buffer> CreateBuffer(uint64_t size, MemoryUse use, const std::string& what, bool bound_whole = true);
  void DestroyBuffer(Buffer& b);
  // Copies host bytes into a buffer: memcpy where it is mapped, else through a staging buffer.
  Status Upload(const Buffer& dst, const void* data, uint64_t bytes);
  Status Fill(const Buffer& dst, uint32_t value);

  // The pipeline of a shader with its specialization (weight type, variant); built on first use
  // through the pipeline cache and kept.
  StatusOr<VkPipeline> Pipeline(Shader shader, uint32_t weight_type, uint32_t variant);
  VkPipelineLayout pipeline_layout() const { return pipeline_layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }

  // Submits one command buffer and waits for it (serialized per device).
  Status SubmitAndWait(VkCommandBuffer cb);
  StatusOr<VkCommandBuffer> AllocateCommandBuffer();
  void FreeCommandBuffer(VkCommandBuffer cb);

  // Pipeline cache file. Warm when it was read valid and every pipeline built so far came from it:
  // the driver reported a cache hit for each (pipeline creation feedback), or building them added
  // nothing to the driver's cache data (drivers that report no hits; lavapipe's cache holds only
  // its header).
  const std::string& cache_path() const { return cache_path_; }
  bool cache_warm() const;
  // Writes the cache file when the driver's cache data differs from the file's.
  Status SaveCache();

 private:
  VkContext() = default;
  Status Init(const std::string& selector);
  Status InitPipelineCache();
  int FindMemoryType(uint32_t type_bits, MemoryUse use) const;

  VkApi api_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkPhysicalDeviceMemoryProperties memory_{};
  DeviceInfo info_;
  uint32_t workgroup_ = 64;
  bool force_staging_ = false;
  bool creation_feedback_ = false;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
  VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;
  std::string cache_path_;
  bool cache_loaded_ = false;
  int pipelines_built_ = 0, cache_misses_ = 0;
  std::vector<uint8_t> loaded_, saved_;  // the data read from the file; the data last in the file
  std::vector<uint8_t> CacheData() const;
  std::map<std::tuple<Shader, uint32_t, uint32_t>, VkPipeline> pipelines_;
  std::mutex mu_;  // queue submission and the pipeline map
};

}  // namespace tlm::vulkan

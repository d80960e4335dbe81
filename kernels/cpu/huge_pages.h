// Anonymous memory whose start is aligned to 2 MiB and which, when asked, is advised into
// transparent huge pages (MADV_HUGEPAGE; a hint: 4 KiB pages where the kernel has none). A GEMV
// streams through huge pages without a TLB miss and a stop of the hardware prefetcher at every
// 4 KiB page. The cpu backend's weight copies and the kernel benchmark's buffers use it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tlm::cpu {

class AnonymousMemory {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;
  // At least `bytes`, zero-filled; pages become resident as they are written. Throws
  // std::bad_alloc when the mapping fails.
  AnonymousMemory(size_t bytes, bool huge_pages);
  ~AnonymousMemory();
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  size_t bytes_ = 0, map_bytes_ = 0;
  uint8_t* map_ = nullptr;
  uint8_t* data_ = nullptr;
};

}  // namespace tlm::cpu

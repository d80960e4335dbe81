// Anonymous memory aligned to 2 MiB, optionally advised into huge pages (huge_pages.h).
#include "kernels/cpu/huge_pages.h"

#include <sys/mman.h>

#include <new>

namespace tlm::cpu {

AnonymousMemory::AnonymousMemory(size_t bytes, bool huge_pages)
    : bytes_(bytes), map_bytes_((bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage) {
  void* p = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  map_ = static_cast<uint8_t*>(p);
  data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(map_) + kHugePage - 1) & ~(kHugePage - 1));
  if (huge_pages) ::madvise(data_, map_bytes_ - static_cast<size_t>(data_ - map_), MADV_HUGEPAGE);
}

AnonymousMemory::~AnonymousMemory() { ::munmap(map_, map_bytes_); }

}  // namespace tlm::cpu

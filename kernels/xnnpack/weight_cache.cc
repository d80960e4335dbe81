// cpu-xnnpack's on-disk cache of dequantized weights (see weight_cache.h).
#include "kernels/xnnpack/weight_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "engine/common/cache_dir.h"

namespace tlm::xnnpack {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'T', 'L', 'M', 'X', 'F', '3', '2', '\0'};
constexpr uint32_t kVersion = 1;

struct alignas(64) Header {
  char magic[8];
  uint32_t version;
  uint32_t type;
  int64_t k, n;
  uint64_t source_bytes, source_hash;
};
static_assert(sizeof(Header) == 64);

Header HeaderOf(const WeightKey& key) {
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.type = static_cast<uint32_t>(key.type);
  h.k = key.k;
  h.n = key.n;
  h.source_bytes = key.source_bytes;
  h.source_hash = key.source_hash;
  return h;
}

uint64_t PayloadBytes(const WeightKey& key) { return static_cast<uint64_t>(key.k * key.n) * sizeof(float); }

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Writes all of `bytes` or says why not.
bool WriteAll(int fd, const void* data, uint64_t bytes, std::string* why) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t w = ::write(fd, p, std::min<uint64_t>(bytes, uint64_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      *why = std::strerror(errno);
      return false;
    }
    p += w;
    bytes -= static_cast<uint64_t>(w);
  }
  return true;
}

}  // namespace

std::string DefaultWeightCacheDir() { return BackendCacheDir("xnnpack"); }

uint64_t HashBytes(const void* data, uint64_t bytes) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t lane[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t i = 0;
  for (; i + 32 <= bytes; i += 32)
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      lane[l] = Rotl((lane[l] ^ w) * kMul, 29);
    }
  uint64_t h = bytes * kMul;
  for (int l = 0; l < 4; ++l) h = Rotl((h ^ lane[l]) * kMul, 31);
  for (; i < bytes; i += 8) {  // the last 1..31 bytes, zero-padded (the length above tells them apart)
    uint64_t w = 0;
    std::memcpy(&w, p + i, std::min<uint64_t>(8, bytes - i));
    h = Rotl((h ^ w) * kMul, 27);
  }
  return h ^ (h >> 32);
}

MappedWeights::~MappedWeights() { ::munmap(map_, map_bytes_); }

std::string WeightCache::PathOf(const WeightKey& key) const {
  return (fs::path(dir_) / fmt::format("{:016x}-{}-{}x{}.f32", key.source_hash, DTypeName(key.type), key.n, key.k))
      .string();
}

std::unique_ptr<MappedWeights> WeightCache::Find(const WeightKey& key) const {
  const std::string path = PathOf(key);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  const uint64_t want = sizeof(Header) + PayloadBytes(key);
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != want) {
    ::close(fd);
    return nullptr;
  }
  // Populated now: XNNPACK reads every row once while it packs them.
  void* map = ::mmap(nullptr, want, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return nullptr;
  auto mapped = std::make_unique<MappedWeights>(
      map, want, reinterpret_cast<const float*>(static_cast<const uint8_t*>(map) + sizeof(Header)));
  const Header expected = HeaderOf(key);
  if (std::memcmp(map, &expected, sizeof(Header)) != 0) return nullptr;
  return mapped;
}

Status WeightCache::MakeFolder() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Unavailable("backend cpu-xnnpack: cannot create the weight cache folder {}: {}", dir_, ec.message());
  return Status::Ok();
}

Status WeightCache::Store(const WeightKey& key, const float* f32) const {
  std::error_code ec;
  const std::string path = PathOf(key);
  const std::string tmp = fmt::format("{}.tmp{}", path, static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unavailable("cpu-xnnpack weight cache: cannot write {}: {}", tmp, std::strerror(errno));
  const Header h = HeaderOf(key);
  std::string why;
  const bool ok = WriteAll(fd, &h, sizeof(h), &why) && WriteAll(fd, f32, PayloadBytes(key), &why);
  if (::close(fd) != 0 && ok) why = std::strerror(errno);
  if (!ok || !why.empty()) {
    ::unlink(tmp.c_str());
    return Unavailable("cpu-xnnpack weight cache: cannot write {} ({:.1f} MiB): {}", tmp, PayloadBytes(key) / 1048576.0,
                       why);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    ::unlink(tmp.c_str());
    return Unavailable("cpu-xnnpack weight cache: cannot rename {} to {}: {}", tmp, path, ec.message());
  }
  return Status::Ok();
}

}  // namespace tlm::xnnpack

// cpu-xnnpack's optional on-disk weight cache (`-b cpu-xnnpack:cache`): the f32 rows that a
// matrix dequantizes to, one file a matrix, named by a hash of its quantized bytes, so a later
// load maps them instead of dequantizing again. Debian's libxnnpack (0.0~git20220216) has no
// weights-cache API and its operators take only unpacked weights, so XNNPACK's own packing still
// runs at every load; what the cache saves is the dequantization before it.
//
// A file: a 64-byte header (magic, version, type, k, n, the source bytes and their hash), then
// n rows of k floats. A file that is short, of another shape or of other source bytes is a miss
// and is written anew; writes go to a temporary name that is renamed into place, so a reader
// never sees half a file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/common/status.h"
#include "engine/tensor/dtype.h"

namespace tlm::xnnpack {

// $TLMBENCH_CACHE_DIR/xnnpack, else $XDG_CACHE_HOME/tlmbench/xnnpack, else ~/.cache/tlmbench/xnnpack.
std::string DefaultWeightCacheDir();

// A 64-bit hash of `bytes` bytes at `data` (four interleaved multiply-rotate lanes: several GB/s,
// so that keying a model's matrices costs a small part of dequantizing them).
uint64_t HashBytes(const void* data, uint64_t bytes);

// The identity of one matrix's f32 rows: its quantized source and shape.
struct WeightKey {
  DType type = DType::kF32;
  int64_t k = 0, n = 0;
  uint64_t source_bytes = 0;
  uint64_t source_hash = 0;
};

// A cache file mapped read-only: n rows of k floats at data(), until destroyed.
class MappedWeights {
 public:
  MappedWeights(void* map, uint64_t map_bytes, const float* data) : map_(map), map_bytes_(map_bytes), data_(data) {}
  ~MappedWeights();
  MappedWeights(const MappedWeights&) = delete;
  MappedWeights& operator=(const MappedWeights&) = delete;
  const float* data() const { return data_; }

 private:
  void* map_;
  uint64_t map_bytes_;
  const float* data_;
};

class WeightCache {
 public:
  explicit WeightCache(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  // The file that holds (or would hold) `key`.
  std::string PathOf(const WeightKey& key) const;
  // The cached rows of `key`, or null when there is no valid file for it (absent, short, of
  // another shape or source: a miss, which Store then replaces).
  std::unique_ptr<MappedWeights> Find(const WeightKey& key) const;
  // Makes the folder (once, when the backend starts); an error names it and the reason.
  Status MakeFolder() const;
  // Writes `key`'s rows (n * k floats at f32) into the folder MakeFolder made. An error names
  // the file and the reason (the folder is gone, the disk is full).
  Status Store(const WeightKey& key, const float* f32) const;

 private:
  std::string dir_;
};

}  // namespace tlm::xnnpack

// GGUF v2/v3 reader: memory-maps a file read-only and validates every offset, size, count,
// dimension, string length and alignment against the file size before anything uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/common/status.h"
#include "engine/tensor/dtype.h"

namespace tlm {

enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
std::string_view GgufTypeName(GgufType type);

// One metadata value. Scalars keep their declared type; arrays are decoded into vectors.
struct GgufValue {
  GgufType type = GgufType::kU8;
  GgufType elem_type = GgufType::kU8;  // for arrays
  std::variant<uint64_t, int64_t, double, bool, std::string,
               std::vector<int64_t>, std::vector<double>, std::vector<std::string>>
      data;
  uint64_t file_offset = 0;  // where the value starts, for error messages
};

struct GgufTensor {
  std::string name;
  DType type;
  std::vector<int64_t> dims;  // dims[0] is the innermost (contiguous) dimension, as in ggml
  uint64_t elems = 0;
  uint64_t bytes = 0;
  uint64_t file_offset = 0;   // absolute offset of the data in the file
  const uint8_t* data = nullptr;
};

// What Open/FromBuffer refuse, before anything is allocated from a count in the file:
// - magic other than "GGUF" (kDataLoss); version 1, big-endian files, versions above 3
//   (kUnimplemented);
// - any count, length or size that the remaining bytes could not hold, and any arithmetic that
//   overflows 64 bits (kDataLoss); unknown metadata value types and arrays of arrays
//   (kUnimplemented); duplicate keys or tensor names, bools other than 0/1 (kDataLoss);
// - general.alignment that is not a power-of-two integer (kDataLoss);
// - tensors with n_dims outside 1..4, a dim of 0 (no model has an empty tensor, and refusing
//   it keeps every tensor's data range non-empty), more than INT64_MAX elements, an unknown
//   type (kUnimplemented), dims[0] not a multiple of the type's block size, a data offset not
//   aligned to general.alignment, data past the end of the file, or data overlapping another
//   tensor's (kDataLoss).
// Errors read "<file>: <what> at offset <n>: <problem>"; metadata keys and tensors are
// numbered from 0 ("metadata key #3 'general.alignment'", "tensor #2 'blk.0.attn_q.weight'").
class GgufFile {
 public:
  // Maps `path` read-only and validates it. Errors name the file, the field or tensor, and the
  // byte offset.
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses a buffer the caller keeps alive (fuzzing, tests). `name` stands in for the path.
  static StatusOr<std::unique_ptr<GgufFile>> FromBuffer(const uint8_t* data, size_t size,
                                                        std::string name);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const uint8_t* base() const { return base_; }
  uint64_t size() const { return size_; }
  // Drops the whole pages inside [data, data + bytes) from this process's memory when the file
  // is mapped (MADV_DONTNEED on a read-only private file mapping: a later read maps them back
  // from the page cache); nothing for a buffer from FromBuffer or a range outside the file.
  void DropPages(const void* data, uint64_t bytes) const;
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* Find(std::string_view key) const;
  // Typed getters: NotFound when absent, InvalidArgument (naming key and offset) on a type
  // that does not convert. Integer getters accept any integer type whose value fits.
  StatusOr<std::string> GetString(std::string_view key) const;
  StatusOr<uint64_t> GetUInt(std::string_view key) const;
  StatusOr<double> GetFloat(std::string_view key) const;  // any float or integer
  StatusOr<bool> GetBool(std::string_view key) const;
  StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  StatusOr<std::vector<double>> GetFloatArray(std::string_view key) const;
  StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* FindTensor(std::string_view name) const;

 private:
  GgufFile() = default;
  Status Parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Writes GGUF v3 files (make-model, the corrupt-file corpus, tests). Setting a key or adding a
// tensor that already exists replaces it (the file never holds duplicates).
class GgufWriter {
 public:
  void SetString(std::string key, std::string value);
  void SetU8(std::string key, uint8_t value);
  void SetI8(std::string key, int8_t value);
  void SetU16(std::string key, uint16_t value);
  void SetI16(std::string key, int16_t value);
  void SetU64(std::string key, uint64_t value);
  void SetI64(std::string key, int64_t value);
  void SetF64(std::string key, double value);
  void SetU32(std::string key, uint32_t value);
  void SetI32(std::string key, int32_t value);
  void SetF32(std::string key, float value);
  void SetBool(std::string key, bool value);
  void SetStringArray(std::string key, std::vector<std::string> value);
  void SetF32Array(std::string key, std::vector<float> value);
  void SetI32Array(std::string key, std::vector<int32_t> value);
  // An array of any fixed-size element type, `encoded` holding `count` little-endian elements.
  void SetArray(std::string key, GgufType elem_type, uint64_t count, std::vector<uint8_t> encoded);
  bool RemoveKey(std::string_view key);
  // `data` holds the tensor already encoded in `type`; dims[0] innermost.
  void AddTensor(std::string name, DType type, std::vector<int64_t> dims, std::vector<uint8_t> data);
  bool RemoveTensor(std::string_view name);
  size_t key_count() const { return kv_.size(); }
  size_t tensor_count() const { return tensors_.size(); }
  // Tensor data is placed at multiples of `alignment`; a value other than 32 is also written as
  // general.alignment unless that key was set explicitly.
  void set_alignment(uint32_t alignment) { alignment_ = alignment; }
  // Serializes to bytes without checking anything, so tests can build deliberately bad files.
  std::vector<uint8_t> Serialize() const;
  // Checks that every tensor's data size matches its type and dims, then writes atomically
  // (a temporary file beside `path`, fsync, rename).
  Status WriteFile(const std::string& path) const;

 private:
  struct Entry { std::string key; GgufType type; GgufType elem_type; std::vector<uint8_t> payload; uint64_t count; };
  struct Tensor { std::string name; DType type; std::vector<int64_t> dims; std::vector<uint8_t> data; };
  // Header, metadata, tensor infos and the padding up to the data section; `offsets` receives
  // each tensor's offset within the data section.
  std::vector<uint8_t> SerializeHeader(std::vector<uint64_t>* offsets) const;
  std::vector<Entry> kv_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace tlm

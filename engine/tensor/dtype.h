// Tensor element types as GGUF numbers them, with block geometry and checked row sizes.
#pragma once

#include <cstdint>
#include <string_view>

namespace tlm {

// Values are the GGUF/ggml type ids, so a file's raw type field casts directly after validation.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct DTypeInfo {
  DType type;
  std::string_view name;  // lower case, as in llama.cpp file type names ("q4_k")
  int64_t block_elems;    // elements per block (1 for plain types)
  int64_t block_bytes;    // bytes per block
  bool engine_supported;  // the reference CPU backend can dequantize and dot it
};

// Returns nullptr for a raw id that is not a known type.
const DTypeInfo* FindDType(uint32_t raw_type);
const DTypeInfo& Info(DType type);
std::string_view DTypeName(DType type);
// Parses "q4_k", "f16", ... ; returns false if unknown.
bool ParseDType(std::string_view name, DType* out);

// Bytes of `elems` elements of `type`. False when elems is not a multiple of the block size
// or the result overflows uint64.
bool ElemsToBytes(DType type, uint64_t elems, uint64_t* bytes);

}  // namespace tlm

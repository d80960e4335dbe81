// The table of GGUF tensor types: names, ggml block geometry, and overflow-checked row sizes.
#include "engine/tensor/dtype.h"

#include <array>
#include <cassert>
#include <cctype>

namespace tlm {
namespace {

// Block sizes and byte sizes are ggml's (ggml-common.h); a GGUF file is unreadable if they drift.
constexpr std::array<DTypeInfo, 20> kTypes = {{
    {DType::kF32, "f32", 1, 4, true},       {DType::kF16, "f16", 1, 2, true},
    {DType::kQ4_0, "q4_0", 32, 18, true},   {DType::kQ4_1, "q4_1", 32, 20, true},
    {DType::kQ5_0, "q5_0", 32, 22, true},   {DType::kQ5_1, "q5_1", 32, 24, true},
    {DType::kQ8_0, "q8_0", 32, 34, true},   {DType::kQ8_1, "q8_1", 32, 36, false},
    {DType::kQ2_K, "q2_k", 256, 84, true},  {DType::kQ3_K, "q3_k", 256, 110, true},
    {DType::kQ4_K, "q4_k", 256, 144, true}, {DType::kQ5_K, "q5_k", 256, 176, true},
    {DType::kQ6_K, "q6_k", 256, 210, true}, {DType::kQ8_K, "q8_k", 256, 292, false},
    {DType::kI8, "i8", 1, 1, false},        {DType::kI16, "i16", 1, 2, false},
    {DType::kI32, "i32", 1, 4, false},      {DType::kI64, "i64", 1, 8, false},
    {DType::kF64, "f64", 1, 8, false},      {DType::kBF16, "bf16", 1, 2, true},
}};

// Returned by Info() for a value outside the enum (a cast that skipped FindDType); sized so that
// a caller dividing by block_elems does not crash, and unsupported so that nothing computes on it.
constexpr DTypeInfo kInvalid = {static_cast<DType>(0xffffffffu), "invalid", 1, 0, false};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

const DTypeInfo* FindDType(uint32_t raw_type) {
  for (const DTypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == raw_type) return &info;
  }
  return nullptr;
}

const DTypeInfo& Info(DType type) {
  const DTypeInfo* info = FindDType(static_cast<uint32_t>(type));
  assert(info != nullptr && "Info() of a DType value outside the enum");
  return info != nullptr ? *info : kInvalid;
}

std::string_view DTypeName(DType type) { return Info(type).name; }

bool ParseDType(std::string_view name, DType* out) {
  for (const DTypeInfo& info : kTypes) {
    if (EqualsIgnoreCase(info.name, name)) {
      *out = info.type;
      return true;
    }
  }
  return false;
}

bool ElemsToBytes(DType type, uint64_t elems, uint64_t* bytes) {
  const DTypeInfo* info = FindDType(static_cast<uint32_t>(type));
  if (info == nullptr) return false;
  const auto block_elems = static_cast<uint64_t>(info->block_elems);
  const auto block_bytes = static_cast<uint64_t>(info->block_bytes);
  if (elems % block_elems != 0) return false;
  uint64_t result = 0;
  if (__builtin_mul_overflow(elems / block_elems, block_bytes, &result)) return false;
  *bytes = result;
  return true;
}

}  // namespace tlm

// Builds the corrupt-GGUF corpus: valid files from GgufWriter, damaged at known field offsets.
#include "tests/engine/model/corrupt_corpus.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "engine/model/gguf.h"
#include "engine/model/synthetic.h"

namespace tlm::testing {
namespace {

template <typename T>
void Put(std::vector<uint8_t>* bytes, uint64_t at, T value) {
  std::memcpy(bytes->data() + at, &value, sizeof(T));
}
template <typename T>
T Get(const std::vector<uint8_t>& bytes, uint64_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

// Offsets of every field of a valid file, by name: "kv1.key" (the key's length field),
// "kv1.type", "kv1.value" (a string's length field, an array's element type), "kv3.count",
// "kv3.elem2" (a string element's length field), "t0.name", "t0.ndims", "t0.dim1", "t0.type",
// "t0.offset", "infos_end", "data". Only ever run on files the writer produced.
std::map<std::string, uint64_t> Layout(const std::vector<uint8_t>& b) {
  std::map<std::string, uint64_t> at;
  uint64_t pos = 8;
  const uint64_t n_tensors = Get<uint64_t>(b, pos);
  const uint64_t n_kv = Get<uint64_t>(b, pos + 8);
  pos = 24;
  auto skip_string = [&] { pos += 8 + Get<uint64_t>(b, pos); };
  std::string align_key;
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string k = fmt::format("kv{}.", i);
    at[k + "key"] = pos;
    const std::string key(reinterpret_cast<const char*>(b.data() + pos + 8),
                          Get<uint64_t>(b, pos));
    skip_string();
    at[k + "type"] = pos;
    const auto type = static_cast<GgufType>(Get<uint32_t>(b, pos));
    pos += 4;
    at[k + "value"] = pos;
    auto fixed = [](GgufType t) -> uint64_t {
      switch (t) {
        case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
        case GgufType::kU16: case GgufType::kI16: return 2;
        case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
        default: return 8;
      }
    };
    if (key == "general.alignment") alignment = Get<uint32_t>(b, pos);
    if (type == GgufType::kString) {
      skip_string();
    } else if (type == GgufType::kArray) {
      const auto elem = static_cast<GgufType>(Get<uint32_t>(b, pos));
      pos += 4;
      at[k + "count"] = pos;
      const uint64_t count = Get<uint64_t>(b, pos);
      pos += 8;
      for (uint64_t j = 0; j < count; ++j) {
        if (elem == GgufType::kString) {
          at[fmt::format("{}elem{}", k, j)] = pos;
          skip_string();
        } else {
          pos += fixed(elem);
        }
      }
    } else {
      pos += fixed(type);
    }
  }
  for (uint64_t t = 0; t < n_tensors; ++t) {
    const std::string k = fmt::format("t{}.", t);
    at[k + "name"] = pos;
    skip_string();
    at[k + "ndims"] = pos;
    const uint32_t n_dims = Get<uint32_t>(b, pos);
    pos += 4;
    for (uint32_t d = 0; d < n_dims; ++d) {
      at[fmt::format("{}dim{}", k, d)] = pos;
      pos += 8;
    }
    at[k + "type"] = pos;
    pos += 4;
    at[k + "offset"] = pos;
    pos += 8;
  }
  at["infos_end"] = pos;
  if (alignment == 0) alignment = 1;  // only the alignment_zero case; its data offset is unused
  at["data"] = (pos + alignment - 1) / alignment * alignment;
  return at;
}

std::vector<uint8_t> Floats(size_t n, float start) {
  std::vector<uint8_t> out(n * sizeof(float));
  for (size_t i = 0; i < n; ++i) {
    const float v = start + static_cast<float>(i);
    std::memcpy(out.data() + i * sizeof(float), &v, sizeof(float));
  }
  return out;
}

// Writes text over the first occurrence of `from` at or after `start` (same length).
bool Replace(std::vector<uint8_t>* bytes, std::string_view from, std::string_view to,
             uint64_t start = 0) {
  if (from.size() != to.size()) return false;
  auto it = std::search(bytes->begin() + static_cast<std::ptrdiff_t>(start), bytes->end(),
                        from.begin(), from.end());
  if (it == bytes->end()) return false;
  std::copy(to.begin(), to.end(), it);
  return true;
}

std::string LayerName(CorruptLayer layer) {
  return layer == CorruptLayer::kGguf ? "gguf" : "engine";
}

// A tiny but complete llama model for the engine-level cases.
std::vector<uint8_t> TinyModel(const std::function<void(GgufWriter*)>& damage) {
  SyntheticModelSpec spec;
  spec.arch = "llama";
  spec.layers = 1;
  spec.embd = 32;
  spec.ff = 64;
  spec.heads = 2;
  spec.kv_heads = 1;
  spec.head_dim = 16;
  spec.vocab = 300;
  spec.type = DType::kQ8_0;  // keeps the files small enough to seed the fuzzer (max_len 64 KiB)
  spec.seed = 1;
  StatusOr<GgufWriter> w = BuildSyntheticModel(spec);
  if (!w.ok()) return {};  // the corpus test then fails on the empty file
  damage(&*w);
  return w->Serialize();
}

}  // namespace

std::vector<uint8_t> MakeCorpusBaseFile() {
  GgufWriter w;
  w.SetString("general.architecture", "llama");                                   // kv #0
  w.SetString("general.description", std::string(300, 'd'));                     // kv #1
  w.SetU32("test.u32", 7);                                                        // kv #2
  w.SetStringArray("tokenizer.ggml.tokens",                                       // kv #3
                   {"token_alpha_0", "token_bravo_1", "token_charlie2", "token_delta_3"});
  w.SetF32Array("tokenizer.ggml.scores", {0.0f, -1.0f, -2.0f, -3.0f});            // kv #4
  w.SetBool("test.flag", true);                                                   // kv #5
  w.AddTensor("a.weight", DType::kF32, {8, 2}, Floats(16, 1.0f));                 // 64 bytes
  std::vector<uint8_t> q8(68, 0x11);                                              // 2 q8_0 blocks
  w.AddTensor("b.weight", DType::kQ8_0, {32, 2}, std::move(q8));
  w.AddTensor("c.weight", DType::kF16, {16}, std::vector<uint8_t>(32, 0x3c));     // 32 bytes
  return w.Serialize();
}

std::vector<CorruptCase> MakeCorruptCorpus() {
  const std::vector<uint8_t> base = MakeCorpusBaseFile();
  const auto at = Layout(base);
  const uint64_t size = base.size();
  std::vector<CorruptCase> cases;

  // A copy of the base file, damaged by `edit`.
  auto add = [&](std::string name, std::string description, StatusCode code,
                 std::string substring, const std::function<void(std::vector<uint8_t>*)>& edit) {
    CorruptCase c;
    c.name = std::move(name);
    c.description = std::move(description);
    c.bytes = base;
    edit(&c.bytes);
    c.expected_code = code;
    c.expected_error_substring = std::move(substring);
    cases.push_back(std::move(c));
  };
  auto truncated = [&](std::string name, uint64_t keep, std::string substring) {
    add(std::move(name), fmt::format("the first {} of {} bytes", keep, size),
        StatusCode::kDataLoss, std::move(substring), [&](auto* b) { b->resize(keep); });
  };
  constexpr auto kLoss = StatusCode::kDataLoss;
  constexpr auto kUnimpl = StatusCode::kUnimplemented;

  // Header.
  add("bad_magic", "magic GGML instead of GGUF", kLoss, "bad magic at offset 0",
      [](auto* b) { (*b)[2] = 'M'; (*b)[3] = 'L'; });
  add("version_1", "GGUF version 1 (32-bit counts)", kUnimpl,
      "header version at offset 4: GGUF version 1 is not supported",
      [](auto* b) { Put<uint32_t>(b, 4, 1); });
  add("version_99", "a future version", kUnimpl, "unsupported GGUF version 99",
      [](auto* b) { Put<uint32_t>(b, 4, 99); });
  add("big_endian", "a big-endian v3 file's version field", kUnimpl,
      "header version at offset 4: big-endian GGUF",
      [](auto* b) { Put<uint32_t>(b, 4, 0x03000000u); });
  add("tensor_count_huge", "tensor count 2^64-1", kLoss,
      "header tensor count at offset 8: 18446744073709551615 tensors exceed",
      [](auto* b) { Put<uint64_t>(b, 8, UINT64_MAX); });
  add("kv_count_huge", "metadata key count 2^40", kLoss,
      "header metadata key count at offset 16: 1099511627776 keys exceed",
      [](auto* b) { Put<uint64_t>(b, 16, uint64_t{1} << 40); });
  add("kv_count_lies", "one metadata key fewer than the file holds: the last key is read as a "
      "tensor info", kLoss,
      fmt::format("tensor #0 'test.flag' at offset {}: n_dims 7 is outside 1..4",
                  at.at("kv5.type")),
      [](auto* b) { Put<uint64_t>(b, 16, 5); });

  // Truncation at many points.
  truncated("empty", 0, "file is 0 bytes, too short for the GGUF magic at offset 0");
  truncated("truncated_magic", 2, "file is 2 bytes, too short for the GGUF magic at offset 0");
  truncated("truncated_version", 6, "header version at offset 4: needs 4 bytes, only 2 remain");
  truncated("truncated_tensor_count", 12, "header tensor count at offset 8: needs 8 bytes");
  truncated("truncated_kv_count", 20, "header metadata key count at offset 16: needs 8 bytes");
  truncated("truncated_after_header", 34,
            "header tensor count at offset 8: 3 tensors exceed what the remaining 10 bytes");
  truncated("truncated_string_value", at.at("kv1.value") + 150,
            fmt::format("metadata key #1 'general.description' at offset {}: string length 300 "
                        "exceeds remaining 142 bytes",
                        at.at("kv1.value")));
  truncated("truncated_key", at.at("kv2.key") + 10,
            fmt::format("metadata key #2 at offset {}: string length 8 exceeds remaining 2 bytes",
                        at.at("kv2.key")));
  truncated("truncated_u32_value", at.at("kv2.value") + 2,
            fmt::format("metadata key #2 'test.u32' at offset {}: needs 4 bytes, only 2 remain",
                        at.at("kv2.value")));
  truncated("truncated_string_array_element", at.at("kv3.elem3") + 12,
            fmt::format("metadata key #3 'tokenizer.ggml.tokens' element 3 at offset {}: string "
                        "length 13 exceeds remaining 4 bytes",
                        at.at("kv3.elem3")));
  truncated("truncated_f32_array", at.at("kv4.count") + 8 + 6,
            fmt::format("metadata key #4 'tokenizer.ggml.scores' at offset {}: array length 4 of "
                        "f32 exceeds what the remaining 6 bytes could hold",
                        at.at("kv4.count")));
  truncated("truncated_tensor_dims", at.at("t1.dim1") + 3,
            fmt::format("tensor #1 'b.weight' at offset {}: needs 8 bytes, only 3 remain",
                        at.at("t1.dim1")));
  truncated("truncated_tensor_offset", at.at("t2.offset") + 7,
            fmt::format("tensor #2 'c.weight' at offset {}: needs 8 bytes, only 7 remain",
                        at.at("t2.offset")));
  truncated("truncated_tensor_data", at.at("data") + 64 + 40,
            fmt::format("tensor 'b.weight' data [offset {}, 68 bytes] runs past end of file "
                        "(size {})",
                        at.at("data") + 64, at.at("data") + 64 + 40));
  truncated("truncated_last_tensor", size - 40,
            fmt::format("tensor 'c.weight' data [offset {}, 32 bytes] runs past end of file "
                        "(size {})",
                        at.at("data") + 160, size - 40));
  if (at.at("data") > at.at("infos_end")) {
    truncated("truncated_before_data", at.at("infos_end"),
              fmt::format("data section at offset {} (tensor infos end at {}, aligned to 32) is "
                          "past the end of file (size {})",
                          at.at("data"), at.at("infos_end"), at.at("infos_end")));
  }

  // Lying lengths and counts.
  add("string_length_past_end", "general.description claims 2^64-1 bytes", kLoss,
      fmt::format("metadata key #1 'general.description' at offset {}: string length "
                  "18446744073709551615 exceeds remaining",
                  at.at("kv1.value")),
      [&](auto* b) { Put<uint64_t>(b, at.at("kv1.value"), UINT64_MAX); });
  add("key_length_past_end", "a key claims 10^12 bytes", kLoss,
      fmt::format("metadata key #2 at offset {}: string length 1000000000000 exceeds remaining",
                  at.at("kv2.key")),
      [&](auto* b) { Put<uint64_t>(b, at.at("kv2.key"), uint64_t{1000000000000}); });
  add("array_length_huge", "the token array claims 2^62 strings", kLoss,
      fmt::format("metadata key #3 'tokenizer.ggml.tokens' at offset {}: array length "
                  "4611686018427387904 of string exceeds",
                  at.at("kv3.count")),
      [&](auto* b) { Put<uint64_t>(b, at.at("kv3.count"), uint64_t{1} << 62); });
  add("array_length_lies", "the score array claims 1000 floats", kLoss,
      fmt::format("metadata key #4 'tokenizer.ggml.scores' at offset {}: array length 1000 of "
                  "f32 exceeds",
                  at.at("kv4.count")),
      [&](auto* b) { Put<uint64_t>(b, at.at("kv4.count"), 1000); });
  add("array_element_length_past_end", "a token string claims 2^63 bytes", kLoss,
      fmt::format("metadata key #3 'tokenizer.ggml.tokens' element 1 at offset {}: string "
                  "length 9223372036854775808 exceeds",
                  at.at("kv3.elem1")),
      [&](auto* b) { Put<uint64_t>(b, at.at("kv3.elem1"), uint64_t{1} << 63); });

  // Types.
  add("unknown_value_type", "metadata value type 99", kUnimpl,
      fmt::format("metadata key #2 'test.u32' at offset {}: unknown metadata value type 99",
                  at.at("kv2.type")),
      [&](auto* b) { Put<uint32_t>(b, at.at("kv2.type"), 99); });
  add("nested_array", "an array whose elements are arrays", kUnimpl,
      fmt::format("metadata key #4 'tokenizer.ggml.scores' at offset {}: arrays of arrays are "
                  "not supported",
                  at.at("kv4.value")),
      [&](auto* b) { Put<uint32_t>(b, at.at("kv4.value"), 9); });
  add("unknown_array_element_type", "array element type 42", kUnimpl,
      fmt::format("metadata key #4 'tokenizer.ggml.scores' at offset {}: unknown array element "
                  "type 42",
                  at.at("kv4.value")),
      [&](auto* b) { Put<uint32_t>(b, at.at("kv4.value"), 42); });
  add("bad_bool", "a bool stored as 2", kLoss,
      fmt::format("metadata key #5 'test.flag' at offset {}: bool value 2 is not 0 or 1",
                  at.at("kv5.value")),
      [&](auto* b) { (*b)[at.at("kv5.value")] = 2; });
  add("unknown_tensor_type", "tensor type 99", kUnimpl,
      fmt::format("tensor #0 'a.weight' at offset {}: unknown tensor type 99", at.at("t0.type")),
      [&](auto* b) { Put<uint32_t>(b, at.at("t0.type"), 99); });
  add("removed_tensor_type", "tensor type 4 (ggml's removed Q4_2)", kUnimpl,
      fmt::format("tensor #1 'b.weight' at offset {}: unknown tensor type 4", at.at("t1.type")),
      [&](auto* b) { Put<uint32_t>(b, at.at("t1.type"), 4); });
  add("block_size_mismatch", "a q8_0 tensor whose rows are 16 elements", kLoss,
      fmt::format("tensor #1 'b.weight' at offset {}: dims[0] = 16 is not a multiple of the q8_0 "
                  "block size 32",
                  at.at("t1.ndims")),
      [&](auto* b) {
        Put<uint64_t>(b, at.at("t1.dim0"), 16);
        Put<uint64_t>(b, at.at("t1.dim1"), 4);
      });

  // Dimensions.
  add("n_dims_5", "five dimensions", kLoss,
      fmt::format("tensor #1 'b.weight' at offset {}: n_dims 5 is outside 1..4",
                  at.at("t1.ndims")),
      [&](auto* b) { Put<uint32_t>(b, at.at("t1.ndims"), 5); });
  add("n_dims_0", "zero dimensions", kLoss,
      fmt::format("tensor #0 'a.weight' at offset {}: n_dims 0 is outside 1..4",
                  at.at("t0.ndims")),
      [&](auto* b) { Put<uint32_t>(b, at.at("t0.ndims"), 0); });
  add("zero_dim", "a dimension of 0", kLoss,
      fmt::format("tensor #0 'a.weight' at offset {}: dim 1 is 0", at.at("t0.dim1")),
      [&](auto* b) { Put<uint64_t>(b, at.at("t0.dim1"), 0); });
  add("huge_dims_overflow", "dims 2^32 x 2^32: the element count overflows", kLoss,
      fmt::format("tensor #0 'a.weight' at offset {}: dim 1 = 4294967296 makes the element count "
                  "overflow int64",
                  at.at("t0.dim1")),
      [&](auto* b) {
        Put<uint64_t>(b, at.at("t0.dim0"), uint64_t{1} << 32);
        Put<uint64_t>(b, at.at("t0.dim1"), uint64_t{1} << 32);
      });
  add("dim_above_int64", "a dimension of 2^63", kLoss,
      fmt::format("tensor #0 'a.weight' at offset {}: dim 0 = 9223372036854775808 makes the "
                  "element count overflow int64",
                  at.at("t0.dim0")),
      [&](auto* b) { Put<uint64_t>(b, at.at("t0.dim0"), uint64_t{1} << 63); });
  add("huge_dims_byte_overflow", "2^62 f32 elements: the byte size overflows", kLoss,
      fmt::format("tensor #0 'a.weight' at offset {}: 4611686018427387904 elements of f32 "
                  "overflow the byte size",
                  at.at("t0.ndims")),
      [&](auto* b) {
        Put<uint64_t>(b, at.at("t0.dim0"), uint64_t{1} << 31);
        Put<uint64_t>(b, at.at("t0.dim1"), uint64_t{1} << 31);
      });
  add("huge_dim_past_end", "a 2^40-element f16 tensor in a small file", kLoss,
      fmt::format("tensor 'c.weight' data [offset {}, 2199023255552 bytes] runs past end of file "
                  "(size {})",
                  at.at("data") + 160, size),
      [&](auto* b) { Put<uint64_t>(b, at.at("t2.dim0"), uint64_t{1} << 40); });

  // Offsets and alignment.
  add("misaligned_offset", "tensor data at offset 4 within the data section", kLoss,
      fmt::format("tensor #1 'b.weight' at offset {}: data offset 68 is not a multiple of the "
                  "alignment 32",
                  at.at("t1.offset")),
      [&](auto* b) { Put<uint64_t>(b, at.at("t1.offset"), 68); });
  add("offset_past_end", "tensor data at 1 MiB in a small file", kLoss,
      fmt::format("tensor 'c.weight' data [offset {}, 32 bytes] runs past end of file (size {})",
                  at.at("data") + (1 << 20), size),
      [&](auto* b) { Put<uint64_t>(b, at.at("t2.offset"), 1 << 20); });
  add("offset_overflow", "tensor data offset 2^64-32", kLoss,
      "tensor 'c.weight' data offset 18446744073709551584 (relative to the data section at",
      [&](auto* b) { Put<uint64_t>(b, at.at("t2.offset"), UINT64_MAX - 31); });
  add("overlapping_tensors", "b.weight starts inside a.weight", kLoss,
      fmt::format("tensor 'b.weight' data [offset {}, 68 bytes] overlaps tensor 'a.weight' data "
                  "[offset {}, 64 bytes]",
                  at.at("data") + 32, at.at("data")),
      [&](auto* b) { Put<uint64_t>(b, at.at("t1.offset"), 32); });
  add("empty_tensor_name", "a tensor name of length 0", kLoss,
      fmt::format("tensor #0 at offset {}: empty name", at.at("t0.name")),
      [&](auto* b) { Put<uint64_t>(b, at.at("t0.name"), 0); });

  // Files that need their own writer setup.
  auto add_built = [&](std::string name, std::string description, StatusCode code,
                       const std::function<void(GgufWriter*)>& setup,
                       const std::function<std::string(const std::vector<uint8_t>&)>& expected,
                       const std::function<void(std::vector<uint8_t>*)>& edit = nullptr) {
    GgufWriter w;
    setup(&w);
    CorruptCase c;
    c.name = std::move(name);
    c.description = std::move(description);
    c.bytes = w.Serialize();
    if (edit) edit(&c.bytes);
    c.expected_code = code;
    c.expected_error_substring = expected(c.bytes);
    cases.push_back(std::move(c));
  };
  add_built(
      "alignment_not_power_of_two", "general.alignment = 48", kLoss,
      [](GgufWriter* w) {
        w->SetU32("general.alignment", 48);
        w->set_alignment(48);
        w->AddTensor("a.weight", DType::kF32, {4}, Floats(4, 0));
      },
      [](const auto& b) {
        return fmt::format("metadata key 'general.alignment' at offset {}: value 48 is not a "
                           "power of two",
                           Layout(b).at("kv0.value"));
      });
  add_built(
      "alignment_zero", "general.alignment = 0", kLoss,
      [](GgufWriter* w) {
        w->SetU32("general.alignment", 0);
        w->AddTensor("a.weight", DType::kF32, {4}, Floats(4, 0));
      },
      [](const auto& b) {
        return fmt::format("metadata key 'general.alignment' at offset {}: value 0 is not a power "
                           "of two",
                           Layout(b).at("kv0.value"));
      });
  add_built(
      "alignment_wrong_type", "general.alignment as a string", kLoss,
      [](GgufWriter* w) { w->SetString("general.alignment", "32"); },
      [](const auto& b) {
        return fmt::format("metadata key 'general.alignment' at offset {}: type string, expected "
                           "an unsigned integer",
                           Layout(b).at("kv0.value"));
      });
  add_built(
      "duplicate_key", "test.key1 twice", kLoss,
      [](GgufWriter* w) {
        w->SetU32("test.key1", 1);
        w->SetU32("test.key2", 2);
      },
      [](const auto& b) {
        return fmt::format("metadata key #1 'test.key1' at offset {}: duplicate key (first "
                           "defined as key #0)",
                           Layout(b).at("kv1.key"));
      },
      [](auto* b) { Replace(b, "test.key2", "test.key1"); });
  add_built(
      "duplicate_tensor_name", "x.weight twice", kLoss,
      [](GgufWriter* w) {
        w->AddTensor("x.weight", DType::kF32, {4}, Floats(4, 0));
        w->AddTensor("y.weight", DType::kF32, {4}, Floats(4, 4));
      },
      [](const auto& b) {
        return fmt::format("tensor #1 'x.weight' at offset {}: duplicate tensor name (first "
                           "defined as tensor #0)",
                           Layout(b).at("t1.name"));
      },
      [](auto* b) { Replace(b, "y.weight", "x.weight"); });

  // Engine-level: valid GGUF, invalid model. The substrings are what the loader's error must name.
  auto add_engine = [&](std::string name, std::string description, std::string substring,
                        const std::function<void(GgufWriter*)>& damage) {
    CorruptCase c;
    c.name = std::move(name);
    c.description = std::move(description);
    c.layer = CorruptLayer::kEngine;
    c.bytes = TinyModel(damage);
    c.expected_code = StatusCode::kOk;
    c.expected_error_substring = std::move(substring);
    cases.push_back(std::move(c));
  };
  add_engine("wrong_arch", "a complete llama model whose general.architecture is mamba",
             "architecture 'mamba' is not supported (supported: gemma3, llama)",
             [](GgufWriter* w) { w->SetString("general.architecture", "mamba"); });
  add_engine("missing_tensor", "a llama model without blk.0.attn_q.weight",
             "missing tensor 'blk.0.attn_q.weight' required by llama",
             [](GgufWriter* w) { w->RemoveTensor("blk.0.attn_q.weight"); });
  add_engine("missing_tokens", "a llama model without tokenizer.ggml.tokens",
             "missing tokenizer.ggml.tokens",
             [](GgufWriter* w) { w->RemoveKey("tokenizer.ggml.tokens"); });
  add_engine("token_types_short", "a tokenizer whose token_type array is shorter than its token list",
             "key 'tokenizer.ggml.token_type' has 3 values for",
             [](GgufWriter* w) { w->SetI32Array("tokenizer.ggml.token_type", {1, 1, 1}); });
  add_engine("bos_out_of_range", "a tokenizer whose BOS id is past the vocabulary",
             "key 'tokenizer.ggml.bos_token_id' is 999999, past the",
             [](GgufWriter* w) { w->SetU32("tokenizer.ggml.bos_token_id", 999999); });
  add_engine("tokenizer_model_unknown", "a tokenizer of a model type the engine does not know",
             "wordpiece",
             [](GgufWriter* w) { w->SetString("tokenizer.ggml.model", "wordpiece"); });
  return cases;
}

Status WriteCorruptCorpus(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InvalidArgument("{}: cannot create directory: {}", dir, ec.message());
  std::string manifest = "# name\tlayer\texpected_code\texpected_error_substring\n";
  for (const CorruptCase& c : MakeCorruptCorpus()) {
    const std::string path = fmt::format("{}/{}.gguf", dir, c.name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(c.bytes.data()),
              static_cast<std::streamsize>(c.bytes.size()));
    if (!out) return InvalidArgument("{}: write failed", path);
    manifest += fmt::format("{}\t{}\t{}\t{}\n", c.name, LayerName(c.layer),
                            StatusCodeName(c.expected_code), c.expected_error_substring);
  }
  std::ofstream m(dir + "/MANIFEST.tsv", std::ios::trunc);
  m << manifest;
  if (!m) return InvalidArgument("{}/MANIFEST.tsv: write failed", dir);
  return Status::Ok();
}

}  // namespace tlm::testing

// Synthetic GGUF models: llama.cpp's metadata keys, tensor names and a working tokenizer for an
// architecture, with seeded random weights, so tests and benchmark shapes need no download.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/model/gguf.h"
#include "engine/tensor/dtype.h"

namespace tlm {

struct SyntheticModelSpec {
  std::string arch = "gemma3";  // "gemma3" or "llama"
  int layers = 2;
  int embd = 256;
  int ff = 512;
  int heads = 4;
  int kv_heads = 1;
  int head_dim = 64;
  int vocab = 512;
  DType type = DType::kF32;  // matrices and token_embd; 1-D norm weights are always F32
  uint64_t seed = 0;
  int context_length = 2048;
  int sliding_window = 512;     // gemma3 only
  bool tie_embeddings = true;   // llama only: false also writes output.weight
  std::string name;             // general.name; empty: derived from the shape
};

// The smallest vocabulary the tokenizer of `arch` fits in (control tokens plus 256 byte tokens).
int MinSyntheticVocab(std::string_view arch);

// Checks ranges, head grouping, and that every row length is a multiple of the type's block
// size. InvalidArgument (naming the field) or Unimplemented (arch, type) otherwise.
Status ValidateSyntheticSpec(const SyntheticModelSpec& spec);

// Builds the whole model in a writer, so callers (the corrupt-file corpus) can alter it first.
// Weights are a deterministic function of (seed, tensor name): the same spec always gives the
// same bytes, on every platform (the normal samples come from mt19937_64 via Box-Muller, not from
// std::normal_distribution, whose output differs between standard libraries).
StatusOr<GgufWriter> BuildSyntheticModel(const SyntheticModelSpec& spec);

// BuildSyntheticModel, then GgufWriter::WriteFile (atomic).
Status WriteSyntheticModel(const SyntheticModelSpec& spec, const std::string& path);

}  // namespace tlm

// Architecture definitions: how an architecture reads its hyperparameters from GGUF metadata,
// which tensors it needs, and the graph it emits for a phase. gemma3.cc and llama.cc register one.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/graph/graph.h"

namespace tlm {

class GgufFile;

struct ModelConfig {
  std::string arch;
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  float norm_eps = 1e-5f;
  float rope_base = 10000.f;        // global (full attention) layers
  float rope_base_local = 10000.f;  // sliding-window layers
  float rope_scale_global = 1.f;    // linear rope scaling of global layers (1 / factor)
  int64_t n_rot = 0;
  RopeMode rope_mode = RopeMode::kNormal;
  int64_t window = 0;                // sliding window (0: none)
  std::vector<bool> layer_is_local;  // true: sliding-window layer
  bool tied_output = true;
  float embd_scale = 1.f;
  float attn_scale = 1.f;
};

struct GraphPhase {
  int64_t max_tokens = 1;     // 1 for decode, the chunk size for prefill
  bool last_row_only = true;  // logits of the last token only
};

// Expected shape of one weight tensor, dims[0] innermost.
struct TensorRequirement {
  std::string name;
  std::vector<int64_t> dims;
  bool optional = false;
};

struct ArchDef {
  std::string name;
  std::function<StatusOr<ModelConfig>(const GgufFile&)> read_config;
  std::function<std::vector<TensorRequirement>(const ModelConfig&)> tensors;
  std::function<Graph(const ModelConfig&, const GraphPhase&)> build_graph;
};

// One per supported architecture (gemma3.cc, llama.cc); listed in arch.cc.
ArchDef Gemma3Arch();
ArchDef LlamaArch();

// Unimplemented naming the architecture (and the supported ones) when unknown.
StatusOr<const ArchDef*> FindArch(const std::string& name);

}  // namespace tlm

// Gemma 3: 5 sliding-window layers to 1 global, separate RoPE bases for local and global
// layers, RMSNorm on Q and K, four RMSNorms per block, GELU-tanh gated FFN, embeddings scaled by
// sqrt(n_embd), tied output. GGUF stores Gemma's (1 + w) norm weights with the 1 already added
// (llama.cpp's converter adds it), so the graph multiplies by the stored weight.
#include <cmath>

#include "engine/arch/arch.h"
#include "engine/arch/config_reader.h"
#include "engine/arch/decoder_graph.h"

namespace tlm {
namespace {

constexpr int kDefaultSlidingPattern = 6;  // every 6th layer is global (Gemma 3)

StatusOr<ModelConfig> ReadGemma3Config(const GgufFile& f) {
  ConfigReader r(f, "gemma3");
  ModelConfig c;
  c.arch = "gemma3";
  TLM_RETURN_IF_ERROR(ReadDecoderConfig(r, {.n_ctx_train = 32768, .norm_eps = 1e-6f, .rope_base = 1e6f}, &c));
  if (c.head_dim % 2 != 0) return DataLoss("{}: key_length {} must be even for RoPE", f.path(), c.head_dim);
  TLM_ASSIGN_OR_RETURN(c.rope_base_local, r.FloatOr("rope.freq_base_swa", 10000.f, 1.f, 1e12f));
  // Every Gemma 3 has a sliding window; without it the 5:1 local/global pattern is undefined.
  TLM_ASSIGN_OR_RETURN(c.window, r.Int("attention.sliding_window", int64_t{1} << 24));
  TLM_ASSIGN_OR_RETURN(float softcap, r.FloatOr("final_logit_softcapping", 0.f, 0.f, 1e6f));
  if (softcap != 0.f)
    return Unimplemented("{}: gemma3.final_logit_softcapping = {} (logit soft-capping) is not supported yet", f.path(),
                         softcap);

  int64_t pattern = kDefaultSlidingPattern;
  bool per_layer_flags = false;
  if (const GgufValue* v = f.Find("gemma3.attention.sliding_window_pattern")) {
    if (auto* flags = std::get_if<std::vector<int64_t>>(&v->data)) {
      if (static_cast<int64_t>(flags->size()) != c.n_layer)
        return DataLoss("{}: gemma3.attention.sliding_window_pattern has {} entries for {} layers", f.path(),
                        flags->size(), c.n_layer);
      for (int64_t il = 0; il < c.n_layer; ++il) c.layer_is_local[il] = (*flags)[il] != 0 && c.window > 0;
      per_layer_flags = true;
    } else {
      TLM_ASSIGN_OR_RETURN(pattern, r.Int("attention.sliding_window_pattern", 1024));
    }
  }
  if (!per_layer_flags)
    for (int64_t il = 0; il < c.n_layer; ++il) c.layer_is_local[il] = c.window > 0 && (il + 1) % pattern != 0;

  c.n_rot = c.head_dim;
  c.rope_mode = RopeMode::kNeox;
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  // query_pre_attn_scalar: the head size, except Gemma 3 27B (62 layers), which uses n_embd / n_head.
  if (c.n_layer == 62) c.attn_scale = 1.f / std::sqrt(static_cast<float>(c.n_embd / c.n_head));
  return c;
}

std::vector<TensorRequirement> Gemma3Tensors(const ModelConfig& c) {
  return DecoderTensors(c, {{"attn_q_norm", {c.head_dim}},
                            {"attn_k_norm", {c.head_dim}},
                            {"post_attention_norm", {c.n_embd}},
                            {"post_ffw_norm", {c.n_embd}}});
}

Graph BuildGemma3Graph(const ModelConfig& c, const GraphPhase& phase) {
  return BuildDecoderGraph(c, phase, {.qk_norm = true, .post_norms = true, .ffn_activation = OpKind::kGeluTanhGate});
}

}  // namespace

ArchDef Gemma3Arch() {
  return {.name = "gemma3", .read_config = ReadGemma3Config, .tensors = Gemma3Tensors, .build_graph = BuildGemma3Graph};
}

}  // namespace tlm

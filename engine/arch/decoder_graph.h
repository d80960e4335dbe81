// The decoder-only transformer graph that gemma3 and llama share; each architecture states only
// how it differs (q/k norms, post-norms, gated activation).
#pragma once

#include "engine/arch/arch.h"
#include "engine/graph/graph.h"

namespace tlm {

struct DecoderStyle {
  bool qk_norm = false;     // RMSNorm per head on q and k before RoPE (attn_q_norm, attn_k_norm)
  bool post_norms = false;  // RMSNorm on the attention and FFN outputs (post_attention_norm, post_ffw_norm)
  OpKind ffn_activation = OpKind::kSiluGate;  // kSiluGate (SwiGLU) or kGeluTanhGate
};

// Embedding (times c.embd_scale), n_layer blocks with per-layer RoPE base and sliding window from
// c.layer_is_local, final norm and the tied or untied output.
Graph BuildDecoderGraph(const ModelConfig& c, const GraphPhase& phase, const DecoderStyle& style);

}  // namespace tlm

// Llama-family decoder (SmolLM2 and friends): RMSNorm, GQA, RoPE on adjacent pairs, SwiGLU FFN,
// tied or untied output.
#include <cmath>

#include "engine/arch/arch.h"
#include "engine/arch/config_reader.h"
#include "engine/arch/graph_builder.h"

namespace tlm {
namespace {

StatusOr<ModelConfig> ReadLlamaConfig(const GgufFile& f) {
  ModelConfig c;
  c.arch = "llama";
  TLM_RETURN_IF_ERROR(ReadDecoderConfig(ConfigReader(f, "llama"), DecoderDefaults{}, &c));
  c.rope_mode = RopeMode::kNormal;
  return c;
}

std::vector<TensorRequirement> LlamaTensors(const ModelConfig& c) { return DecoderTensors(c, {}); }

Graph BuildLlamaGraph(const ModelConfig& c, const GraphPhase& phase) {
  Graph g;
  g.n_vocab = c.n_vocab;
  GraphBuilder b(&g);
  const int64_t q_width = c.n_head * c.head_dim, kv_width = c.n_kv_head * c.head_dim;
  const RopeParams rope{.head_dim = c.head_dim,
                        .n_rot = c.n_rot,
                        .freq_base = c.rope_base,
                        .freq_scale = c.rope_scale_global,
                        .mode = c.rope_mode};
  int tokens = b.Tokens(phase.max_tokens);
  int x = b.Embedding(tokens, "token_embd.weight", c.n_embd, 1.f);
  for (int64_t il = 0; il < c.n_layer; ++il) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}.weight", il, s); };
    int h = b.RmsNorm(x, n("attn_norm"), c.n_embd, c.norm_eps);
    int q = b.Rope(b.MatMul(h, n("attn_q"), q_width), q_width, rope, fmt::format("blk.{}.rope_q", il));
    int k = b.Rope(b.MatMul(h, n("attn_k"), kv_width), kv_width, rope, fmt::format("blk.{}.rope_k", il));
    int v = b.MatMul(h, n("attn_v"), kv_width);
    AttentionParams ap{.layer = static_cast<int>(il),
                       .n_head = c.n_head,
                       .n_kv_head = c.n_kv_head,
                       .head_dim = c.head_dim,
                       .scale = c.attn_scale,
                       .window = 0};
    int a = b.Attention(q, k, v, q_width, ap, fmt::format("blk.{}.attention", il));
    int o = b.MatMul(a, n("attn_output"), c.n_embd);
    x = b.Binary(OpKind::kAdd, x, o, c.n_embd, fmt::format("blk.{}.attn_residual", il));
    h = b.RmsNorm(x, n("ffn_norm"), c.n_embd, c.norm_eps);
    int gate = b.MatMul(h, n("ffn_gate"), c.n_ff);
    int up = b.MatMul(h, n("ffn_up"), c.n_ff);
    int f = b.Binary(OpKind::kSiluGate, gate, up, c.n_ff, fmt::format("blk.{}.ffn_act", il));
    int d = b.MatMul(f, n("ffn_down"), c.n_embd);
    x = b.Binary(OpKind::kAdd, x, d, c.n_embd, fmt::format("blk.{}.ffn_residual", il));
  }
  if (phase.last_row_only) x = b.TakeLastRow(x, c.n_embd);
  x = b.RmsNorm(x, "output_norm.weight", c.n_embd, c.norm_eps);
  g.output = b.MatMul(x, c.tied_output ? "token_embd.weight" : "output.weight", c.n_vocab);
  return g;
}

}  // namespace

ArchDef LlamaArch() {
  return {.name = "llama", .read_config = ReadLlamaConfig, .tensors = LlamaTensors, .build_graph = BuildLlamaGraph};
}

}  // namespace tlm

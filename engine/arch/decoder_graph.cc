// The shared decoder graph builder.
#include "engine/arch/decoder_graph.h"

#include <fmt/format.h>

#include "engine/arch/graph_builder.h"

namespace tlm {

Graph BuildDecoderGraph(const ModelConfig& c, const GraphPhase& phase, const DecoderStyle& style) {
  Graph g;
  g.n_vocab = c.n_vocab;
  GraphBuilder b(&g);
  const int64_t q_width = c.n_head * c.head_dim, kv_width = c.n_kv_head * c.head_dim;
  int tokens = b.Tokens(phase.max_tokens);
  int x = b.Embedding(tokens, "token_embd.weight", c.n_embd, c.embd_scale);
  for (int64_t il = 0; il < c.n_layer; ++il) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}.weight", il, s); };
    const bool local = c.layer_is_local[il];
    const RopeParams rope{.head_dim = c.head_dim,
                          .n_rot = c.n_rot,
                          .freq_base = local ? c.rope_base_local : c.rope_base,
                          .freq_scale = local ? 1.f : c.rope_scale_global,
                          .mode = c.rope_mode};
    int h = b.RmsNorm(x, n("attn_norm"), c.n_embd, c.norm_eps);
    int q = b.MatMul(h, n("attn_q"), q_width);
    int k = b.MatMul(h, n("attn_k"), kv_width);
    if (style.qk_norm) {
      q = b.RmsNorm(q, n("attn_q_norm"), q_width, c.norm_eps, c.head_dim);
      k = b.RmsNorm(k, n("attn_k_norm"), kv_width, c.norm_eps, c.head_dim);
    }
    q = b.Rope(q, q_width, rope, fmt::format("blk.{}.rope_q", il));
    k = b.Rope(k, kv_width, rope, fmt::format("blk.{}.rope_k", il));
    int v = b.MatMul(h, n("attn_v"), kv_width);
    const AttentionParams ap{.layer = static_cast<int>(il),
                             .n_head = c.n_head,
                             .n_kv_head = c.n_kv_head,
                             .head_dim = c.head_dim,
                             .scale = c.attn_scale,
                             .window = local ? c.window : 0};
    int a = b.Attention(q, k, v, q_width, ap, fmt::format("blk.{}.attention", il));
    int o = b.MatMul(a, n("attn_output"), c.n_embd);
    if (style.post_norms) o = b.RmsNorm(o, n("post_attention_norm"), c.n_embd, c.norm_eps);
    x = b.Binary(OpKind::kAdd, x, o, c.n_embd, fmt::format("blk.{}.attn_residual", il));
    h = b.RmsNorm(x, n("ffn_norm"), c.n_embd, c.norm_eps);
    int gate = b.MatMul(h, n("ffn_gate"), c.n_ff);
    int up = b.MatMul(h, n("ffn_up"), c.n_ff);
    int f = b.Binary(style.ffn_activation, gate, up, c.n_ff, fmt::format("blk.{}.ffn_act", il));
    int d = b.MatMul(f, n("ffn_down"), c.n_embd);
    if (style.post_norms) d = b.RmsNorm(d, n("post_ffw_norm"), c.n_embd, c.norm_eps);
    x = b.Binary(OpKind::kAdd, x, d, c.n_embd, fmt::format("blk.{}.ffn_residual", il));
  }
  if (phase.last_row_only) x = b.TakeLastRow(x, c.n_embd);
  x = b.RmsNorm(x, "output_norm.weight", c.n_embd, c.norm_eps);
  g.output = b.MatMul(x, c.tied_output ? "token_embd.weight" : "output.weight", c.n_vocab);
  return g;
}

}  // namespace tlm

// Llama-family decoder (SmolLM2 and friends): RMSNorm, GQA, RoPE on adjacent pairs, SwiGLU FFN,
// tied or untied output.
#include <cmath>

#include "engine/arch/arch.h"
#include "engine/arch/config_reader.h"
#include "engine/arch/graph_builder.h"

namespace tlm {
namespace {

StatusOr<ModelConfig> ReadLlamaConfig(const GgufFile& f) {
  ConfigReader r(f, "llama");
  ModelConfig c;
  c.arch = "llama";
  TLM_ASSIGN_OR_RETURN(c.n_layer, r.Int("block_count", 1024));
  TLM_ASSIGN_OR_RETURN(c.n_embd, r.Int("embedding_length", 65536));
  TLM_ASSIGN_OR_RETURN(c.n_ff, r.Int("feed_forward_length", 1 << 20));
  TLM_ASSIGN_OR_RETURN(c.n_head, r.Int("attention.head_count", 1024));
  TLM_ASSIGN_OR_RETURN(c.n_kv_head, r.IntOr("attention.head_count_kv", c.n_head, 1024));
  if (c.n_embd % c.n_head != 0 && !r.Has("attention.key_length"))
    return DataLoss("{}: embedding_length {} is not a multiple of head_count {}", f.path(), c.n_embd, c.n_head);
  TLM_ASSIGN_OR_RETURN(c.head_dim, r.IntOr("attention.key_length", c.n_embd / c.n_head, 4096));
  if (c.n_head % c.n_kv_head != 0)
    return DataLoss("{}: head_count {} is not a multiple of head_count_kv {}", f.path(), c.n_head, c.n_kv_head);
  TLM_ASSIGN_OR_RETURN(c.n_rot, r.IntOr("rope.dimension_count", c.head_dim, 4096));
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0)
    return DataLoss("{}: rope.dimension_count {} must be even and at most the head size {}", f.path(), c.n_rot,
                    c.head_dim);
  TLM_ASSIGN_OR_RETURN(c.n_ctx_train, r.IntOr("context_length", 4096, int64_t{1} << 24));
  TLM_ASSIGN_OR_RETURN(c.norm_eps, r.FloatOr("attention.layer_norm_rms_epsilon", 1e-5f, 0.f, 1.f));
  TLM_ASSIGN_OR_RETURN(c.rope_base, r.FloatOr("rope.freq_base", 10000.f, 1.f, 1e12f));
  c.rope_base_local = c.rope_base;
  TLM_ASSIGN_OR_RETURN(float rope_factor, r.FloatOr("rope.scaling.factor", 1.f, 1e-3f, 1e6f));
  c.rope_scale_global = 1.f / rope_factor;
  TLM_ASSIGN_OR_RETURN(c.n_vocab, ReadVocabSize(f));
  c.layer_is_local.assign(c.n_layer, false);
  c.rope_mode = RopeMode::kNormal;
  c.tied_output = f.FindTensor("output.weight") == nullptr;
  c.attn_scale = 1.f / std::sqrt(static_cast<float>(c.head_dim));
  return c;
}

std::vector<TensorRequirement> LlamaTensors(const ModelConfig& c) {
  const int64_t q = c.n_head * c.head_dim, kv = c.n_kv_head * c.head_dim;
  std::vector<TensorRequirement> t = {
      {"token_embd.weight", {c.n_embd, c.n_vocab}},
      {"output_norm.weight", {c.n_embd}},
      {"output.weight", {c.n_embd, c.n_vocab}, /*optional=*/true},
  };
  for (int64_t il = 0; il < c.n_layer; ++il) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}.weight", il, s); };
    t.push_back({n("attn_norm"), {c.n_embd}});
    t.push_back({n("attn_q"), {c.n_embd, q}});
    t.push_back({n("attn_k"), {c.n_embd, kv}});
    t.push_back({n("attn_v"), {c.n_embd, kv}});
    t.push_back({n("attn_output"), {q, c.n_embd}});
    t.push_back({n("ffn_norm"), {c.n_embd}});
    t.push_back({n("ffn_gate"), {c.n_embd, c.n_ff}});
    t.push_back({n("ffn_up"), {c.n_embd, c.n_ff}});
    t.push_back({n("ffn_down"), {c.n_ff, c.n_embd}});
  }
  return t;
}

Graph BuildLlamaGraph(const ModelConfig& c, const GraphPhase& phase) {
  Graph g;
  g.n_vocab = c.n_vocab;
  GraphBuilder b(&g);
  const int64_t q_width = c.n_head * c.head_dim, kv_width = c.n_kv_head * c.head_dim;
  const RopeParams rope{.head_dim = c.head_dim, .n_rot = c.n_rot, .freq_base = c.rope_base,
                        .freq_scale = c.rope_scale_global, .mode = c.rope_mode};
  int tokens = b.Tokens(phase.max_tokens);
  int x = b.Embedding(tokens, "token_embd.weight", c.n_embd, 1.f);
  for (int64_t il = 0; il < c.n_layer; ++il) {
    auto n = [&](const char* s) { return fmt::format("blk.{}.{}.weight", il, s); };
    int h = b.RmsNorm(x, n("attn_norm"), c.n_embd, c.norm_eps);
    int q = b.Rope(b.MatMul(h, n("attn_q"), q_width), q_width, rope, fmt::format("blk.{}.rope_q", il));
    int k = b.Rope(b.MatMul(h, n("attn_k"), kv_width), kv_width, rope, fmt::format("blk.{}.rope_k", il));
    int v = b.MatMul(h, n("attn_v"), kv_width);
    AttentionParams ap{.layer = static_cast<int>(il), .n_head = c.n_head, .n_kv_head = c.n_kv_head,
                       .head_dim = c.head_dim, .scale = c.attn_scale, .window = 0};
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
  return {.name = "llama", .read_config = ReadLlamaConfig, .tensors = LlamaTensors,
          .build_graph = BuildLlamaGraph};
}

}  // namespace tlm

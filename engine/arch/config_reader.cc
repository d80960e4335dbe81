// Metadata helpers shared by the architecture readers.
#include "engine/arch/config_reader.h"

#include <cmath>

namespace tlm {

StatusOr<int64_t> ReadVocabSize(const GgufFile& file) {
  const GgufValue* tokens = file.Find("tokenizer.ggml.tokens");
  if (tokens == nullptr) return DataLoss("{}: missing tokenizer.ggml.tokens (no vocabulary)", file.path());
  auto* list = std::get_if<std::vector<std::string>>(&tokens->data);
  if (list == nullptr || list->empty())
    return DataLoss("{}: tokenizer.ggml.tokens at offset {} is not a non-empty string array", file.path(),
                    tokens->file_offset);
  return static_cast<int64_t>(list->size());
}

Status ReadDecoderConfig(const ConfigReader& r, const DecoderDefaults& d, ModelConfig* c) {
  const GgufFile& f = r.file();
  TLM_ASSIGN_OR_RETURN(c->n_layer, r.Int("block_count", 1024));
  TLM_ASSIGN_OR_RETURN(c->n_embd, r.Int("embedding_length", 65536));
  TLM_ASSIGN_OR_RETURN(c->n_ff, r.Int("feed_forward_length", 1 << 20));
  TLM_ASSIGN_OR_RETURN(c->n_head, r.Int("attention.head_count", 1024));
  TLM_ASSIGN_OR_RETURN(c->n_kv_head, r.IntOr("attention.head_count_kv", c->n_head, 1024));
  if (c->n_head % c->n_kv_head != 0)
    return DataLoss("{}: head_count {} is not a multiple of head_count_kv {}", f.path(), c->n_head, c->n_kv_head);
  if (c->n_embd % c->n_head != 0 && !r.Has("attention.key_length"))
    return DataLoss("{}: embedding_length {} is not a multiple of head_count {}", f.path(), c->n_embd, c->n_head);
  TLM_ASSIGN_OR_RETURN(c->head_dim, r.IntOr("attention.key_length", c->n_embd / c->n_head, 4096));
  TLM_ASSIGN_OR_RETURN(int64_t value_length, r.IntOr("attention.value_length", c->head_dim, 4096));
  if (value_length != c->head_dim)
    return Unimplemented("{}: value_length {} != key_length {} is not supported", f.path(), value_length, c->head_dim);
  TLM_ASSIGN_OR_RETURN(c->n_rot, r.IntOr("rope.dimension_count", c->head_dim, 4096));
  if (c->n_rot > c->head_dim || c->n_rot % 2 != 0)
    return DataLoss("{}: rope.dimension_count {} must be even and at most the head size {}", f.path(), c->n_rot,
                    c->head_dim);
  TLM_ASSIGN_OR_RETURN(c->n_ctx_train, r.IntOr("context_length", d.n_ctx_train, int64_t{1} << 24));
  TLM_ASSIGN_OR_RETURN(c->norm_eps, r.FloatOr("attention.layer_norm_rms_epsilon", d.norm_eps, 0.f, 1.f));
  TLM_ASSIGN_OR_RETURN(c->rope_base, r.FloatOr("rope.freq_base", d.rope_base, 1.f, 1e12f));
  c->rope_base_local = c->rope_base;
  if (auto type = f.GetString(r.arch() + ".rope.scaling.type"); type.ok() && *type != "linear" && *type != "none")
    return Unimplemented("{}: {}.rope.scaling.type '{}' is not supported (linear or none)", f.path(), r.arch(), *type);
  TLM_ASSIGN_OR_RETURN(float rope_factor, r.FloatOr("rope.scaling.factor", 1.f, 1e-3f, 1e6f));
  c->rope_scale_global = 1.f / rope_factor;
  TLM_ASSIGN_OR_RETURN(c->n_vocab, ReadVocabSize(f));
  c->layer_is_local.assign(c->n_layer, false);
  c->tied_output = f.FindTensor("output.weight") == nullptr;
  c->attn_scale = 1.f / std::sqrt(static_cast<float>(c->head_dim));
  return Status::Ok();
}

std::vector<TensorRequirement> DecoderTensors(const ModelConfig& c, const std::vector<LayerTensor>& extra) {
  const int64_t q = c.n_head * c.head_dim, kv = c.n_kv_head * c.head_dim;
  std::vector<TensorRequirement> t = {
      {"token_embd.weight", {c.n_embd, c.n_vocab}},
      {"output_norm.weight", {c.n_embd}},
      {"output.weight", {c.n_embd, c.n_vocab}, /*optional=*/true},
  };
  const std::vector<LayerTensor> common = {
      {"attn_norm", {c.n_embd}},        {"attn_q", {c.n_embd, q}},      {"attn_k", {c.n_embd, kv}},
      {"attn_v", {c.n_embd, kv}},       {"attn_output", {q, c.n_embd}}, {"ffn_norm", {c.n_embd}},
      {"ffn_gate", {c.n_embd, c.n_ff}}, {"ffn_up", {c.n_embd, c.n_ff}}, {"ffn_down", {c.n_ff, c.n_embd}},
  };
  for (int64_t il = 0; il < c.n_layer; ++il) {
    for (const auto* list : {&common, &extra})
      for (const LayerTensor& lt : *list) t.push_back({fmt::format("blk.{}.{}.weight", il, lt.suffix), lt.dims});
  }
  return t;
}

}  // namespace tlm

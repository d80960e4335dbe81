// Reference (scalar) causal attention over a KV ring buffer with sliding windows and grouped
// query heads: the oracle of the attention kernels of the dispatch table, with the semantics the
// CPU backend had before they existed (all scores, their max, exp, a double sum, weighted values).
#pragma once

#include <cstdint>
#include <limits>

namespace tlm::cpu::ref {

// One attention layer for a step of `rows` query rows at positions pos0 .. pos0 + rows - 1.
// Query row t sees the key positions p with lo(t) <= p <= pos0 + t, lo(t) = 0 without a window,
// else max(0, pos0 + t - window + 1). Key and value rows hold n_kv_head * head_dim floats; query
// head h reads KV head h / (n_head / n_kv_head).
struct AttentionArgs {
  const float* q = nullptr;        // rows x n_head * head_dim
  const float* k_cache = nullptr;  // ring of `capacity` rows: position p < pos0 at row p % capacity
  const float* v_cache = nullptr;
  int64_t capacity = 0;
  const float* k_new = nullptr;  // rows x n_kv_head * head_dim: position pos0 + t at row t
  const float* v_new = nullptr;
  int64_t pos0 = 0;
  int64_t rows = 0;
  int64_t n_head = 0;
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;
  int64_t window = 0;  // 0: full causal
  float scale = 1.f;
  float* out = nullptr;  // rows x n_head * head_dim
};

// A piece of the work: query rows [row_begin, row_end) of the query heads of KV heads
// [kv_head_begin, kv_head_end), attending only to the visible keys in positions
// [key_begin, key_end) (split-K: a decode row's keys cut into chunks).
struct AttentionWork {
  int64_t row_begin = 0, row_end = 0;
  int64_t kv_head_begin = 0, kv_head_end = 0;
  int64_t key_begin = 0, key_end = std::numeric_limits<int64_t>::max();
};

// Where a piece leaves its unnormalized result instead of writing AttentionArgs::out, for
// AttentionCombine. Query vector i = (t - row_begin) * heads + (h - kv_head_begin * group), with
// heads = (kv_head_end - kv_head_begin) * group: max[i] the largest scaled score over the
// piece's visible keys (-inf when it has none), sum[i] the sum of exp(score - max[i]), and
// acc[i * head_dim ..] the sum of exp(score - max[i]) * value (zeros and sum 0 when none).
struct AttentionPartial {
  float* max = nullptr;
  float* sum = nullptr;
  float* acc = nullptr;
};

// partial == nullptr: writes the normalized output of the piece's rows and heads to args.out.
// scratch: AttentionScratchFloats(...) floats of the caller's, for this call alone.
using AttentionFn = void (*)(const AttentionArgs& args, const AttentionWork& work, const AttentionPartial* partial,
                             float* scratch);

// Scratch every AttentionFn of the dispatch table stays within, for at most max_keys visible keys
// per query row. The fast kernels keep tiles of at most kAttentionMaxTileVectors query vectors
// (or one row's group, if larger) by kAttentionMaxTileKeys keys.
inline constexpr int64_t kAttentionMaxTileVectors = 16;
inline constexpr int64_t kAttentionMaxTileKeys = 64;
inline int64_t AttentionScratchFloats(int64_t n_head, int64_t n_kv_head, int64_t head_dim, int64_t max_keys) {
  const int64_t group = n_head / n_kv_head;
  const int64_t vectors = group > kAttentionMaxTileVectors ? group : kAttentionMaxTileVectors;
  const int64_t tile = vectors * (head_dim + kAttentionMaxTileKeys + 2) + 64;
  return max_keys > tile ? max_keys : tile;
}

// The reference AttentionFn.
void Attention(const AttentionArgs& args, const AttentionWork& work, const AttentionPartial* partial, float* scratch);

// Combines the partials of n_parts pieces over the same n_vectors query vectors (disjoint key
// ranges that together cover every visible key) into the softmax-weighted values: vector i to
// out[i * head_dim ..].
void AttentionCombine(const AttentionPartial* parts, int64_t n_parts, int64_t n_vectors, int64_t head_dim, float* out);

}  // namespace tlm::cpu::ref

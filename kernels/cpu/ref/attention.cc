// Reference attention (see attention.h): one query vector at a time, every score kept.
#include "kernels/cpu/ref/attention.h"

#include <algorithm>
#include <cmath>

namespace tlm::cpu::ref {

void Attention(const AttentionArgs& a, const AttentionWork& w, const AttentionPartial* partial, float* scratch) {
  const int64_t hd = a.head_dim, kv_width = a.n_kv_head * hd, q_width = a.n_head * hd;
  const int64_t group = a.n_head / a.n_kv_head, cap = a.capacity;
  const int64_t heads = (w.kv_head_end - w.kv_head_begin) * group;
  float* scores = scratch;
  for (int64_t t = w.row_begin; t < w.row_end; ++t) {
    const int64_t pos = a.pos0 + t;
    const int64_t lo = std::max(w.key_begin, a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0);
    const int64_t hi = std::min(w.key_end - 1, pos);  // inclusive
    for (int64_t h = w.kv_head_begin * group; h < w.kv_head_end * group; ++h) {
      const int64_t kvh = h / group;
      const int64_t vec = (t - w.row_begin) * heads + (h - w.kv_head_begin * group);
      const float* qv = a.q + t * q_width + h * hd;
      auto key = [&](int64_t p) {
        return p < a.pos0 ? a.k_cache + (p % cap) * kv_width + kvh * hd : a.k_new + (p - a.pos0) * kv_width + kvh * hd;
      };
      auto value = [&](int64_t p) {
        return p < a.pos0 ? a.v_cache + (p % cap) * kv_width + kvh * hd : a.v_new + (p - a.pos0) * kv_width + kvh * hd;
      };
      float max_score = -INFINITY;
      for (int64_t p = lo; p <= hi; ++p) {
        const float* kv_row = key(p);
        float dot = 0;
        for (int64_t e = 0; e < hd; ++e) dot += qv[e] * kv_row[e];
        scores[p - lo] = dot * a.scale;
        max_score = std::max(max_score, scores[p - lo]);
      }
      double sum = 0;
      for (int64_t p = lo; p <= hi; ++p) {
        scores[p - lo] = std::exp(scores[p - lo] - max_score);
        sum += scores[p - lo];
      }
      float* o = partial != nullptr ? partial->acc + vec * hd : a.out + t * q_width + h * hd;
      std::fill(o, o + hd, 0.f);
      if (partial != nullptr) {
        partial->max[vec] = max_score;
        partial->sum[vec] = static_cast<float>(sum);
        for (int64_t p = lo; p <= hi; ++p) {
          const float* vv = value(p);
          for (int64_t e = 0; e < hd; ++e) o[e] += scores[p - lo] * vv[e];
        }
        continue;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t p = lo; p <= hi; ++p) {
        const float wgt = scores[p - lo] * inv;
        const float* vv = value(p);
        for (int64_t e = 0; e < hd; ++e) o[e] += wgt * vv[e];
      }
    }
  }
}

void AttentionCombine(const AttentionPartial* parts, int64_t n_parts, int64_t n_vectors, int64_t head_dim, float* out) {
  for (int64_t i = 0; i < n_vectors; ++i) {
    float m = -INFINITY;
    for (int64_t c = 0; c < n_parts; ++c) m = std::max(m, parts[c].max[i]);
    float* o = out + i * head_dim;
    std::fill(o, o + head_dim, 0.f);
    double sum = 0;
    for (int64_t c = 0; c < n_parts; ++c) {
      if (parts[c].sum[i] == 0.f) continue;  // no visible key in this piece
      const float f = std::exp(parts[c].max[i] - m);
      sum += static_cast<double>(f) * parts[c].sum[i];
      const float* acc = parts[c].acc + i * head_dim;
      for (int64_t e = 0; e < head_dim; ++e) o[e] += f * acc[e];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t e = 0; e < head_dim; ++e) o[e] *= inv;
  }
}

}  // namespace tlm::cpu::ref

// The tiled attention of the SIMD kernels (x86/attention_avx2.cc, arm/attention_neon.cc), written
// once over a vector type: query tiles (rows x the query heads of one KV head) against key tiles,
// online softmax, vectorized dots, exp and value accumulation. Each kernel's file instantiates it
// with its own Vec, which provides (all static, V its register type, kWidth floats in one):
//   V Load(const float*), void Store(float*, V), V Set1(float), V Zero(), V Add(V, V), V Sub(V, V),
//   V Mul(V, V), V Fma(V a, V b, V c) = a * b + c, float Sum(V), V ExpNonPositive(V) (exp of x <= 0).
// Everything here is a template on Vec, so translation units built for different instruction
// sets never share a compiled body.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/ref/attention.h"

namespace tlm::cpu::attention_tiles {

// Query vectors per tile (whole rows of a KV group; at least one row) and keys per tile: a key
// tile of 32 x 256 floats stays in L1 while every query vector of the tile reads it.
inline constexpr int64_t kTileVectors = 8;
inline constexpr int64_t kTileKeys = 32;
static_assert(kTileVectors <= ref::kAttentionMaxTileVectors && kTileKeys <= ref::kAttentionMaxTileKeys);

// scores[i * ld + j] = dot(q[i], k[j]) over hd floats, for kNq query vectors and kNk keys.
template <class Vec, int kNq, int kNk>
inline void DotTile(const float* const* q, const float* const* k, int64_t hd, float* scores, int64_t ld) {
  using V = typename Vec::V;
  V acc[kNq][kNk];
  for (int i = 0; i < kNq; ++i)
    for (int j = 0; j < kNk; ++j) acc[i][j] = Vec::Zero();
  int64_t e = 0;
  for (; e + Vec::kWidth <= hd; e += Vec::kWidth) {
    V kv[kNk];
    for (int j = 0; j < kNk; ++j) kv[j] = Vec::Load(k[j] + e);
    for (int i = 0; i < kNq; ++i) {
      const V qv = Vec::Load(q[i] + e);
      for (int j = 0; j < kNk; ++j) acc[i][j] = Vec::Fma(qv, kv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < kNq; ++i)
    for (int j = 0; j < kNk; ++j) {
      float s = Vec::Sum(acc[i][j]);
      for (int64_t f = e; f < hd; ++f) s += q[i][f] * k[j][f];
      scores[i * ld + j] = s;
    }
}

// The scores of kNq query vectors against nk keys, 2 keys at a time.
template <class Vec, int kNq>
inline void DotRows(const float* const* q, const float* const* k, int64_t nk, int64_t hd, float* scores, int64_t ld) {
  int64_t j = 0;
  for (; j + 2 <= nk; j += 2) DotTile<Vec, kNq, 2>(q, k + j, hd, scores + j, ld);
  for (; j < nk; ++j) DotTile<Vec, kNq, 1>(q, k + j, hd, scores + j, ld);
}

// acc[i] += sum_j p[i * ld + j] * v[j] over hd floats, for kNq query vectors and nk keys.
template <class Vec, int kNq>
inline void AccumulateTile(const float* p, int64_t ld, const float* const* v, int64_t nk, int64_t hd,
                           float* const* acc) {
  using V = typename Vec::V;
  constexpr int64_t W = Vec::kWidth;
  int64_t e = 0;
  for (; e + 2 * W <= hd; e += 2 * W) {
    V a[kNq][2];
    for (int i = 0; i < kNq; ++i) {
      a[i][0] = Vec::Load(acc[i] + e);
      a[i][1] = Vec::Load(acc[i] + e + W);
    }
    for (int64_t j = 0; j < nk; ++j) {
      const V v0 = Vec::Load(v[j] + e), v1 = Vec::Load(v[j] + e + W);
      for (int i = 0; i < kNq; ++i) {
        const V w = Vec::Set1(p[i * ld + j]);
        a[i][0] = Vec::Fma(w, v0, a[i][0]);
        a[i][1] = Vec::Fma(w, v1, a[i][1]);
      }
    }
    for (int i = 0; i < kNq; ++i) {
      Vec::Store(acc[i] + e, a[i][0]);
      Vec::Store(acc[i] + e + W, a[i][1]);
    }
  }
  for (; e + W <= hd; e += W) {
    V a[kNq];
    for (int i = 0; i < kNq; ++i) a[i] = Vec::Load(acc[i] + e);
    for (int64_t j = 0; j < nk; ++j) {
      const V v0 = Vec::Load(v[j] + e);
      for (int i = 0; i < kNq; ++i) a[i] = Vec::Fma(Vec::Set1(p[i * ld + j]), v0, a[i]);
    }
    for (int i = 0; i < kNq; ++i) Vec::Store(acc[i] + e, a[i]);
  }
  for (; e < hd; ++e)
    for (int i = 0; i < kNq; ++i) {
      float s = acc[i][e];
      for (int64_t j = 0; j < nk; ++j) s = std::fma(p[i * ld + j], v[j][e], s);
      acc[i][e] = s;
    }
}

// y[e] = c * x[e] over n floats (x == y allowed).
template <class Vec>
inline void Scale(const float* x, float c, float* y, int64_t n) {
  const typename Vec::V cv = Vec::Set1(c);
  int64_t e = 0;
  for (; e + Vec::kWidth <= n; e += Vec::kWidth) Vec::Store(y + e, Vec::Mul(cv, Vec::Load(x + e)));
  for (; e < n; ++e) y[e] = x[e] * c;
}

// s[j] = exp(s[j] - m) over n scores (each <= m); returns their sum.
template <class Vec>
inline float ExpShifted(float* s, int64_t n, float m) {
  using V = typename Vec::V;
  const V mv = Vec::Set1(m);
  V sum = Vec::Zero();
  int64_t j = 0;
  for (; j + Vec::kWidth <= n; j += Vec::kWidth) {
    const V pv = Vec::ExpNonPositive(Vec::Sub(Vec::Load(s + j), mv));
    Vec::Store(s + j, pv);
    sum = Vec::Add(sum, pv);
  }
  if (j < n) {
    alignas(64) float tail[Vec::kWidth];
    for (int64_t f = 0; f < Vec::kWidth; ++f) tail[f] = j + f < n ? s[j + f] : -INFINITY;
    const V pv = Vec::ExpNonPositive(Vec::Sub(Vec::Load(tail), mv));
    Vec::Store(tail, pv);
    for (int64_t f = 0; j + f < n; ++f) s[j + f] = tail[f];
    sum = Vec::Add(sum, pv);
  }
  return Vec::Sum(sum);
}

// One tile of query vectors (rows [t0, t1) of the heads of KV head kvh) over the visible keys in
// [key_begin, key_end), then the normalized output or the partial.
template <class Vec>
void AttendTile(const ref::AttentionArgs& a, const ref::AttentionWork& w, const ref::AttentionPartial* partial,
                int64_t kvh, int64_t t0, int64_t t1, float* scratch) {
  const int64_t hd = a.head_dim, kv_width = a.n_kv_head * hd, q_width = a.n_head * hd;
  const int64_t group = a.n_head / a.n_kv_head, n_vec = (t1 - t0) * group;
  auto first_key = [&](int64_t t) {
    const int64_t pos = a.pos0 + t;
    return std::max(w.key_begin, a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0);
  };
  auto last_key = [&](int64_t t) { return std::min(w.key_end - 1, a.pos0 + t); };  // inclusive
  float* m = scratch;
  float* l = m + n_vec;
  float* s = l + n_vec;  // n_vec x kTileKeys
  float* acc = s + n_vec * kTileKeys;
  auto q_vec = [&](int64_t i) { return a.q + (t0 + i / group) * q_width + (kvh * group + i % group) * hd; };
  for (int64_t i = 0; i < n_vec; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.f;
  }
  std::fill(acc, acc + n_vec * hd, 0.f);

  const int64_t lo = first_key(t0), hi = last_key(t1 - 1);
  const float* kp[kTileKeys];
  const float* vp[kTileKeys];
  for (int64_t k0 = lo; k0 <= hi; k0 += kTileKeys) {
    const int64_t nk = std::min(kTileKeys, hi - k0 + 1);
    for (int64_t j = 0; j < nk; ++j) {
      const int64_t p = k0 + j;
      const int64_t row_off = p < a.pos0 ? (p % a.capacity) * kv_width : (p - a.pos0) * kv_width;
      kp[j] = (p < a.pos0 ? a.k_cache : a.k_new) + row_off + kvh * hd;
      vp[j] = (p < a.pos0 ? a.v_cache : a.v_new) + row_off + kvh * hd;
    }
    // Scores, 4 query vectors by 2 keys at a time.
    int64_t i = 0;
    for (; i < n_vec; i += 4) {
      const float* qs[4];
      const int64_t nq = std::min<int64_t>(4, n_vec - i);
      for (int64_t r = 0; r < nq; ++r) qs[r] = q_vec(i + r);
      float* si = s + i * kTileKeys;
      // (A switch: a generic lambda per count made the tile loop 10% slower, GCC 12.)
      switch (nq) {
        case 4:
          DotRows<Vec, 4>(qs, kp, nk, hd, si, kTileKeys);
          break;
        case 3:
          DotRows<Vec, 3>(qs, kp, nk, hd, si, kTileKeys);
          break;
        case 2:
          DotRows<Vec, 2>(qs, kp, nk, hd, si, kTileKeys);
          break;
        default:
          DotRows<Vec, 1>(qs, kp, nk, hd, si, kTileKeys);
      }
    }
    // Online softmax: scale, mask, new running max, rescale what was accumulated, exp.
    for (i = 0; i < n_vec; ++i) {
      const int64_t t = t0 + i / group;
      const int64_t visible_lo = std::max<int64_t>(first_key(t) - k0, 0);
      const int64_t visible_hi = std::min<int64_t>(last_key(t) - k0, nk - 1);  // inclusive
      float* si = s + i * kTileKeys;
      float tile_max = -INFINITY;
      for (int64_t j = 0; j < nk; ++j) {
        si[j] = j >= visible_lo && j <= visible_hi ? si[j] * a.scale : -INFINITY;
        tile_max = std::max(tile_max, si[j]);
      }
      if (tile_max == -INFINITY) {  // no visible key for this row in this tile
        std::fill(si, si + nk, 0.f);
        continue;
      }
      const float m_new = std::max(m[i], tile_max);
      if (m_new > m[i]) {
        const float c = std::exp(m[i] - m_new);  // 0 while nothing was accumulated
        l[i] *= c;
        Scale<Vec>(acc + i * hd, c, acc + i * hd, hd);
        m[i] = m_new;
      }
      l[i] += ExpShifted<Vec>(si, nk, m_new);
    }
    // Values: acc += p * v, 4 query vectors at a time over each value row of the tile.
    for (i = 0; i < n_vec; i += 4) {
      const int64_t nq = std::min<int64_t>(4, n_vec - i);
      float* as[4];
      for (int64_t r = 0; r < nq; ++r) as[r] = acc + (i + r) * hd;
      const float* pi = s + i * kTileKeys;
      switch (nq) {
        case 4:
          AccumulateTile<Vec, 4>(pi, kTileKeys, vp, nk, hd, as);
          break;
        case 3:
          AccumulateTile<Vec, 3>(pi, kTileKeys, vp, nk, hd, as);
          break;
        case 2:
          AccumulateTile<Vec, 2>(pi, kTileKeys, vp, nk, hd, as);
          break;
        default:
          AccumulateTile<Vec, 1>(pi, kTileKeys, vp, nk, hd, as);
      }
    }
  }

  const int64_t heads = (w.kv_head_end - w.kv_head_begin) * group;
  for (int64_t i = 0; i < n_vec; ++i) {
    const int64_t t = t0 + i / group, h = kvh * group + i % group;
    const float* ai = acc + i * hd;
    if (partial != nullptr) {
      const int64_t vec = (t - w.row_begin) * heads + (h - w.kv_head_begin * group);
      partial->max[vec] = m[i];
      partial->sum[vec] = l[i];
      std::copy(ai, ai + hd, partial->acc + vec * hd);
      continue;
    }
    Scale<Vec>(ai, 1.f / l[i], a.out + t * q_width + h * hd, hd);
  }
}

// ref::Attention's contract over the work's KV heads and rows, a tile of rows at a time.
template <class Vec>
void Attention(const ref::AttentionArgs& args, const ref::AttentionWork& work, const ref::AttentionPartial* partial,
               float* scratch) {
  const int64_t group = args.n_head / args.n_kv_head;
  const int64_t tile_rows = std::max<int64_t>(1, kTileVectors / group);
  for (int64_t kvh = work.kv_head_begin; kvh < work.kv_head_end; ++kvh)
    for (int64_t t0 = work.row_begin; t0 < work.row_end; t0 += tile_rows)
      AttendTile<Vec>(args, work, partial, kvh, t0, std::min(t0 + tile_rows, work.row_end), scratch);
}

}  // namespace tlm::cpu::attention_tiles

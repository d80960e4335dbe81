// AVX2+FMA attention: query tiles (rows x the query heads of one KV head) against key tiles,
// online softmax, vectorized dots, exp and value accumulation (see attention_avx2.h).
#include "kernels/cpu/x86/attention_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/x86/avx2_util.h"

namespace tlm::cpu::x86 {
namespace {

// Query vectors per tile (whole rows of a KV group; at least one row) and keys per tile: a key
// tile of 32 x 256 floats stays in L1 while every query vector of the tile reads it.
constexpr int64_t kTileVectors = 8;
constexpr int64_t kTileKeys = 32;
static_assert(kTileVectors <= ref::kAttentionMaxTileVectors && kTileKeys <= ref::kAttentionMaxTileKeys);

// exp(x) for x <= 0 (Cephes' expf: range reduction by ln 2 in two parts, degree-5 polynomial,
// 2^n through the exponent bits); about 1 ulp. Below -87 (and for -inf) it returns 0.
inline __m256 ExpNonPositive(__m256 x) {
  const __m256 valid = _mm256_cmp_ps(x, _mm256_set1_ps(-87.f), _CMP_GE_OQ);
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), valid);
}

// scores[i * ld + j] = dot(q[i], k[j]) over hd floats, for kNq query vectors and kNk keys.
template <int kNq, int kNk>
inline void DotTile(const float* const* q, const float* const* k, int64_t hd, float* scores, int64_t ld) {
  __m256 acc[kNq][kNk];
  for (int i = 0; i < kNq; ++i)
    for (int j = 0; j < kNk; ++j) acc[i][j] = _mm256_setzero_ps();
  int64_t e = 0;
  for (; e + 8 <= hd; e += 8) {
    __m256 kv[kNk];
    for (int j = 0; j < kNk; ++j) kv[j] = _mm256_loadu_ps(k[j] + e);
    for (int i = 0; i < kNq; ++i) {
      const __m256 qv = _mm256_loadu_ps(q[i] + e);
      for (int j = 0; j < kNk; ++j) acc[i][j] = _mm256_fmadd_ps(qv, kv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < kNq; ++i)
    for (int j = 0; j < kNk; ++j) {
      float s = HorizontalSum(acc[i][j]);
      for (int64_t f = e; f < hd; ++f) s += q[i][f] * k[j][f];
      scores[i * ld + j] = s;
    }
}

// acc[i] += sum_j p[i * ld + j] * v[j] over hd floats, for kNq query vectors and nk keys.
template <int kNq>
inline void AccumulateTile(const float* p, int64_t ld, const float* const* v, int64_t nk, int64_t hd,
                           float* const* acc) {
  int64_t e = 0;
  for (; e + 16 <= hd; e += 16) {
    __m256 a[kNq][2];
    for (int i = 0; i < kNq; ++i) {
      a[i][0] = _mm256_loadu_ps(acc[i] + e);
      a[i][1] = _mm256_loadu_ps(acc[i] + e + 8);
    }
    for (int64_t j = 0; j < nk; ++j) {
      const __m256 v0 = _mm256_loadu_ps(v[j] + e), v1 = _mm256_loadu_ps(v[j] + e + 8);
      for (int i = 0; i < kNq; ++i) {
        const __m256 w = _mm256_broadcast_ss(p + i * ld + j);
        a[i][0] = _mm256_fmadd_ps(w, v0, a[i][0]);
        a[i][1] = _mm256_fmadd_ps(w, v1, a[i][1]);
      }
    }
    for (int i = 0; i < kNq; ++i) {
      _mm256_storeu_ps(acc[i] + e, a[i][0]);
      _mm256_storeu_ps(acc[i] + e + 8, a[i][1]);
    }
  }
  for (; e + 8 <= hd; e += 8) {
    __m256 a[kNq];
    for (int i = 0; i < kNq; ++i) a[i] = _mm256_loadu_ps(acc[i] + e);
    for (int64_t j = 0; j < nk; ++j) {
      const __m256 v0 = _mm256_loadu_ps(v[j] + e);
      for (int i = 0; i < kNq; ++i) a[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + i * ld + j), v0, a[i]);
    }
    for (int i = 0; i < kNq; ++i) _mm256_storeu_ps(acc[i] + e, a[i]);
  }
  for (; e < hd; ++e)
    for (int i = 0; i < kNq; ++i) {
      float s = acc[i][e];
      for (int64_t j = 0; j < nk; ++j) s = std::fma(p[i * ld + j], v[j][e], s);
      acc[i][e] = s;
    }
}

// One tile of query vectors (rows [t0, t1) of the heads of KV head kvh) over the visible keys in
// [key_begin, key_end), then the normalized output or the partial.
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
      int64_t j = 0;
      switch (nq) {
        case 4:
          for (; j + 2 <= nk; j += 2) DotTile<4, 2>(qs, kp + j, hd, si + j, kTileKeys);
          for (; j < nk; ++j) DotTile<4, 1>(qs, kp + j, hd, si + j, kTileKeys);
          break;
        case 3:
          for (; j + 2 <= nk; j += 2) DotTile<3, 2>(qs, kp + j, hd, si + j, kTileKeys);
          for (; j < nk; ++j) DotTile<3, 1>(qs, kp + j, hd, si + j, kTileKeys);
          break;
        case 2:
          for (; j + 2 <= nk; j += 2) DotTile<2, 2>(qs, kp + j, hd, si + j, kTileKeys);
          for (; j < nk; ++j) DotTile<2, 1>(qs, kp + j, hd, si + j, kTileKeys);
          break;
        default:
          for (; j + 2 <= nk; j += 2) DotTile<1, 2>(qs, kp + j, hd, si + j, kTileKeys);
          for (; j < nk; ++j) DotTile<1, 1>(qs, kp + j, hd, si + j, kTileKeys);
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
        float* ai = acc + i * hd;
        const __m256 cv = _mm256_set1_ps(c);
        int64_t e = 0;
        for (; e + 8 <= hd; e += 8) _mm256_storeu_ps(ai + e, _mm256_mul_ps(cv, _mm256_loadu_ps(ai + e)));
        for (; e < hd; ++e) ai[e] *= c;
        m[i] = m_new;
      }
      const __m256 mv = _mm256_set1_ps(m_new);
      __m256 sum = _mm256_setzero_ps();
      int64_t j = 0;
      for (; j + 8 <= nk; j += 8) {
        const __m256 pv = ExpNonPositive(_mm256_sub_ps(_mm256_loadu_ps(si + j), mv));
        _mm256_storeu_ps(si + j, pv);
        sum = _mm256_add_ps(sum, pv);
      }
      if (j < nk) {
        alignas(32) float tail[8];
        for (int64_t f = 0; f < 8; ++f) tail[f] = j + f < nk ? si[j + f] : -INFINITY;
        const __m256 pv = ExpNonPositive(_mm256_sub_ps(_mm256_load_ps(tail), mv));
        _mm256_store_ps(tail, pv);
        for (int64_t f = 0; j + f < nk; ++f) si[j + f] = tail[f];
        sum = _mm256_add_ps(sum, pv);
      }
      l[i] += HorizontalSum(sum);
    }
    // Values: acc += p * v, 4 query vectors at a time over each value row of the tile.
    for (i = 0; i < n_vec; i += 4) {
      const int64_t nq = std::min<int64_t>(4, n_vec - i);
      float* as[4];
      for (int64_t r = 0; r < nq; ++r) as[r] = acc + (i + r) * hd;
      const float* pi = s + i * kTileKeys;
      switch (nq) {
        case 4:
          AccumulateTile<4>(pi, kTileKeys, vp, nk, hd, as);
          break;
        case 3:
          AccumulateTile<3>(pi, kTileKeys, vp, nk, hd, as);
          break;
        case 2:
          AccumulateTile<2>(pi, kTileKeys, vp, nk, hd, as);
          break;
        default:
          AccumulateTile<1>(pi, kTileKeys, vp, nk, hd, as);
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
    float* o = a.out + t * q_width + h * hd;
    const float inv = 1.f / l[i];
    const __m256 iv = _mm256_set1_ps(inv);
    int64_t e = 0;
    for (; e + 8 <= hd; e += 8) _mm256_storeu_ps(o + e, _mm256_mul_ps(iv, _mm256_loadu_ps(ai + e)));
    for (; e < hd; ++e) o[e] = ai[e] * inv;
  }
}

}  // namespace

void AttentionAvx2(const ref::AttentionArgs& args, const ref::AttentionWork& work, const ref::AttentionPartial* partial,
                   float* scratch) {
  const int64_t group = args.n_head / args.n_kv_head;
  const int64_t tile_rows = std::max<int64_t>(1, kTileVectors / group);
  for (int64_t kvh = work.kv_head_begin; kvh < work.kv_head_end; ++kvh)
    for (int64_t t0 = work.row_begin; t0 < work.row_end; t0 += tile_rows)
      AttendTile(args, work, partial, kvh, t0, std::min(t0 + tile_rows, work.row_end), scratch);
}

}  // namespace tlm::cpu::x86

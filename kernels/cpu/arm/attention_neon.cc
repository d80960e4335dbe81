// NEON attention: query tiles (rows x the query heads of one KV head) against key tiles, online
// softmax, vectorized dots, exp and value accumulation (see attention_neon.h); the AVX2 kernel's
// algorithm (x86/attention_avx2.cc) on 4-float vectors.
#include "kernels/cpu/arm/attention_neon.h"

#include <arm_neon.h>

#include <algorithm>
#include <cmath>


namespace tlm::cpu::arm {
namespace {

// Query vectors per tile (whole rows of a KV group; at least one row) and keys per tile: a key
// tile of 32 x 256 floats stays in L1 while every query vector of the tile reads it.
constexpr int64_t kTileVectors = 8;
constexpr int64_t kTileKeys = 32;
static_assert(kTileVectors <= ref::kAttentionMaxTileVectors && kTileKeys <= ref::kAttentionMaxTileKeys);

// exp(x) for x <= 0 (Cephes' expf: range reduction by ln 2 in two parts, degree-5 polynomial,
// 2^n through the exponent bits); about 1 ulp. Below -87 (and for -inf) it returns 0.
inline float32x4_t ExpNonPositive(float32x4_t x) {
  const uint32x4_t valid = vcgeq_f32(x, vdupq_n_f32(-87.f));
  x = vmaxq_f32(x, vdupq_n_f32(-87.f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  const float32x4_t r2 = vmulq_f32(r, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.f)), p, r2);
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  const float32x4_t scaled = vmulq_f32(p, vreinterpretq_f32_s32(bits));
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(scaled), valid));
}

// scores[i * ld + j] = dot(q[i], k[j]) over hd floats, for kNq query vectors and kNk keys.
template <int kNq, int kNk>
inline void DotTile(const float* const* q, const float* const* k, int64_t hd, float* scores, int64_t ld) {
  float32x4_t acc[kNq][kNk];
  for (int i = 0; i < kNq; ++i)
    for (int j = 0; j < kNk; ++j) acc[i][j] = vdupq_n_f32(0.f);
  int64_t e = 0;
  for (; e + 4 <= hd; e += 4) {
    float32x4_t kv[kNk];
    for (int j = 0; j < kNk; ++j) kv[j] = vld1q_f32(k[j] + e);
    for (int i = 0; i < kNq; ++i) {
      const float32x4_t qv = vld1q_f32(q[i] + e);
      for (int j = 0; j < kNk; ++j) acc[i][j] = vfmaq_f32(acc[i][j], qv, kv[j]);
    }
  }
  for (int i = 0; i < kNq; ++i)
    for (int j = 0; j < kNk; ++j) {
      float s = vaddvq_f32(acc[i][j]);
      for (int64_t f = e; f < hd; ++f) s += q[i][f] * k[j][f];
      scores[i * ld + j] = s;
    }
}

// acc[i] += sum_j p[i * ld + j] * v[j] over hd floats, for kNq query vectors and nk keys.
template <int kNq>
inline void AccumulateTile(const float* p, int64_t ld, const float* const* v, int64_t nk, int64_t hd,
                           float* const* acc) {
  int64_t e = 0;
  for (; e + 8 <= hd; e += 8) {
    float32x4_t a[kNq][2];
    for (int i = 0; i < kNq; ++i) {
      a[i][0] = vld1q_f32(acc[i] + e);
      a[i][1] = vld1q_f32(acc[i] + e + 4);
    }
    for (int64_t j = 0; j < nk; ++j) {
      const float32x4_t v0 = vld1q_f32(v[j] + e), v1 = vld1q_f32(v[j] + e + 4);
      for (int i = 0; i < kNq; ++i) {
        const float32x4_t w = vdupq_n_f32(p[i * ld + j]);
        a[i][0] = vfmaq_f32(a[i][0], w, v0);
        a[i][1] = vfmaq_f32(a[i][1], w, v1);
      }
    }
    for (int i = 0; i < kNq; ++i) {
      vst1q_f32(acc[i] + e, a[i][0]);
      vst1q_f32(acc[i] + e + 4, a[i][1]);
    }
  }
  for (; e + 4 <= hd; e += 4) {
    float32x4_t a[kNq];
    for (int i = 0; i < kNq; ++i) a[i] = vld1q_f32(acc[i] + e);
    for (int64_t j = 0; j < nk; ++j) {
      const float32x4_t v0 = vld1q_f32(v[j] + e);
      for (int i = 0; i < kNq; ++i) a[i] = vfmaq_f32(a[i], vdupq_n_f32(p[i * ld + j]), v0);
    }
    for (int i = 0; i < kNq; ++i) vst1q_f32(acc[i] + e, a[i]);
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
        const float32x4_t cv = vdupq_n_f32(c);
        int64_t e = 0;
        for (; e + 4 <= hd; e += 4) vst1q_f32(ai + e, vmulq_f32(cv, vld1q_f32(ai + e)));
        for (; e < hd; ++e) ai[e] *= c;
        m[i] = m_new;
      }
      const float32x4_t mv = vdupq_n_f32(m_new);
      float32x4_t sum = vdupq_n_f32(0.f);
      int64_t j = 0;
      for (; j + 4 <= nk; j += 4) {
        const float32x4_t pv = ExpNonPositive(vsubq_f32(vld1q_f32(si + j), mv));
        vst1q_f32(si + j, pv);
        sum = vaddq_f32(sum, pv);
      }
      if (j < nk) {
        float tail[4];
        for (int64_t f = 0; f < 4; ++f) tail[f] = j + f < nk ? si[j + f] : -INFINITY;
        const float32x4_t pv = ExpNonPositive(vsubq_f32(vld1q_f32(tail), mv));
        vst1q_f32(tail, pv);
        for (int64_t f = 0; j + f < nk; ++f) si[j + f] = tail[f];
        sum = vaddq_f32(sum, pv);
      }
      l[i] += vaddvq_f32(sum);
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
    const float32x4_t iv = vdupq_n_f32(inv);
    int64_t e = 0;
    for (; e + 4 <= hd; e += 4) vst1q_f32(o + e, vmulq_f32(iv, vld1q_f32(ai + e)));
    for (; e < hd; ++e) o[e] = ai[e] * inv;
  }
}

}  // namespace

void AttentionNeon(const ref::AttentionArgs& args, const ref::AttentionWork& work, const ref::AttentionPartial* partial,
                   float* scratch) {
  const int64_t group = args.n_head / args.n_kv_head;
  const int64_t tile_rows = std::max<int64_t>(1, kTileVectors / group);
  for (int64_t kvh = work.kv_head_begin; kvh < work.kv_head_end; ++kvh)
    for (int64_t t0 = work.row_begin; t0 < work.row_end; t0 += tile_rows)
      AttendTile(args, work, partial, kvh, t0, std::min(t0 + tile_rows, work.row_end), scratch);
}

}  // namespace tlm::cpu::arm

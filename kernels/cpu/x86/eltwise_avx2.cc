// AVX2+FMA elementwise kernels: exp and tanh in the style of Cephes' expf / tanhf (round to the
// nearest power of two, a degree-6 polynomial for exp on [-ln2/2, ln2/2]; tanh as an odd
// polynomial below 0.625 and 1 - 2 / (exp(2|x|) + 1) above), the gated activations built on
// them, residual add and RMS normalization. No standard-library templates here (their AVX2
// copies could be the ones the linker keeps).
#include "kernels/cpu/x86/eltwise_avx2.h"

#include <immintrin.h>

#include <cstdint>

namespace tlm::cpu::x86 {
namespace {

// Lanes [0, n) of a mask for masked loads and stores, n in [0, 8].
inline __m256i TailMask(int64_t n) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lanes);
}

// exp(x) for every lane. The argument is clamped to [-104, 89] (exp is 0 below, inf above) and
// the power of two applied in two halves, so subnormal and overflowing results round once, as
// std::exp's do. NaN stays NaN through the polynomial.
inline __m256 Exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(89.f), _mm256_max_ps(_mm256_set1_ps(-104.f), x));  // NaN kept: 2nd operand
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // x - n ln2 with ln2 in two parts (the first exact in few bits): r in [-ln2/2, ln2/2].
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  // 2^n as 2^h * 2^(n - h), h = n / 2: both factors normal for n in [-150, 129].
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i h = _mm256_srai_epi32(ni, 1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

// tanh(x) for every lane.
inline __m256 Tanh8(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.f);
  const __m256 ax = _mm256_andnot_ps(sign_mask, x);
  // |x| < 0.625: x + x^3 P(x^2).
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  // Otherwise 1 - 2 / (exp(2|x|) + 1), |x| capped at 10 (tanh rounds to 1 from 9.01 on), sign of x.
  const __m256 e = Exp8(_mm256_add_ps(_mm256_min_ps(ax, _mm256_set1_ps(10.f)), _mm256_min_ps(ax, _mm256_set1_ps(10.f))));
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 large_abs = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.f), _mm256_add_ps(e, one)));
  const __m256 large = _mm256_or_ps(large_abs, _mm256_and_ps(sign_mask, x));
  // Ordered compare: a NaN lane takes the polynomial branch, which keeps it NaN.
  return _mm256_blendv_ps(small, large, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_GE_OQ));
}

inline __m256 GeluTanh8(__m256 x) {
  // 0.5 x (1 + tanh(k (x + 0.044715 x x x))), in the reference's order of operations.
  const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), x), x);
  const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_add_ps(x, cube));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.f), Tanh8(u)));
}

inline __m256 Silu8(__m256 x) {
  const __m256 e = Exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.f)));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.f), e));
}

// out = f(x) over n floats, 8 at a time then a masked tail.
template <typename F>
inline void Unary(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = TailMask(n - i);
    _mm256_maskstore_ps(y + i, m, f(_mm256_maskload_ps(x + i, m)));
  }
}

// out = f(a, b) over n floats.
template <typename F>
inline void Binary(const float* a, const float* b, float* out, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    const __m256i m = TailMask(n - i);
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m)));
  }
}

inline double HorizontalSum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

}  // namespace

void ExpF32Avx2(const float* x, float* y, int64_t n) { Unary(x, y, n, [](__m256 v) { return Exp8(v); }); }

void TanhF32Avx2(const float* x, float* y, int64_t n) { Unary(x, y, n, [](__m256 v) { return Tanh8(v); }); }

void AddF32Avx2(const float* a, const float* b, float* out, int64_t n) {
  Binary(a, b, out, n, [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); });
}

void GeluTanhGateF32Avx2(const float* a, const float* b, float* out, int64_t n) {
  Binary(a, b, out, n, [](__m256 x, __m256 g) { return _mm256_mul_ps(GeluTanh8(x), g); });
}

void SiluGateF32Avx2(const float* a, const float* b, float* out, int64_t n) {
  Binary(a, b, out, n, [](__m256 x, __m256 g) { return _mm256_mul_ps(Silu8(x), g); });
}

void RmsNormF32Avx2(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v0)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v0, 1));
    const __m256d d2 = _mm256_cvtps_pd(_mm256_castps256_ps128(v1)), d3 = _mm256_cvtps_pd(_mm256_extractf128_ps(v1, 1));
    acc[0] = _mm256_fmadd_pd(d0, d0, acc[0]);
    acc[1] = _mm256_fmadd_pd(d1, d1, acc[1]);
    acc[2] = _mm256_fmadd_pd(d2, d2, acc[2]);
    acc[3] = _mm256_fmadd_pd(d3, d3, acc[3]);
  }
  double sum = HorizontalSum(_mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3])));
  for (; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const double mean = sum / static_cast<double>(n) + eps;
  const float scale = static_cast<float>(1.0 / _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(mean))));
  const __m256 s = _mm256_set1_ps(scale);
  if (w != nullptr) {
    Binary(x, w, y, n, [s](__m256 v, __m256 g) { return _mm256_mul_ps(_mm256_mul_ps(v, s), g); });
  } else {
    Unary(x, y, n, [s](__m256 v) { return _mm256_mul_ps(v, s); });
  }
}

}  // namespace tlm::cpu::x86

// Reference (scalar) elementwise kernels of the CPU backend: exp, tanh, the gated activations
// of the feed-forward blocks, residual add and RMS normalization. The oracle of the vectorized
// kernels of the dispatch table. n >= 0 everywhere; outputs may alias inputs.
#pragma once

#include <cstdint>

namespace tlm::cpu::ref {

// y[i] = std::exp(x[i]).
void ExpF32(const float* x, float* y, int64_t n);
// y[i] = std::tanh(x[i]).
void TanhF32(const float* x, float* y, int64_t n);
// out[i] = a[i] + b[i].
void AddF32(const float* a, const float* b, float* out, int64_t n);
// out[i] = gelu_tanh(a[i]) * b[i], gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
void GeluTanhGateF32(const float* a, const float* b, float* out, int64_t n);
// out[i] = silu(a[i]) * b[i], silu(x) = x / (1 + exp(-x)).
void SiluGateF32(const float* a, const float* b, float* out, int64_t n);
// y[i] = x[i] * s * w[i] (w null: 1) with s = 1 / sqrt(mean(x^2) + eps), the mean accumulated in
// double; n >= 1.
void RmsNormF32(const float* x, const float* w, float* y, int64_t n, float eps);

}  // namespace tlm::cpu::ref

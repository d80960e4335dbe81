// Elementwise ops over rows * width values. VARIANT 0: a + b, 1: gelu_tanh(a) * b,
// 2: silu(a) * b, 3: copy the last row of a (TakeLastRow; n1 = rows of a are one).
// push: n0 = width. grid: (ceil(max rows * width / WG)).
#version 450
#include "common.glsl"
layout(local_size_x_id = 0) in;

void main() {
  uint width = pc.n0, i = gl_GlobalInvocationID.x;
  if (VARIANT == 3u) {
    if (i >= width) return;
    uint in_rows = pc.n1 != 0u ? 1u : n_tokens();
    outv[i] = in0[(in_rows - 1u) * width + i];
    return;
  }
  if (i >= node_rows() * width) return;
  float a = in0[i];
  if (VARIANT == 0u) {
    outv[i] = a + in1[i];
  } else if (VARIANT == 1u) {
    float g = 0.5 * a * (1.0 + tanh(0.7978845608028654 * (a + 0.044715 * a * a * a)));
    outv[i] = g * in1[i];
  } else {
    outv[i] = a / (1.0 + exp(-a)) * in1[i];
  }
}

// RMS norm: one workgroup per group of `group` elements: x / sqrt(mean(x^2) + eps) * weight.
// push: n0 = width, n1 = group, n2 = has weight; f0 = eps. grid: (max rows * width / group).
#version 450
#include "common.glsl"
layout(local_size_x_id = 0) in;

void main() {
  uint width = pc.n0, group = pc.n1, g = gl_WorkGroupID.x;
  if (g >= node_rows() * width / group) return;
  uint base = g * group;
  float s = 0.0;
  for (uint e = gl_LocalInvocationID.x; e < group; e += WG) s += in0[base + e] * in0[base + e];
  s = wg_sum(s);
  float scale = 1.0 / sqrt(s / float(group) + pc.f0);
  for (uint e = gl_LocalInvocationID.x; e < group; e += WG) {
    float w = pc.n2 != 0u ? uintBitsToFloat(wq[e]) : 1.0;
    outv[base + e] = in0[base + e] * scale * w;
  }
}

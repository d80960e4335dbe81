// Matrix-vector product for decode steps: out[t][n] = sum_k in0[t][k] * W[n][k]. With subgroup
// arithmetic each subgroup computes one output (its invocations stride over k four elements at a
// time: dequant4 of the weight row, vec4 dot; then subgroupAdd), n5 outputs per workgroup, no
// barriers; without, one workgroup per output and a shared-memory reduction.
// push: n0 = K, n1 = N, n2 = weight row bytes, n3 = first output of this weight chunk, n4 = outputs
// in it, n5 = outputs per workgroup. grid: (ceil(n4 / n5), rows).
#version 450
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x_id = 0) in;

float row_dot(uint n, uint x0, uint lane, uint lanes) {
  uint K = pc.n0, row = n * pc.n2, k_quads = K & ~3u;
  float acc = 0.0;
  for (uint k = lane * 4u; k < k_quads; k += lanes * 4u) {
    vec4 w = dequant4(row, k);
    vec4 x = (K & 3u) == 0u ? in0_v4[(x0 + k) >> 2u] : vec4(in0[x0 + k], in0[x0 + k + 1u], in0[x0 + k + 2u], in0[x0 + k + 3u]);
    acc += dot(w, x);
  }
  for (uint k = k_quads + lane; k < K; k += lanes) acc += dequant1(row, k) * in0[x0 + k];  // float weights' tail
  return acc;
}

void main() {
  uint t = gl_WorkGroupID.y;
  if (t >= node_rows()) return;
  uint K = pc.n0, N = pc.n1, x0 = t * K;
#if USE_SUBGROUP
  for (uint r = gl_SubgroupID; r < pc.n5; r += gl_NumSubgroups) {
    uint n = gl_WorkGroupID.x * pc.n5 + r;  // within the chunk
    if (n >= pc.n4) break;
    float acc = subgroupAdd(row_dot(n, x0, gl_SubgroupInvocationID, gl_SubgroupSize));
    if (subgroupElect()) outv[t * N + pc.n3 + n] = acc;
  }
#else
  uint n = gl_WorkGroupID.x;
  if (n >= pc.n4) return;
  float acc = wg_sum(row_dot(n, x0, gl_LocalInvocationID.x, WG));
  if (gl_LocalInvocationID.x == 0u) outv[t * N + pc.n3 + n] = acc;
#endif
}

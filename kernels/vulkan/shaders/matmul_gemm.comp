// Matrix-matrix product for prefill: out[t][n] = sum_k in0[t][k] * W[n][k]. A 32 (rows) x 64
// (outputs) tile per workgroup of 128 invocations, k in steps of 32 (one quant block). Each step
// dequantizes the 64 x 32 weight tile once into shared memory (4 dequant4 per invocation) beside the
// 32 x 32 activation tile (vec4 loads), both stored k-major as vec4s; each invocation then
// accumulates a 4 (rows) x 4 (outputs) block as outer products of one vec4 from each tile.
// push: n0 = K, n1 = N, n2 = weight row bytes, n3 = first output of this weight chunk, n4 = outputs
// in it, n6 = first row of this block of rows, n7 = rows in the block (in0 and outv are bound from
// that row on: outputs wider than one binding). grid: (ceil(n4 / 64), ceil(n7 / 32)).
#version 450
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x = 128) in;

const uint BM = 32u, BN = 64u, BK = 32u;
shared vec4 ws[BK][BN / 4u];  // ws[k][n / 4][n % 4]
shared vec4 xs[BK][BM / 4u];  // xs[k][m / 4][m % 4]

void main() {
  uint rows = node_rows() > pc.n6 ? min(node_rows() - pc.n6, pc.n7) : 0u;
  uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  if (m0 >= rows) return;
  uint K = pc.n0, N = pc.n1, rb = pc.n2, NC = pc.n4;
  uint tid = gl_LocalInvocationID.x;
  uint tn = tid % 16u, tm = tid / 16u;  // outputs n0 + 4 tn .. + 3, rows m0 + 4 tm .. + 3
  vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));  // acc[row][output]
  for (uint k0 = 0u; k0 < K; k0 += BK) {
    // Weight tile: 64 outputs x 8 quads of k = 512 quads, 4 per invocation.
    [[unroll]] for (uint r = 0u; r < 4u; ++r) {
      uint q = tid + 128u * r, wn = q / 8u, wk = (q % 8u) * 4u;
      vec4 v = vec4(0.0);
      if (n0 + wn < NC && k0 + wk < K) v = dequant4((n0 + wn) * rb, k0 + wk);
      [[unroll]] for (uint c = 0u; c < 4u; ++c) ws[wk + c][wn / 4u][wn % 4u] = k0 + wk + c < K ? v[c] : 0.0;
    }
    // Activation tile: 32 rows x 8 quads of k = 256 quads, 2 per invocation.
    [[unroll]] for (uint r = 0u; r < 2u; ++r) {
      uint q = tid + 128u * r, xm = q / 8u, xk = (q % 8u) * 4u;
      vec4 v = vec4(0.0);
      if (m0 + xm < rows && k0 + xk < K) {
        uint x = (m0 + xm) * K + k0 + xk;
        if ((K & 3u) == 0u)
          v = in0_v4[x >> 2u];
        else
          for (uint c = 0u; c < 4u && k0 + xk + c < K; ++c) v[c] = in0[x + c];
      }
      [[unroll]] for (uint c = 0u; c < 4u; ++c) xs[xk + c][xm / 4u][xm % 4u] = v[c];
    }
    barrier();
    for (uint kk = 0u; kk < BK; ++kk) {
      vec4 a = xs[kk][tm], b = ws[kk][tn];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    barrier();
  }
  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    uint m = m0 + 4u * tm + i;
    if (m < rows)
      [[unroll]] for (uint j = 0u; j < 4u; ++j) {
        uint n = n0 + 4u * tn + j;
        if (n < NC) outv[m * N + pc.n3 + n] = acc[i][j];
      }
  }
}

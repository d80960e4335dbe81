// Matrix-matrix product for prefill: a 32 (rows) x 64 (outputs) tile per workgroup of 128
// invocations, k in steps of 32 (one quant block). Each step dequantizes the 64 x 32 weight tile
// once into shared memory (4 vec4 per invocation) beside the 32 x 32 activation tile; each
// invocation then accumulates a 4 x 4 block of outputs.  out[t][n] = sum_k in0[t][k] * W[n][k].
// push: n0 = K, n1 = N, n2 = weight row bytes, n3 = first output of this weight chunk, n4 = outputs
// in it, n6 = first row of this block of rows, n7 = rows in the block (in0 and outv are bound from
// that row on: outputs wider than one binding). grid: (ceil(n4 / 64), ceil(n7 / 32)).
#version 450
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x = 128) in;

const uint BM = 32u, BN = 64u, BK = 32u;
shared float ws[BN][BK + 1u];
shared float xs[BM][BK + 1u];

void main() {
  uint rows = node_rows() > pc.n6 ? min(node_rows() - pc.n6, pc.n7) : 0u;
  uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  if (m0 >= rows) return;
  uint K = pc.n0, N = pc.n1, rb = pc.n2, NC = pc.n4;
  uint tid = gl_LocalInvocationID.x;
  uint tn = tid % 16u, tm = tid / 16u;  // outputs n0 + tn + 16 * j, rows m0 + tm + 8 * i
  float acc[4][4];
  [[unroll]] for (uint i = 0u; i < 4u; ++i)[[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] = 0.0;
  for (uint k0 = 0u; k0 < K; k0 += BK) {
    // Weight tile: 64 rows x 8 quads = 512 quads, 4 per invocation.
    [[unroll]] for (uint r = 0u; r < 4u; ++r) {
      uint q = tid + 128u * r, wn = q / 8u, wk = (q % 8u) * 4u;
      vec4 v = vec4(0.0);
      if (n0 + wn < NC && k0 + wk < K) v = dequant4((n0 + wn) * rb, k0 + wk);
      [[unroll]] for (uint c = 0u; c < 4u; ++c) ws[wn][wk + c] = k0 + wk + c < K ? v[c] : 0.0;
    }
    // Activation tile: 32 rows x 32 = 1024 values, 8 per invocation (two vec4 loads when rows are
    // a multiple of 4 long).
    if ((K & 3u) == 0u) {
      [[unroll]] for (uint r = 0u; r < 2u; ++r) {
        uint q = tid + 128u * r, xm = q / 8u, xk = (q % 8u) * 4u;
        vec4 v = (m0 + xm < rows && k0 + xk < K) ? in0_v4[((m0 + xm) * K + k0 + xk) >> 2u] : vec4(0.0);
        [[unroll]] for (uint c = 0u; c < 4u; ++c) xs[xm][xk + c] = v[c];
      }
    } else {
      [[unroll]] for (uint r = 0u; r < 8u; ++r) {
        uint q = tid + 128u * r, xm = q / 32u, xk = q % 32u;
        xs[xm][xk] = (m0 + xm < rows && k0 + xk < K) ? in0[(m0 + xm) * K + k0 + xk] : 0.0;
      }
    }
    barrier();
    [[unroll]] for (uint kk = 0u; kk < BK; ++kk) {
      float a[4], b[4];
      [[unroll]] for (uint i = 0u; i < 4u; ++i) a[i] = xs[tm + 8u * i][kk];
      [[unroll]] for (uint j = 0u; j < 4u; ++j) b[j] = ws[tn + 16u * j][kk];
      [[unroll]] for (uint i = 0u; i < 4u; ++i)[[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] += a[i] * b[j];
    }
    barrier();
  }
  [[unroll]] for (uint i = 0u; i < 4u; ++i)[[unroll]] for (uint j = 0u; j < 4u; ++j) {
    uint m = m0 + tm + 8u * i, n = n0 + tn + 16u * j;
    if (m < rows && n < NC) outv[m * N + pc.n3 + n] = acc[i][j];
  }
}

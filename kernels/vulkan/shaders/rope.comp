// Rotary embedding, one invocation per element. cos/sin of every (row, pair) come from the step
// buffer, computed by the host in double precision exactly as the CPU reference does.
// VARIANT 0: adjacent pairs (llama), 1: halves (neox). push: n0 = width, n1 = head_dim,
// n2 = n_rot, n3 = table offset (pairs of floats, [row][n_rot / 2]). grid: (ceil(width / WG), rows).
#version 450
#include "common.glsl"
layout(local_size_x_id = 0) in;

void main() {
  uint t = gl_WorkGroupID.y, e = gl_GlobalInvocationID.x;
  uint width = pc.n0, hd = pc.n1, n_rot = pc.n2, half_rot = n_rot / 2u;
  if (t >= node_rows() || e >= width) return;
  uint d = e % hd, x = t * width + e;
  if (d >= n_rot) {
    outv[x] = in0[x];
    return;
  }
  uint i, lo;
  bool second;
  if (VARIANT == 1u) {
    second = d >= half_rot;
    i = second ? d - half_rot : d;
    lo = second ? x - half_rot : x;
  } else {
    second = (d & 1u) != 0u;
    i = d / 2u;
    lo = second ? x - 1u : x;
  }
  uint hi = VARIANT == 1u ? lo + half_rot : lo + 1u;
  uint tab = pc.n3 + 2u * (t * half_rot + i);
  float cs = uintBitsToFloat(step[tab]), sn = uintBitsToFloat(step[tab + 1u]);
  float x0 = in0[lo], x1 = in0[hi];
  precise float a = x0 * cs;
  precise float b = x1 * sn;
  precise float c = x0 * sn;
  precise float f = x1 * cs;
  outv[x] = second ? c + f : a - b;
}

// Embedding lookup: out[t][e] = dequant(table[token[t]])[e] * scale.
// push: n0 = width, n1 = row bytes, n2 = token offset in the step buffer, n3 = first token of
// this weight chunk, n4 = tokens in it (one dispatch per chunk); f0 = scale.
// grid: (ceil(width / 4 / WG), rows).
#version 450
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x_id = 0) in;

void main() {
  uint t = gl_WorkGroupID.y;
  if (t >= node_rows()) return;
  uint width = pc.n0, e4 = gl_GlobalInvocationID.x * 4u;
  if (e4 >= width) return;
  uint token = step[pc.n2 + t];
  if (token < pc.n3 || token - pc.n3 >= pc.n4) return;  // in another chunk's dispatch
  uint row = (token - pc.n3) * pc.n1;
  vec4 v = dequant4(row, e4);
  for (uint i = 0u; i < 4u && e4 + i < width; ++i) outv[t * width + e4 + i] = pc.f0 == 1.0 ? v[i] : v[i] * pc.f0;
}

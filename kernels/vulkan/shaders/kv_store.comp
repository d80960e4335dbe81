// Appends this step's keys and values to the layer's cache at slot (pos0 + t) % capacity (a ring
// buffer for sliding-window layers). Runs after the attention dispatch that read the old entries.
// push: n0 = kv width, n4 = capacity. grid: (ceil(kv width / WG), rows).
#version 450
#include "common.glsl"
layout(local_size_x_id = 0) in;

void main() {
  uint t = gl_WorkGroupID.y, e = gl_GlobalInvocationID.x, kvw = pc.n0;
  if (t >= node_rows() || e >= kvw) return;
  if (t + pc.n4 < node_rows()) return;  // a later row of this step takes the same ring slot
  uint slot = (pos0() + t) % pc.n4;
  kcache[slot * kvw + e] = in1[t * kvw + e];
  vcache[slot * kvw + e] = in2[t * kvw + e];
}

// Causal attention of one query head of one row per workgroup (GQA: query head h reads KV head
// h / (n_head / n_kv_head)), over the cached positions (< pos0, ring slot p % capacity) and this
// step's new keys and values (>= pos0). Keys are taken WG at a time: each invocation scores one
// key, the workgroup updates a running max and sum (online softmax), and each invocation
// accumulates up to 4 output dimensions. Sliding window: key p is visible iff pos - p < window.
// push: n0 = n_head, n1 = n_kv_head, n2 = head_dim, n3 = window, n4 = capacity; f0 = scale.
// grid: (n_head, rows). head_dim <= 4 * WG and <= 256.
#version 450
#include "common.glsl"
layout(local_size_x_id = 0) in;

shared float qs[256];
shared float ps[WG];

void main() {
  uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
  if (t >= node_rows()) return;
  uint n_head = pc.n0, n_kv = pc.n1, hd = pc.n2, window = pc.n3, cap = pc.n4;
  uint kvh = h / (n_head / n_kv), qw = n_head * hd, kvw = n_kv * hd;
  uint p0 = pos0(), pos = p0 + t;
  uint lo = window > 0u && pos + 1u > window ? pos + 1u - window : 0u;
  uint tid = gl_LocalInvocationID.x;
  for (uint e = tid; e < hd; e += WG) qs[e] = in0[t * qw + h * hd + e];
  barrier();
  const float neg_inf = uintBitsToFloat(0xFF800000u);
  float m = neg_inf, l = 0.0;
  float o[4] = float[4](0.0, 0.0, 0.0, 0.0);
  for (uint base = lo; base <= pos; base += WG) {
    uint p = base + tid;
    float s = neg_inf;
    if (p <= pos) {
      float dot_qk = 0.0;
      if (p < p0) {
        uint kb = (p % cap) * kvw + kvh * hd;
        for (uint e = 0u; e < hd; ++e) dot_qk += qs[e] * kcache[kb + e];
      } else {
        uint kb = (p - p0) * kvw + kvh * hd;
        for (uint e = 0u; e < hd; ++e) dot_qk += qs[e] * in1[kb + e];
      }
      s = dot_qk * pc.f0;
    }
    float m_new = max(m, wg_max(s));
    float alpha = exp(m - m_new);
    float pe = p <= pos ? exp(s - m_new) : 0.0;
    ps[tid] = pe;
    l = l * alpha + wg_sum(pe);
    barrier();
    uint count = min(WG, pos + 1u - base);
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
      uint e = tid + i * WG;
      if (e < hd) {
        float acc = o[i] * alpha;
        for (uint j = 0u; j < count; ++j) {
          uint pj = base + j;
          float v = pj < p0 ? vcache[(pj % cap) * kvw + kvh * hd + e] : in2[(pj - p0) * kvw + kvh * hd + e];
          acc += ps[j] * v;
        }
        o[i] = acc;
      }
    }
    m = m_new;
    barrier();
  }
  for (uint i = 0u; i < 4u; ++i) {
    uint e = tid + i * WG;
    if (e < hd) outv[t * qw + h * hd + e] = o[i] / l;
  }
}

// The engine's ops as OpenCL C kernels (appended to dequant.cl in one program). Activations are
// f32 rows; weights stay in their GGUF blocks and are dequantized in registers or local memory.
// Build options set TLM_TILE (GEMM tile edge, from the device's maximum work-group size) and,
// where the device has cl_khr_subgroups or cl_intel_subgroups, TLM_SUBGROUPS.
#ifdef TLM_SUBGROUPS
#ifdef TLM_INTEL_SUBGROUPS
#pragma OPENCL EXTENSION cl_intel_subgroups : enable
#else
#pragma OPENCL EXTENSION cl_khr_subgroups : enable
#endif
#endif

#ifndef TLM_TILE
#define TLM_TILE 16
#endif
// GEMM K-step: 4 chunks of 32, dequantized by 4 rows of the work-group.
#define TLM_TK 128

// Sum / max over dimension 0 of a work-group, per row of work-items (get_local_id(1)), broadcast
// to that row. scratch holds one float per work-item; dimension 0 must be a power of two. With
// subgroups (and one row per group, whose size is a multiple of the subgroup size) the subgroups
// reduce in registers and only their partial results go through local memory.
#define TLM_DEFINE_ROW_REDUCTION(NAME, OP, SUBGROUP_OP, IDENTITY)                  \
  inline float NAME(float v, local float* scratch) {                              \
    const int lid = get_local_id(0), n = get_local_size(0);                       \
    TLM_SUBGROUP_REDUCTION(SUBGROUP_OP, OP, IDENTITY)                             \
    local float* sc = scratch + get_local_id(1) * n;                              \
    sc[lid] = v;                                                                  \
    barrier(CLK_LOCAL_MEM_FENCE);                                                 \
    for (int s = n / 2; s > 0; s >>= 1) {                                         \
      if (lid < s) sc[lid] = OP(sc[lid], sc[lid + s]);                            \
      barrier(CLK_LOCAL_MEM_FENCE);                                               \
    }                                                                             \
    const float r = sc[0];                                                        \
    barrier(CLK_LOCAL_MEM_FENCE);                                                 \
    return r;                                                                     \
  }

#ifdef TLM_SUBGROUPS
#define TLM_SUBGROUP_REDUCTION(SUBGROUP_OP, OP, IDENTITY)                         \
  if (get_local_size(1) == 1 && n % get_max_sub_group_size() == 0) {              \
    v = SUBGROUP_OP(v);                                                           \
    if (get_sub_group_local_id() == 0) scratch[get_sub_group_id()] = v;           \
    barrier(CLK_LOCAL_MEM_FENCE);                                                 \
    float r = IDENTITY;                                                           \
    for (uint i = 0; i < get_num_sub_groups(); ++i) r = OP(r, scratch[i]);        \
    barrier(CLK_LOCAL_MEM_FENCE);                                                 \
    return r;                                                                     \
  }
#else
#define TLM_SUBGROUP_REDUCTION(SUBGROUP_OP, OP, IDENTITY)
#endif

inline float tlm_add(float a, float b) { return a + b; }
TLM_DEFINE_ROW_REDUCTION(wg_sum, tlm_add, sub_group_reduce_add, 0.f)
TLM_DEFINE_ROW_REDUCTION(wg_max, fmax, sub_group_reduce_max, -INFINITY)

inline float dot32(const float* w, global const float* x) {
  float4 acc = (float4)(0.f);
  for (int j = 0; j < 8; ++j) acc += vload4(j, w) * vload4(j, x);
  return (acc.x + acc.y) + (acc.z + acc.w);
}

// Per weight type T: gemv_T (one token: a work-group holds get_local_size(1) output rows, each
// row's work-items split its 32-element chunks and reduce in subgroups or local memory; rows past
// n repeat the last row and do not store), gemm_T (tokens x outputs tiles, weights
// dequantized into local memory TLM_TK elements at a time) and embed_T (row lookup).
#define TLM_DEFINE_TYPE_KERNELS(T)                                                                     \
  kernel void gemv_##T(global const uchar* w, ulong row_bytes, global const float* x, global float* y, \
                       int k, int n, local float* scratch) {                                           \
    const int o = min((int)get_global_id(1), n - 1), lid = get_local_id(0), wg = get_local_size(0);   \
    global const uchar* row = w + (ulong)o * row_bytes;                                                \
    const int chunks = (k + 31) / 32;                                                                  \
    float acc = 0.f;                                                                                   \
    for (int c = lid; c < chunks; c += wg) {                                                           \
      float d[32];                                                                                     \
      dq32_##T(row, c, k, d);                                                                          \
      if (c * 32 + 32 <= k) {                                                                          \
        acc += dot32(d, x + c * 32);                                                                   \
      } else {                                                                                         \
        for (int j = 0; c * 32 + j < k; ++j) acc += d[j] * x[c * 32 + j];                              \
      }                                                                                                \
    }                                                                                                  \
    acc = wg_sum(acc, scratch);                                                                        \
    if (lid == 0 && get_global_id(1) < n) y[o] = acc;                                                  \
  }                                                                                                    \
  kernel void gemm_##T(global const uchar* w, ulong row_bytes, global const float* x, global float* y, \
                       int k, int n, int rows) {                                                       \
    local float wt[TLM_TILE][TLM_TK + 1];                                                              \
    local float xt[TLM_TILE][TLM_TK + 1];                                                              \
    const int lx = get_local_id(0), ly = get_local_id(1);                                              \
    const int o = get_group_id(0) * TLM_TILE + lx, t = get_group_id(1) * TLM_TILE + ly;                \
    const int x_row = get_group_id(1) * TLM_TILE + ly;                                                 \
    const int chunks = (k + 31) / 32;                                                                  \
    float acc = 0.f;                                                                                   \
    for (int c0 = 0; c0 < chunks; c0 += TLM_TK / 32) {                                                 \
      if (ly < TLM_TK / 32) {                                                                          \
        float d[32];                                                                                   \
        const int c = c0 + ly;                                                                         \
        if (o < n && c < chunks) {                                                                     \
          dq32_##T(w + (ulong)o * row_bytes, c, k, d);                                                 \
        } else {                                                                                       \
          for (int j = 0; j < 32; ++j) d[j] = 0.f;                                                     \
        }                                                                                              \
        for (int j = 0; j < 32; ++j) wt[lx][ly * 32 + j] = d[j];                                       \
      }                                                                                                \
      for (int j = lx; j < TLM_TK; j += TLM_TILE) {                                                    \
        const int e = c0 * 32 + j;                                                                     \
        xt[ly][j] = (x_row < rows && e < k) ? x[(ulong)x_row * k + e] : 0.f;                           \
      }                                                                                                \
      barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
      float4 a4 = (float4)(0.f);                                                                       \
      for (int j = 0; j < TLM_TK; j += 4)                                                              \
        a4 += (float4)(xt[ly][j], xt[ly][j + 1], xt[ly][j + 2], xt[ly][j + 3]) *                       \
              (float4)(wt[lx][j], wt[lx][j + 1], wt[lx][j + 2], wt[lx][j + 3]);                        \
      acc += (a4.x + a4.y) + (a4.z + a4.w);                                                            \
      barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
    }                                                                                                  \
    if (o < n && t < rows) y[(ulong)t * n + o] = acc;                                                  \
  }                                                                                                    \
  kernel void embed_##T(global const uchar* w, ulong row_bytes, global const int* tokens,             \
                        global float* out, int width, float scale) {                                   \
    const int c = get_global_id(0), t = get_global_id(1);                                              \
    if (c * 32 >= width) return;                                                                       \
    float d[32];                                                                                       \
    dq32_##T(w + (ulong)tokens[t] * row_bytes, c, width, d);                                           \
    global float* dst = out + (ulong)t * width + c * 32;                                               \
    for (int j = 0; j < 32 && c * 32 + j < width; ++j) dst[j] = d[j] * scale;                          \
  }

TLM_DEFINE_TYPE_KERNELS(f32)
TLM_DEFINE_TYPE_KERNELS(f16)
TLM_DEFINE_TYPE_KERNELS(bf16)
TLM_DEFINE_TYPE_KERNELS(q4_0)
TLM_DEFINE_TYPE_KERNELS(q4_1)
TLM_DEFINE_TYPE_KERNELS(q5_0)
TLM_DEFINE_TYPE_KERNELS(q5_1)
TLM_DEFINE_TYPE_KERNELS(q8_0)
TLM_DEFINE_TYPE_KERNELS(q2_k)
TLM_DEFINE_TYPE_KERNELS(q3_k)
TLM_DEFINE_TYPE_KERNELS(q4_k)
TLM_DEFINE_TYPE_KERNELS(q5_k)
TLM_DEFINE_TYPE_KERNELS(q6_k)

// RMS norm: a work-group per group of `group` elements; weight is used when has_weight.
kernel void rms_norm(global const float* x, global const float* weight, global float* out, int group, float eps,
                     int has_weight, local float* scratch) {
  const int g = get_group_id(0), lid = get_local_id(0), wg = get_local_size(0);
  global const float* xi = x + (ulong)g * group;
  global float* yi = out + (ulong)g * group;
  float sum = 0.f;
  for (int e = lid; e < group; e += wg) sum += xi[e] * xi[e];
  sum = wg_sum(sum, scratch);
  const float scale = 1.0f / sqrt(sum / (float)group + eps);
  for (int e = lid; e < group; e += wg) yi[e] = xi[e] * scale * (has_weight ? weight[e] : 1.f);
}

// RoPE: one work-item per element (e, head, token); cos/sin of position pos0 + t and pair i come
// from the host's table (computed in double as the CPU reference does), cs_sn[t][i] = (cos, sin).
kernel void rope(global const float* x, global float* out, global const float2* cs_sn, int width, int head_dim,
                 int n_rot, int neox) {
  const int e = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
  if (e >= head_dim) return;
  const ulong base = (ulong)t * width + (ulong)h * head_dim;
  global const float* v = x + base;
  const int half_rot = n_rot / 2;
  float r = v[e];
  if (e < 2 * half_rot) {
    int i, i0, i1;
    if (neox) {
      i = e % half_rot;
      i0 = i;
      i1 = i + half_rot;
    } else {
      i = e / 2;
      i0 = 2 * i;
      i1 = 2 * i + 1;
    }
    const float2 cs = cs_sn[(ulong)t * half_rot + i];
    const float x0 = v[i0], x1 = v[i1];
    r = e == i0 ? x0 * cs.x - x1 * cs.y : x0 * cs.y + x1 * cs.x;
  }
  out[base + e] = r;
}

// Causal attention, a work-group per (head, token): scores over visible keys (the KV cache for
// positions before pos0, this step's k/v after) into a global scratch row, softmax with
// work-group max/sum, then the weighted sum of values per head dimension.
kernel void attention(global const float* q, global const float* k_new, global const float* v_new,
                      global const float* k_cache, global const float* v_cache, global float* out,
                      global float* scores, ulong scores_stride, int pos0, int cap, int window, int n_head,
                      int n_kv_head, int head_dim, float scale, local float* scratch, local float* qv) {
  const int h = get_group_id(0), t = get_group_id(1), lid = get_local_id(0), wg = get_local_size(0);
  const int group = n_head / n_kv_head, kvh = h / group;
  const int kv_width = n_kv_head * head_dim, q_width = n_head * head_dim;
  const int pos = pos0 + t;
  const int lo = window > 0 ? max(0, pos - window + 1) : 0;
  global float* sc = scores + ((ulong)t * n_head + h) * scores_stride;
  for (int e = lid; e < head_dim; e += wg) qv[e] = q[(ulong)t * q_width + h * head_dim + e];
  barrier(CLK_LOCAL_MEM_FENCE);
  float m = -INFINITY;
  for (int p = lo + lid; p <= pos; p += wg) {
    global const float* kr = p < pos0 ? k_cache + (ulong)(p % cap) * kv_width + kvh * head_dim
                                      : k_new + (ulong)(p - pos0) * kv_width + kvh * head_dim;
    float dot = 0.f;
    for (int e = 0; e < head_dim; ++e) dot += qv[e] * kr[e];
    const float s = dot * scale;
    sc[p - lo] = s;
    m = fmax(m, s);
  }
  m = wg_max(m, scratch);
  float sum = 0.f;
  for (int p = lo + lid; p <= pos; p += wg) {
    const float ex = exp(sc[p - lo] - m);
    sc[p - lo] = ex;
    sum += ex;
  }
  sum = wg_sum(sum, scratch);
  barrier(CLK_GLOBAL_MEM_FENCE);
  const float inv = 1.0f / sum;
  for (int e = lid; e < head_dim; e += wg) {
    float o = 0.f;
    for (int p = lo; p <= pos; ++p) {
      global const float* vr = p < pos0 ? v_cache + (ulong)(p % cap) * kv_width + kvh * head_dim
                                        : v_new + (ulong)(p - pos0) * kv_width + kvh * head_dim;
      o += sc[p - lo] * inv * vr[e];
    }
    out[(ulong)t * q_width + h * head_dim + e] = o;
  }
}

// Appends this step's keys and values to a layer's cache (a ring of `cap` slots). Only the last
// `cap` tokens are written, so no two work-items share a slot.
kernel void kv_append(global const float* k_new, global const float* v_new, global float* k_cache,
                      global float* v_cache, int kv_width, int rows, int pos0, int cap) {
  const int e = get_global_id(0), t = get_global_id(1);
  if (e >= kv_width || t < rows - cap) return;
  const ulong slot = (ulong)((pos0 + t) % cap);
  k_cache[slot * kv_width + e] = k_new[(ulong)t * kv_width + e];
  v_cache[slot * kv_width + e] = v_new[(ulong)t * kv_width + e];
}

kernel void add(global const float* a, global const float* b, global float* out, int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = a[i] + b[i];
}

kernel void gelu_tanh_gate(global const float* a, global const float* b, global float* out, int n) {
  const int i = get_global_id(0);
  if (i >= n) return;
  const float x = a[i];
  const float g = 0.5f * x * (1.f + tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  out[i] = g * b[i];
}

kernel void silu_gate(global const float* a, global const float* b, global float* out, int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = a[i] / (1.f + exp(-a[i])) * b[i];
}

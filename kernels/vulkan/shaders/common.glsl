// Shared declarations of every tlmbench compute shader: one descriptor set layout for all
// pipelines (step values, weight bytes, three inputs, one output, the layer's K and V cache), one
// push-constant block of per-dispatch shape values, and the workgroup reductions.
#extension GL_EXT_control_flow_attributes : enable
#if USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#endif

// Workgroup size, chosen per device by the host (a multiple of the subgroup size, at most
// maxComputeWorkGroupInvocations).
layout(constant_id = 0) const uint WG = 64;
// Weight type (the GGUF type id) for the shaders that read weights.
layout(constant_id = 1) const uint WTYPE = 0;
// Op variant (elementwise op; normal or neox rope).
layout(constant_id = 2) const uint VARIANT = 0;

// step[0] = tokens in this step, step[1] = position of the first; then token ids and the RoPE
// cos/sin tables at the offsets the push constants name. Written by the host before each submit.
layout(std430, binding = 0) readonly buffer StepBuf { uint step[]; };
layout(std430, binding = 1) readonly buffer WeightBuf { uint wq[]; };
layout(std430, binding = 2) readonly buffer In0Buf { float in0[]; };
// The same first input as vec4s, for 16-byte loads where rows are a multiple of 4 long.
layout(std430, binding = 2) readonly buffer In0Vec4Buf { vec4 in0_v4[]; };
layout(std430, binding = 3) readonly buffer In1Buf { float in1[]; };
layout(std430, binding = 4) readonly buffer In2Buf { float in2[]; };
layout(std430, binding = 5) writeonly buffer OutBuf { float outv[]; };
layout(std430, binding = 6) buffer KCacheBuf { float kcache[]; };
layout(std430, binding = 7) buffer VCacheBuf { float vcache[]; };

// Per dispatch, recorded once with the command buffer. rows_one: the node has one row (after
// TakeLastRow) rather than the step's n_tokens.
layout(push_constant) uniform PushConstants {
  uint rows_one;
  uint n0, n1, n2, n3, n4, n5, n6, n7, n8;
  float f0, f1;
} pc;

uint n_tokens() { return step[0]; }
uint pos0() { return step[1]; }
uint node_rows() { return pc.rows_one != 0u ? 1u : step[0]; }

shared float red_scratch[WG];

// Sum over the workgroup; every invocation gets the result.
float wg_sum(float v) {
#if USE_SUBGROUP
  v = subgroupAdd(v);
  if (gl_NumSubgroups == 1u) return v;
  barrier();
  if (subgroupElect()) red_scratch[gl_SubgroupID] = v;
  barrier();
  float s = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red_scratch[i];
  barrier();
  return s;
#else
  barrier();
  red_scratch[gl_LocalInvocationID.x] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (gl_LocalInvocationID.x < s) red_scratch[gl_LocalInvocationID.x] += red_scratch[gl_LocalInvocationID.x + s];
    barrier();
  }
  float r = red_scratch[0];
  barrier();
  return r;
#endif
}

float wg_max(float v) {
#if USE_SUBGROUP
  v = subgroupMax(v);
  if (gl_NumSubgroups == 1u) return v;
  barrier();
  if (subgroupElect()) red_scratch[gl_SubgroupID] = v;
  barrier();
  float s = red_scratch[0];
  for (uint i = 1u; i < gl_NumSubgroups; ++i) s = max(s, red_scratch[i]);
  barrier();
  return s;
#else
  barrier();
  red_scratch[gl_LocalInvocationID.x] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (gl_LocalInvocationID.x < s)
      red_scratch[gl_LocalInvocationID.x] = max(red_scratch[gl_LocalInvocationID.x], red_scratch[gl_LocalInvocationID.x + s]);
    barrier();
  }
  float r = red_scratch[0];
  barrier();
  return r;
#endif
}

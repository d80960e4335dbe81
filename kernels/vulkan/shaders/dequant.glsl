// Dequantization of GGUF weight blocks read as they are stored (the weight buffer is the file's
// bytes): blocks are not 4-byte aligned (18, 22, 34, 210 bytes...), so bytes are extracted from
// 32-bit words. dequant4(row_byte_offset, k) returns elements k..k+3 of a row (k % 4 == 0; the
// four always share one scale). Arithmetic follows kernels/cpu/ref/dequantize.cc, with `precise`
// so that no multiply-add is fused and the values are bit-identical to the CPU reference.

// Type ids (GGUF numbering, engine/tensor/dtype.h).
const uint T_F32 = 0u, T_F16 = 1u, T_Q4_0 = 2u, T_Q4_1 = 3u, T_Q5_0 = 6u, T_Q5_1 = 7u, T_Q8_0 = 8u,
           T_Q4_K = 12u, T_Q5_K = 13u, T_Q6_K = 14u, T_BF16 = 30u;

// Four bytes starting at byte offset `b` (any alignment), little endian.
uint load_u32(uint b) {
  uint w = b >> 2u, s = (b & 3u) * 8u;
  uint lo = wq[w];
  return s == 0u ? lo : (lo >> s) | (wq[w + 1u] << (32u - s));
}
uint load_u8(uint b) { return (wq[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFu; }
uint load_u16(uint b) { return b % 4u == 3u ? load_u32(b) & 0xFFFFu : (wq[b >> 2u] >> ((b & 3u) * 8u)) & 0xFFFFu; }
float load_f16(uint b) { return unpackHalf2x16(load_u16(b)).x; }
uvec4 bytes4(uint v) { return uvec4(v & 0xFFu, (v >> 8u) & 0xFFu, (v >> 16u) & 0xFFu, v >> 24u); }

// Scale and min of group g (0..7) of a Q4_K / Q5_K block whose 12 scale bytes start at `sb`.
void scale_min_k4(uint sb, uint g, out float sc, out float m) {
  if (g < 4u) {
    sc = float(load_u8(sb + g) & 63u);
    m = float(load_u8(sb + g + 4u) & 63u);
  } else {
    uint a = load_u8(sb + g + 4u), lo = load_u8(sb + g - 4u), hi = load_u8(sb + g);
    sc = float((a & 0xFu) | ((lo >> 6u) << 4u));
    m = float((a >> 4u) | ((hi >> 6u) << 4u));
  }
}

// Bytes per row of `k` elements, for the host's row offsets (documentation only: the host
// passes row_bytes in push constants).
vec4 dequant4(uint row, uint k) {
  if (WTYPE == T_F32) {
    uint b = row + 4u * k;
    return vec4(uintBitsToFloat(load_u32(b)), uintBitsToFloat(load_u32(b + 4u)), uintBitsToFloat(load_u32(b + 8u)),
                uintBitsToFloat(load_u32(b + 12u)));
  } else if (WTYPE == T_F16) {
    uint b = row + 2u * k;
    return vec4(unpackHalf2x16(load_u32(b)), unpackHalf2x16(load_u32(b + 4u)));
  } else if (WTYPE == T_BF16) {
    uint b = row + 2u * k;
    uint x = load_u32(b), y = load_u32(b + 4u);
    return vec4(uintBitsToFloat(x << 16u), uintBitsToFloat(x & 0xFFFF0000u), uintBitsToFloat(y << 16u),
                uintBitsToFloat(y & 0xFFFF0000u));
  } else if (WTYPE == T_Q4_0) {
    uint b = row + (k / 32u) * 18u, j = k % 32u;
    float d = load_f16(b);
    uvec4 q = bytes4(load_u32(b + 2u + (j & 15u)));
    q = j < 16u ? (q & 0xFu) : (q >> 4u);
    precise vec4 v = vec4(ivec4(q) - 8) * d;
    return v;
  } else if (WTYPE == T_Q4_1) {
    uint b = row + (k / 32u) * 20u, j = k % 32u;
    float d = load_f16(b), m = load_f16(b + 2u);
    uvec4 q = bytes4(load_u32(b + 4u + (j & 15u)));
    q = j < 16u ? (q & 0xFu) : (q >> 4u);
    precise vec4 v = vec4(q) * d + m;
    return v;
  } else if (WTYPE == T_Q5_0 || WTYPE == T_Q5_1) {
    uint bs = WTYPE == T_Q5_0 ? 22u : 24u, hoff = WTYPE == T_Q5_0 ? 2u : 4u;
    uint b = row + (k / 32u) * bs, j = k % 32u;
    float d = load_f16(b), m = WTYPE == T_Q5_1 ? load_f16(b + 2u) : 0.0;
    uint qh = load_u32(b + hoff);
    uvec4 q = bytes4(load_u32(b + hoff + 4u + (j & 15u)));
    q = j < 16u ? (q & 0xFu) : (q >> 4u);
    q |= ((uvec4(qh) >> (uvec4(j) + uvec4(0u, 1u, 2u, 3u))) & 1u) << 4u;
    if (WTYPE == T_Q5_0) {
      precise vec4 v = vec4(ivec4(q) - 16) * d;
      return v;
    }
    precise vec4 v = vec4(q) * d + m;
    return v;
  } else if (WTYPE == T_Q8_0) {
    uint b = row + (k / 32u) * 34u, j = k % 32u;
    float d = load_f16(b);
    ivec4 q = (ivec4(bytes4(load_u32(b + 2u + j))) << 24) >> 24;
    precise vec4 v = vec4(q) * d;
    return v;
  } else if (WTYPE == T_Q4_K || WTYPE == T_Q5_K) {
    uint bs = WTYPE == T_Q4_K ? 144u : 176u;
    uint b = row + (k / 256u) * bs, j = k % 256u, g = j / 32u, l = j % 32u;
    float d = load_f16(b), dmin = load_f16(b + 2u), sc, mn;
    scale_min_k4(b + 4u, g, sc, mn);
    uint qs = WTYPE == T_Q4_K ? 16u : 48u;
    uvec4 q = (bytes4(load_u32(b + qs + 32u * (g / 2u) + l)) >> (4u * (g % 2u))) & 0xFu;
    if (WTYPE == T_Q5_K) q |= ((bytes4(load_u32(b + 16u + l)) >> g) & 1u) << 4u;
    precise float dl = d * sc;
    precise float ml = dmin * mn;
    precise vec4 v = dl * vec4(q) - ml;
    return v;
  } else if (WTYPE == T_Q6_K) {
    uint b = row + (k / 256u) * 210u, j = k % 256u, chunk = j / 128u, r = j % 128u, quarter = r / 32u, l = r % 32u;
    float d = load_f16(b + 208u);
    uint ql = load_u32(b + 64u * chunk + l + ((quarter & 1u) != 0u ? 32u : 0u));
    uint qh = load_u32(b + 128u + 32u * chunk + l);
    uvec4 lo = quarter < 2u ? (bytes4(ql) & 0xFu) : (bytes4(ql) >> 4u);
    uvec4 hi = (bytes4(qh) >> (2u * quarter)) & 3u;
    ivec4 q = ivec4(lo | (hi << 4u)) - 32;
    int sc = (int(load_u8(b + 192u + 8u * chunk + l / 16u + 2u * quarter)) << 24) >> 24;
    precise float ds = d * float(sc);
    precise vec4 v = ds * vec4(q);
    return v;
  }
  return vec4(0.0);
}

float dequant1(uint row, uint k) { return dequant4(row, k & ~3u)[k & 3u]; }

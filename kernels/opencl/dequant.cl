// Dequantization of GGUF weight blocks, 32 elements ("a chunk") at a time: dq32_<type>(row, c,
// k, out) writes elements 32c..32c+31 of a weight row into out. The float order follows
// kernels/cpu/ref/dequantize.cc (itself ggml's), so with FP_CONTRACT off the values are
// bit-identical to the CPU reference. Float types take k and zero-fill past the row's end;
// quantized rows are whole blocks (k a multiple of 32, or 256 for the K-quants).
#pragma OPENCL FP_CONTRACT OFF

typedef global const uchar* wptr;

inline float ld_half(wptr p) { return vload_half(0, (global const half*)p); }

inline void dq32_f32(wptr row, int c, int k, float* out) {
  global const float* r = (global const float*)row + c * 32;
  if (c * 32 + 32 <= k) {
    for (int j = 0; j < 8; ++j) vstore4(vload4(j, r), j, out);
  } else {
    for (int j = 0; j < 32; ++j) out[j] = c * 32 + j < k ? r[j] : 0.f;
  }
}

inline void dq32_f16(wptr row, int c, int k, float* out) {
  global const half* r = (global const half*)row + c * 32;
  if (c * 32 + 32 <= k) {
    for (int j = 0; j < 8; ++j) vstore4(vload_half4(j, r), j, out);
  } else {
    for (int j = 0; j < 32; ++j) out[j] = c * 32 + j < k ? vload_half(j, r) : 0.f;
  }
}

inline void dq32_bf16(wptr row, int c, int k, float* out) {
  global const ushort* r = (global const ushort*)row + c * 32;
  for (int j = 0; j < 32; ++j) out[j] = c * 32 + j < k ? as_float((uint)r[j] << 16) : 0.f;
}

// Q4_0: 18-byte blocks {half d; uchar qs[16]}.
inline void dq32_q4_0(wptr row, int c, int k, float* out) {
  wptr b = row + c * 18;
  const float d = ld_half(b);
  const uchar16 q = vload16(0, b + 2);
  const uchar* qs = (const uchar*)&q;
  for (int j = 0; j < 16; ++j) {
    out[j] = (float)((qs[j] & 0xF) - 8) * d;
    out[j + 16] = (float)((qs[j] >> 4) - 8) * d;
  }
}

// Q4_1: 20-byte blocks {half d; half m; uchar qs[16]}.
inline void dq32_q4_1(wptr row, int c, int k, float* out) {
  wptr b = row + c * 20;
  const float d = ld_half(b), m = ld_half(b + 2);
  const uchar16 q = vload16(0, b + 4);
  const uchar* qs = (const uchar*)&q;
  for (int j = 0; j < 16; ++j) {
    out[j] = (float)(qs[j] & 0xF) * d + m;
    out[j + 16] = (float)(qs[j] >> 4) * d + m;
  }
}

inline uint ld_qh(wptr p) { return (uint)p[0] | ((uint)p[1] << 8) | ((uint)p[2] << 16) | ((uint)p[3] << 24); }

// Q5_0: 22-byte blocks {half d; uchar qh[4]; uchar qs[16]}.
inline void dq32_q5_0(wptr row, int c, int k, float* out) {
  wptr b = row + c * 22;
  const float d = ld_half(b);
  const uint qh = ld_qh(b + 2);
  const uchar16 q = vload16(0, b + 6);
  const uchar* qs = (const uchar*)&q;
  for (int j = 0; j < 16; ++j) {
    const int q0 = (qs[j] & 0xF) | (int)(((qh >> j) & 1u) << 4);
    const int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
    out[j] = (float)(q0 - 16) * d;
    out[j + 16] = (float)(q1 - 16) * d;
  }
}

// Q5_1: 24-byte blocks {half d; half m; uchar qh[4]; uchar qs[16]}.
inline void dq32_q5_1(wptr row, int c, int k, float* out) {
  wptr b = row + c * 24;
  const float d = ld_half(b), m = ld_half(b + 2);
  const uint qh = ld_qh(b + 4);
  const uchar16 q = vload16(0, b + 8);
  const uchar* qs = (const uchar*)&q;
  for (int j = 0; j < 16; ++j) {
    const int q0 = (qs[j] & 0xF) | (int)(((qh >> j) & 1u) << 4);
    const int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
    out[j] = (float)q0 * d + m;
    out[j + 16] = (float)q1 * d + m;
  }
}

// Q8_0: 34-byte blocks {half d; char qs[32]}.
inline void dq32_q8_0(wptr row, int c, int k, float* out) {
  wptr b = row + c * 34;
  const float d = ld_half(b);
  global const char* qs = (global const char*)(b + 2);
  for (int j = 0; j < 2; ++j) {
    const char16 q = vload16(j, qs);
    const float16 f = convert_float16(q) * d;
    vstore16(f, j, out);
  }
}

// Q2_K: 84-byte superblocks {uchar scales[16]; uchar qs[64]; half d; half dmin}; chunk = run.
inline void dq32_q2_k(wptr row, int c, int k, float* out) {
  wptr b = row + (c / 8) * 84;
  const int run = c % 8;
  const float d = ld_half(b + 80), dmin = ld_half(b + 82);
  wptr q = b + 16 + 32 * (run / 4);
  const int shift = 2 * (run % 4);
  for (int half_ = 0; half_ < 2; ++half_) {
    const uchar sc = b[2 * run + half_];
    const float dl = d * (float)(sc & 0xF);
    const float ml = dmin * (float)(sc >> 4);
    for (int l = 0; l < 16; ++l) out[16 * half_ + l] = dl * (float)((q[16 * half_ + l] >> shift) & 3) - ml;
  }
}

// Q3_K: 110-byte superblocks {uchar hmask[32]; uchar qs[64]; uchar scales[12]; half d}.
inline int q3k_scale(wptr scales, int g) {
  const int low = g < 8 ? (scales[g] & 0xF) : (scales[g - 8] >> 4);
  const int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
  return (low | (high << 4)) - 32;
}
inline void dq32_q3_k(wptr row, int c, int k, float* out) {
  wptr b = row + (c / 8) * 110;
  const int run = c % 8;
  const float d = ld_half(b + 108);
  wptr hmask = b, q = b + 32 + 32 * (run / 4);
  const int shift = 2 * (run % 4);
  const uchar high_bit = (uchar)(1u << run);
  for (int half_ = 0; half_ < 2; ++half_) {
    const float dl = d * (float)q3k_scale(b + 96, 2 * run + half_);
    for (int l = 16 * half_; l < 16 * half_ + 16; ++l) {
      const int value = ((q[l] >> shift) & 3) - ((hmask[l] & high_bit) ? 0 : 4);
      out[l] = dl * (float)value;
    }
  }
}

// Scale and min of group g of a Q4_K / Q5_K superblock (6 bits each, packed in 12 bytes).
inline void k4_scale_min(wptr s, int g, float* sc, float* m) {
  if (g < 4) {
    *sc = (float)(s[g] & 63);
    *m = (float)(s[g + 4] & 63);
  } else {
    *sc = (float)((s[g + 4] & 0xF) | ((s[g - 4] >> 6) << 4));
    *m = (float)((s[g + 4] >> 4) | ((s[g] >> 6) << 4));
  }
}

// Q4_K: 144-byte superblocks {half d; half dmin; uchar scales[12]; uchar qs[128]}; chunk = group.
inline void dq32_q4_k(wptr row, int c, int k, float* out) {
  wptr b = row + (c / 8) * 144;
  const int g = c % 8;
  const float d = ld_half(b), dmin = ld_half(b + 2);
  float sc, m;
  k4_scale_min(b + 4, g, &sc, &m);
  const float dl = d * sc, ml = dmin * m;
  wptr q = b + 16 + 32 * (g / 2);
  const int shift = 4 * (g % 2);
  for (int j = 0; j < 2; ++j) {
    const uchar16 v = vload16(j, q);
    const uchar* qs = (const uchar*)&v;
    for (int l = 0; l < 16; ++l) out[16 * j + l] = dl * (float)((qs[l] >> shift) & 0xF) - ml;
  }
}

// Q5_K: 176-byte superblocks {half d; half dmin; uchar scales[12]; uchar qh[32]; uchar qs[128]}.
inline void dq32_q5_k(wptr row, int c, int k, float* out) {
  wptr b = row + (c / 8) * 176;
  const int g = c % 8;
  const float d = ld_half(b), dmin = ld_half(b + 2);
  float sc, m;
  k4_scale_min(b + 4, g, &sc, &m);
  const float dl = d * sc, ml = dmin * m;
  wptr qh = b + 16, q = b + 48 + 32 * (g / 2);
  const int shift = 4 * (g % 2);
  for (int l = 0; l < 32; ++l) {
    const int value = ((q[l] >> shift) & 0xF) | (((qh[l] >> g) & 1) << 4);
    out[l] = dl * (float)value - ml;
  }
}

// Q6_K: 210-byte superblocks {uchar ql[128]; uchar qh[64]; char scales[16]; half d}. Chunk c%8:
// 128-element half h = (c%8)/4, run r = (c%8)%4 holds elements l + 32r of that half.
inline void dq32_q6_k(wptr row, int c, int k, float* out) {
  wptr b = row + (c / 8) * 210;
  const int h = (c % 8) / 4, r = (c % 8) % 4;
  const float d = ld_half(b + 208);
  wptr ql = b + 64 * h + 32 * (r % 2);
  wptr qh = b + 128 + 32 * h;
  global const char* sc = (global const char*)(b + 192 + 8 * h);
  const int nib_shift = 4 * (r / 2), hi_shift = 2 * r;
  for (int j = 0; j < 2; ++j) {
    const uchar16 lo = vload16(j, ql), hi = vload16(j, qh);
    const uchar* lq = (const uchar*)&lo;
    const uchar* hq = (const uchar*)&hi;
    const float dl = d * (float)sc[j + 2 * r];  // g = l / 16 = j
    for (int l = 0; l < 16; ++l) {
      const int q = (((lq[l] >> nib_shift) & 0xF) | (((hq[l] >> hi_shift) & 3) << 4)) - 32;
      out[16 * j + l] = dl * (float)q;
    }
  }
}

// QuantizeRow: float rows to ggml block formats, following ggml's reference quantizers (plain
// rounding for 32-element blocks, weighted least-squares scale searches for the K-quants).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/ref/blocks.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu::ref {
namespace {

// Block scales are stored as fp16, so inputs must stay well inside its range.
constexpr float kMaxQuantInput = 65504.0f;
// A group whose largest magnitude is below this is treated as all zeros.
constexpr float kZeroGroup = 1e-15f;

// Round half to even, as ggml's nearest_int, for values already known to be moderate.
int NearestInt(float v) {
  if (!(v == v)) return 0;
  return static_cast<int>(std::nearbyint(std::clamp(v, -1e7f, 1e7f)));
}

// Truncation toward zero of a small non-negative value, as the (int8_t) casts in ggml's
// reference Q4_0/Q4_1/Q5_0/Q5_1 quantizers.
int Truncate(float v) { return v == v ? static_cast<int>(std::clamp(v, -1e7f, 1e7f)) : 0; }

// w * l * l evaluated left to right in float, the order ggml uses, so that the scale searches
// pick the same levels as ggml's reference quantizers.
float WeightedSquare(float w, int l) { return w * static_cast<float>(l) * static_cast<float>(l); }

void StoreQh(uint32_t qh, uint8_t* out) {
  for (int k = 0; k < 4; ++k) out[k] = static_cast<uint8_t>(qh >> (8 * k));
}

// The signed element of largest magnitude (the first one on ties).
float SignedAbsMax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int l = 0; l < n; ++l) {
    if (amax < std::fabs(x[l])) {
      amax = std::fabs(x[l]);
      max = x[l];
    }
  }
  return max;
}

void MinMax(const float* x, int n, float* min, float* max) {
  *min = x[0];
  *max = x[0];
  for (int l = 1; l < n; ++l) {
    *min = std::min(*min, x[l]);
    *max = std::max(*max, x[l]);
  }
}

// --- 32-element blocks ---

void QuantizeQ4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    // The largest magnitude maps to level -8 exactly; the other side clips at +7.
    const float d = SignedAbsMax(x, 32) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(15, Truncate(x[j] * id + 8.5f));
      const int q1 = std::min(15, Truncate(x[j + 16] * id + 8.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void QuantizeQ4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float min, max;
    MinMax(x, 32, &min, &max);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    y[i].m = F32ToF16(min);
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(15, Truncate((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, Truncate((x[j + 16] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void QuantizeQ5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    const float d = SignedAbsMax(x, 32) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(31, Truncate(x[j] * id + 16.5f));
      const int q1 = std::min(31, Truncate(x[j + 16] * id + 16.5f));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    StoreQh(qh, y[i].qh);
  }
}

void QuantizeQ5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float min, max;
    MinMax(x, 32, &min, &max);
    const float d = (max - min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    y[i].m = F32ToF16(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = std::min(31, Truncate((x[j] - min) * id + 0.5f));
      const int q1 = std::min(31, Truncate((x[j + 16] - min) * id + 0.5f));
      y[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    StoreQh(qh, y[i].qh);
  }
}

void QuantizeQ8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.0f;
    for (int l = 0; l < 32; ++l) amax = std::max(amax, std::fabs(x[l]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    for (int l = 0; l < 32; ++l) {
      y[i].qs[l] = static_cast<int8_t>(std::clamp(std::round(x[l] * id), -127.0f, 127.0f));
    }
  }
}

// --- scale searches for the K-quants ---

// Fits x ~= scale * q - offset with q in [0, nmax] and offset >= 0 (zero stays on the grid),
// minimizing the weighted squared (or absolute) error. Starts from the grid spanning
// [min(x, 0), max(x)], then tries nstep + 1 grids of slightly different spacing, refitting
// scale and offset by weighted least squares for each, and keeps the best. Each grid starts at
// the best offset found so far (as ggml's make_qkx2_quants does, which measurably helps).
// Returns the scale.
float FitAffine(const float* x, const float* w, int n, int nmax, float rmin, float rdelta,
                int nstep, bool absolute_error, uint8_t* q, float* offset) {
  float lo, hi;
  MinMax(x, n, &lo, &hi);
  lo = std::min(lo, 0.0f);
  if (hi == lo) {
    std::fill(q, q + n, uint8_t{0});
    *offset = -lo;
    return 0.0f;
  }
  float sum_w = 0.0f, sum_x = 0.0f;
  for (int l = 0; l < n; ++l) {
    sum_w += w[l];
    sum_x += w[l] * x[l];
  }
  auto error_of = [&](float scale, float min, const uint8_t* levels) {
    float error = 0.0f;
    for (int l = 0; l < n; ++l) {
      const float diff = scale * static_cast<float>(levels[l]) + min - x[l];
      error += w[l] * (absolute_error ? std::fabs(diff) : diff * diff);
    }
    return error;
  };
  float best_min = lo;  // the grid's anchor: the lowest representable value
  auto levels_for = [&](float iscale, uint8_t* levels) {
    for (int l = 0; l < n; ++l) {
      levels[l] = static_cast<uint8_t>(std::clamp(NearestInt(iscale * (x[l] - best_min)), 0, nmax));
    }
  };

  const float first_iscale = static_cast<float>(nmax) / (hi - lo);
  float best_scale = 1.0f / first_iscale;
  levels_for(first_iscale, q);
  float best_error = error_of(best_scale, best_min, q);

  uint8_t trial[32];
  for (int step = 0; step <= nstep; ++step) {
    const float iscale =
        (rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax)) / (hi - best_min);
    levels_for(iscale, trial);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int l = 0; l < n; ++l) {
      const float level = trial[l];
      sum_l += w[l] * level;
      sum_l2 += w[l] * level * level;
      sum_xl += w[l] * level * x[l];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0.0f)) continue;
    float scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (min > 0.0f) {  // the offset may only pull values down
      min = 0.0f;
      scale = sum_xl / sum_l2;
    }
    const float error = error_of(scale, min, trial);
    if (error < best_error) {
      std::copy(trial, trial + n, q);
      best_error = error;
      best_scale = scale;
      best_min = min;
    }
  }
  *offset = -best_min;
  return best_scale;
}

// Fits x ~= scale * q with q in [-nmax, nmax - 1], weights x^2: the grid that puts the largest
// magnitude on -nmax, then a sweep of nearby grids, each refit by least squares. Returns the
// (signed) scale; q receives levels offset by nmax.
float FitSymmetric(const float* x, int n, int nmax, uint8_t* q) {
  const float max = SignedAbsMax(x, n);
  if (std::fabs(max) < kZeroGroup) {
    std::fill(q, q + n, uint8_t{0});
    return 0.0f;
  }
  int trial[32];
  auto fit = [&](float iscale, float* sum_xl, float* sum_l2) {
    *sum_xl = 0.0f;
    *sum_l2 = 0.0f;
    for (int l = 0; l < n; ++l) {
      trial[l] = std::clamp(NearestInt(iscale * x[l]), -nmax, nmax - 1);
      const float w = x[l] * x[l];
      *sum_xl += w * x[l] * static_cast<float>(trial[l]);
      *sum_l2 += WeightedSquare(w, trial[l]);
    }
  };
  float sum_xl, sum_l2;
  fit(-static_cast<float>(nmax) / max, &sum_xl, &sum_l2);
  for (int l = 0; l < n; ++l) q[l] = static_cast<uint8_t>(trial[l] + nmax);
  float scale = sum_l2 > 0.0f ? sum_xl / sum_l2 : 0.0f;
  float best = scale * sum_xl;  // the error reduction achieved; larger is better
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    fit(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max, &sum_xl, &sum_l2);
    if (sum_l2 > 0.0f && sum_xl * sum_xl > best * sum_l2) {
      for (int l = 0; l < n; ++l) q[l] = static_cast<uint8_t>(trial[l] + nmax);
      scale = sum_xl / sum_l2;
      best = scale * sum_xl;
    }
  }
  return scale;
}

// As FitSymmetric for the 3-bit grid [-4, 3], but refines the initial levels one element at a
// time (coordinate descent on the weighted least-squares objective) instead of sweeping.
float FitSymmetric3(const float* x, int n, uint8_t* q) {
  constexpr int kMax = 4;
  const float max = SignedAbsMax(x, n);
  if (std::fabs(max) < kZeroGroup) {
    std::fill(q, q + n, uint8_t{0});
    return 0.0f;
  }
  const float iscale = -static_cast<float>(kMax) / max;
  int levels[16];
  float sum_xl = 0.0f, sum_l2 = 0.0f;
  for (int l = 0; l < n; ++l) {
    levels[l] = std::clamp(NearestInt(iscale * x[l]), -kMax, kMax - 1);
    const float w = x[l] * x[l];
    sum_xl += w * x[l] * static_cast<float>(levels[l]);
    sum_l2 += WeightedSquare(w, levels[l]);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int l = 0; l < n; ++l) {
      const float w = x[l] * x[l];
      float xl_without = sum_xl - w * x[l] * static_cast<float>(levels[l]);
      if (!(xl_without > 0.0f)) continue;
      float l2_without = sum_l2 - WeightedSquare(w, levels[l]);
      const int candidate = std::clamp(NearestInt(x[l] * l2_without / xl_without), -kMax, kMax - 1);
      if (candidate == levels[l]) continue;
      const float xl_with = xl_without + w * x[l] * static_cast<float>(candidate);
      const float l2_with = l2_without + WeightedSquare(w, candidate);
      if (l2_with > 0.0f && xl_with * xl_with * sum_l2 > sum_xl * sum_xl * l2_with) {
        levels[l] = candidate;
        sum_xl = xl_with;
        sum_l2 = l2_with;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int l = 0; l < n; ++l) q[l] = static_cast<uint8_t>(levels[l] + kMax);
  return sum_l2 > 0.0f ? sum_xl / sum_l2 : 0.0f;
}

// Packs 2-bit levels of 256 elements as Q2_K / Q3_K store them.
void Pack2Bit(const uint8_t* levels, uint8_t* qs) {
  for (int chunk = 0; chunk < 2; ++chunk) {
    const uint8_t* l = levels + 128 * chunk;
    for (int j = 0; j < 32; ++j) {
      qs[32 * chunk + j] = static_cast<uint8_t>((l[j] & 3) | ((l[j + 32] & 3) << 2) |
                                                ((l[j + 64] & 3) << 4) | ((l[j + 96] & 3) << 6));
    }
  }
}

void PackScaleMinK4(int g, uint8_t scale, uint8_t min, uint8_t* scales) {
  if (g < 4) {
    scales[g] = static_cast<uint8_t>((scales[g] & 0xC0) | scale);
    scales[g + 4] = static_cast<uint8_t>((scales[g + 4] & 0xC0) | min);
  } else {
    scales[g + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    scales[g - 4] = static_cast<uint8_t>(scales[g - 4] | ((scale >> 4) << 6));
    scales[g] = static_cast<uint8_t>(scales[g] | ((min >> 4) << 6));
  }
}

// Shared by Q4_K and Q5_K: 8 groups of 32 with 6-bit scales and mins. Writes d, dmin, scales
// and the final levels (in [0, nmax]) into `levels`.
void QuantizeScaleMinK(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out,
                       uint16_t* dmin_out, uint8_t* packed_scales, uint8_t* levels) {
  float scales[8], mins[8], weights[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int g = 0; g < 8; ++g) {
    const float* xg = x + 32 * g;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xg[l] * xg[l];
    const float rms = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = rms + std::fabs(xg[l]);
    scales[g] =
        FitAffine(xg, weights, 32, nmax, rmin, 0.1f, nstep, false, levels + 32 * g, &mins[g]);
    max_scale = std::max(max_scale, scales[g]);
    max_min = std::max(max_min, mins[g]);
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  std::memset(packed_scales, 0, kKScaleBytes);
  for (int g = 0; g < 8; ++g) {
    const auto scale = static_cast<uint8_t>(std::clamp(NearestInt(inv_scale * scales[g]), 0, 63));
    const auto min = static_cast<uint8_t>(std::clamp(NearestInt(inv_min * mins[g]), 0, 63));
    PackScaleMinK4(g, scale, min, packed_scales);
  }
  *d_out = F32ToF16(max_scale / 63.0f);
  *dmin_out = F32ToF16(max_min / 63.0f);
  // Requantize against the scales as stored, so rounding of the scales is compensated.
  const float d = F16ToF32(*d_out);
  const float dmin = F16ToF32(*dmin_out);
  for (int g = 0; g < 8; ++g) {
    uint8_t scale, min;
    UnpackScaleMinK4(packed_scales, g, &scale, &min);
    const float dl = d * static_cast<float>(scale);
    if (dl == 0.0f) continue;
    const float ml = dmin * static_cast<float>(min);
    for (int l = 0; l < 32; ++l) {
      levels[32 * g + l] =
          static_cast<uint8_t>(std::clamp(NearestInt((x[32 * g + l] + ml) / dl), 0, nmax));
    }
  }
}

void QuantizeQ4_K(const float* x, BlockQ4_K* y, int64_t nsb) {
  uint8_t levels[kQK];
  for (int64_t i = 0; i < nsb; ++i, x += kQK) {
    QuantizeScaleMinK(x, 15, -1.0f, 20, &y[i].d, &y[i].dmin, y[i].scales, levels);
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        y[i].qs[32 * chunk + l] =
            static_cast<uint8_t>(levels[64 * chunk + l] | (levels[64 * chunk + 32 + l] << 4));
      }
    }
  }
}

void QuantizeQ5_K(const float* x, BlockQ5_K* y, int64_t nsb) {
  uint8_t levels[kQK];
  for (int64_t i = 0; i < nsb; ++i, x += kQK) {
    QuantizeScaleMinK(x, 31, -0.5f, 15, &y[i].d, &y[i].dmin, y[i].scales, levels);
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        const int low = levels[64 * chunk + l];
        const int high = levels[64 * chunk + 32 + l];
        y[i].qs[32 * chunk + l] = static_cast<uint8_t>((low & 0xF) | ((high & 0xF) << 4));
        y[i].qh[l] = static_cast<uint8_t>(y[i].qh[l] | ((low >> 4) << (2 * chunk)) |
                                          ((high >> 4) << (2 * chunk + 1)));
      }
    }
  }
}

void QuantizeQ2_K(const float* x, BlockQ2_K* y, int64_t nsb) {
  uint8_t levels[kQK];
  float scales[16], mins[16], weights[16];
  for (int64_t i = 0; i < nsb; ++i, x += kQK) {
    float max_scale = 0.0f, max_min = 0.0f;
    for (int g = 0; g < 16; ++g) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * g + l]);
      scales[g] =
          FitAffine(x + 16 * g, weights, 16, 3, -0.5f, 0.1f, 15, true, levels + 16 * g, &mins[g]);
      max_scale = std::max(max_scale, scales[g]);
      max_min = std::max(max_min, mins[g]);
    }
    const float inv_scale = max_scale > 0.0f ? 15.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 15.0f / max_min : 0.0f;
    for (int g = 0; g < 16; ++g) {
      const int scale = std::clamp(NearestInt(inv_scale * scales[g]), 0, 15);
      const int min = std::clamp(NearestInt(inv_min * mins[g]), 0, 15);
      y[i].scales[g] = static_cast<uint8_t>(scale | (min << 4));
    }
    y[i].d = F32ToF16(max_scale / 15.0f);
    y[i].dmin = F32ToF16(max_min / 15.0f);
    const float d = F16ToF32(y[i].d);
    const float dmin = F16ToF32(y[i].dmin);
    for (int g = 0; g < 16; ++g) {
      const float dl = d * static_cast<float>(y[i].scales[g] & 0xF);
      if (dl == 0.0f) continue;
      const float ml = dmin * static_cast<float>(y[i].scales[g] >> 4);
      for (int l = 0; l < 16; ++l) {
        levels[16 * g + l] =
            static_cast<uint8_t>(std::clamp(NearestInt((x[16 * g + l] + ml) / dl), 0, 3));
      }
    }
    Pack2Bit(levels, y[i].qs);
  }
}

void QuantizeQ3_K(const float* x, BlockQ3_K* y, int64_t nsb) {
  uint8_t levels[kQK];
  float scales[16];
  for (int64_t i = 0; i < nsb; ++i, x += kQK) {
    float max_scale = 0.0f;  // signed scale of largest magnitude
    for (int g = 0; g < 16; ++g) {
      scales[g] = FitSymmetric3(x + 16 * g, 16, levels + 16 * g);
      if (std::fabs(scales[g]) > std::fabs(max_scale)) max_scale = scales[g];
    }
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int g = 0; g < 16; ++g) {
        const int stored = std::clamp(NearestInt(iscale * scales[g]), -32, 31) + 32;
        if (g < 8) {
          y[i].scales[g] = static_cast<uint8_t>(stored & 0xF);
        } else {
          y[i].scales[g - 8] = static_cast<uint8_t>(y[i].scales[g - 8] | ((stored & 0xF) << 4));
        }
        y[i].scales[8 + g % 4] =
            static_cast<uint8_t>(y[i].scales[8 + g % 4] | ((stored >> 4) << (2 * (g / 4))));
      }
      y[i].d = F32ToF16(1.0f / iscale);
    } else {
      y[i].d = F32ToF16(0.0f);
    }
    const float d = F16ToF32(y[i].d);
    for (int g = 0; g < 16; ++g) {
      const float dl = d * static_cast<float>(UnpackScaleQ3K(y[i].scales, g));
      if (dl == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        levels[16 * g + l] =
            static_cast<uint8_t>(std::clamp(NearestInt(x[16 * g + l] / dl), -4, 3) + 4);
      }
    }
    // Level bit 2 goes to hmask: bit r of hmask[l] for element 32r + l.
    std::memset(y[i].hmask, 0, sizeof(y[i].hmask));
    for (int e = 0; e < kQK; ++e) {
      if (levels[e] > 3) {
        y[i].hmask[e % 32] = static_cast<uint8_t>(y[i].hmask[e % 32] | (1u << (e / 32)));
        levels[e] = static_cast<uint8_t>(levels[e] - 4);
      }
    }
    Pack2Bit(levels, y[i].qs);
  }
}

void QuantizeQ6_K(const float* x, BlockQ6_K* y, int64_t nsb) {
  uint8_t levels[kQK];
  float scales[16];
  for (int64_t i = 0; i < nsb; ++i, x += kQK) {
    float max_scale = 0.0f;
    for (int g = 0; g < 16; ++g) {
      scales[g] = FitSymmetric(x + 16 * g, 16, 32, levels + 16 * g);
      if (std::fabs(scales[g]) > std::fabs(max_scale)) max_scale = scales[g];
    }
    if (std::fabs(max_scale) < kZeroGroup) {
      std::memset(&y[i], 0, sizeof(y[i]));
      continue;
    }
    const float iscale = -128.0f / max_scale;
    y[i].d = F32ToF16(1.0f / iscale);
    for (int g = 0; g < 16; ++g) {
      y[i].scales[g] = static_cast<int8_t>(std::clamp(NearestInt(iscale * scales[g]), -128, 127));
    }
    const float d = F16ToF32(y[i].d);
    for (int g = 0; g < 16; ++g) {
      const float dl = d * static_cast<float>(y[i].scales[g]);
      if (dl == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        levels[16 * g + l] =
            static_cast<uint8_t>(std::clamp(NearestInt(x[16 * g + l] / dl), -32, 31) + 32);
      }
    }
    for (int chunk = 0; chunk < 2; ++chunk) {
      const uint8_t* l = levels + 128 * chunk;
      uint8_t* ql = y[i].ql + 64 * chunk;
      uint8_t* qh = y[i].qh + 32 * chunk;
      for (int j = 0; j < 32; ++j) {
        ql[j] = static_cast<uint8_t>((l[j] & 0xF) | ((l[j + 64] & 0xF) << 4));
        ql[j + 32] = static_cast<uint8_t>((l[j + 32] & 0xF) | ((l[j + 96] & 0xF) << 4));
        qh[j] = static_cast<uint8_t>((l[j] >> 4) | ((l[j + 32] >> 4) << 2) |
                                     ((l[j + 64] >> 4) << 4) | ((l[j + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

Status QuantizeRow(DType type, const float* src, void* dst, int64_t n) {
  const DTypeInfo* info = FindDType(static_cast<uint32_t>(type));
  if (info == nullptr)
    return InvalidArgument("QuantizeRow: unknown type id {}", static_cast<uint32_t>(type));
  if (n < 0 || n % info->block_elems != 0) {
    return InvalidArgument("QuantizeRow({}): {} elements is not a multiple of the block size {}",
                           info->name, n, info->block_elems);
  }
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return Status::Ok();
    case DType::kF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(src[i]);
      return Status::Ok();
    }
    case DType::kBF16: {
      auto* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = F32ToBF16(src[i]);
      return Status::Ok();
    }
    default:
      break;
  }
  if (!info->engine_supported) {
    return Unimplemented("QuantizeRow: no quantizer for type {}", info->name);
  }
  // Quantized formats keep fp16 scales: Inf, NaN, or values past the fp16 range would be
  // silently corrupted, so they are an error.
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::fabs(src[i]) <= kMaxQuantInput)) {
      return InvalidArgument(
          "QuantizeRow({}): element {} is {}, outside the fp16 range of the "
          "block scales",
          info->name, i, src[i]);
    }
  }
  const int64_t nb = n / info->block_elems;
  switch (type) {
    case DType::kQ4_0:
      QuantizeQ4_0(src, static_cast<BlockQ4_0*>(dst), nb);
      break;
    case DType::kQ4_1:
      QuantizeQ4_1(src, static_cast<BlockQ4_1*>(dst), nb);
      break;
    case DType::kQ5_0:
      QuantizeQ5_0(src, static_cast<BlockQ5_0*>(dst), nb);
      break;
    case DType::kQ5_1:
      QuantizeQ5_1(src, static_cast<BlockQ5_1*>(dst), nb);
      break;
    case DType::kQ8_0:
      QuantizeQ8_0(src, static_cast<BlockQ8_0*>(dst), nb);
      break;
    case DType::kQ2_K:
      QuantizeQ2_K(src, static_cast<BlockQ2_K*>(dst), nb);
      break;
    case DType::kQ3_K:
      QuantizeQ3_K(src, static_cast<BlockQ3_K*>(dst), nb);
      break;
    case DType::kQ4_K:
      QuantizeQ4_K(src, static_cast<BlockQ4_K*>(dst), nb);
      break;
    case DType::kQ5_K:
      QuantizeQ5_K(src, static_cast<BlockQ5_K*>(dst), nb);
      break;
    case DType::kQ6_K:
      QuantizeQ6_K(src, static_cast<BlockQ6_K*>(dst), nb);
      break;
    default:
      return Unimplemented("QuantizeRow: no quantizer for type {}", info->name);
  }
  return Status::Ok();
}

}  // namespace tlm::cpu::ref

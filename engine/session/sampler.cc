// Token sampler: greedy argmax and the seeded top-k / temperature / top-p / min-p pipeline.
#include "engine/session/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace tlm {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Weights are in [0, 1]; the top 16 bits of a float (sign, exponent, 7 mantissa bits) order them
// into buckets 1% wide. 1.0f is 0x3F800000, so 0x3F81 buckets hold every weight.
constexpr uint32_t kBucketShift = 16;
constexpr size_t kBuckets = (0x3F800000u >> kBucketShift) + 1;

uint32_t Bucket(float weight) { return std::bit_cast<uint32_t>(weight) >> kBucketShift; }

// Largest non-NaN value of a short block, -inf if none. Independent lanes let the compiler use
// vector max instructions without reassociating anything, so the result is exact.
float BlockMax(const float* x, size_t n) {
  constexpr size_t kLanes = 16;
  float lane[kLanes];
  std::fill(lane, lane + kLanes, -kInf);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
  }
  float best = -kInf;
  for (size_t j = 0; j < kLanes; ++j) best = lane[j] > best ? lane[j] : best;
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

// The largest non-NaN logit and the lowest id holding it; {-inf, n} when every logit is -inf or
// NaN. One pass of block maxima, then a scan of the first block that holds the maximum.
struct Max {
  float value;
  size_t index;
};
Max ArgmaxIgnoringNaN(const float* x, size_t n) {
  constexpr size_t kBlock = 256;
  float best = -kInf;
  size_t best_block = n;
  for (size_t b = 0; b < n; b += kBlock) {
    const float m = BlockMax(x + b, std::min(kBlock, n - b));
    if (m > best) {  // strict: an equal maximum in a later block has higher ids
      best = m;
      best_block = b;
    }
  }
  if (best_block == n) return {best, n};
  size_t i = best_block;
  while (x[i] != best) ++i;
  return {best, i};
}

// Sum in a fixed order (8 lanes, then the lanes in order): vectorizes, and the draw below walks
// the same blocks in the same order, so its running sum meets the total exactly.
double SumBlock(const float* w, size_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) lane[j] += w[i + j];
  }
  double sum = 0;
  for (double l : lane) sum += l;
  for (; i < n; ++i) sum += w[i];
  return sum;
}
constexpr size_t kDrawBlock = 256;

inline float ExpNonPositiveInline(float x) {
  // exp(x) = 2^n * exp(r) with n = round(x / ln 2) and |r| <= ln(2) / 2; exp(r) by the Cephes
  // expf polynomial. Out-of-range inputs are handled with integer masks: a float comparison would
  // keep GCC from vectorizing the loop under the default -ftrapping-math.
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t out_of_range = 0u - static_cast<uint32_t>((bits & 0x7FFFFFFFu) > 0x42AE0000u);  // |x| > 87, inf, NaN
  const float xc = std::bit_cast<float>((0xC2AE0000u & out_of_range) | (bits & ~out_of_range));  // -87 if out
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;            // x - n ln 2, in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
  return std::bit_cast<float>(std::bit_cast<uint32_t>(p * scale) & ~out_of_range);
}

// w[i] = exp((x[i] - max) * inv_temperature); restrict and a plain loop let it vectorize.
void SoftmaxWeights(const float* __restrict x, size_t n, float max, float inv_temperature,
                    float* __restrict w) {
  for (size_t i = 0; i < n; ++i) w[i] = ExpNonPositiveInline((x[i] - max) * inv_temperature);
}

}  // namespace

namespace sampler_detail {

float ExpNonPositive(float x) { return ExpNonPositiveInline(x); }

}  // namespace sampler_detail

Status ValidateSamplerConfig(const SamplerConfig& config) {
  if (!std::isfinite(config.temperature) || config.temperature < 0.0f) {
    return InvalidArgument("sampler: temperature must be finite and >= 0, got {}", config.temperature);
  }
  if (config.top_k < 0) {
    return InvalidArgument("sampler: top_k must be >= 0 (0 = off), got {}", config.top_k);
  }
  if (!(config.top_p > 0.0f && config.top_p <= 1.0f)) {
    return InvalidArgument("sampler: top_p must be in (0, 1], got {}", config.top_p);
  }
  if (!(config.min_p >= 0.0f && config.min_p <= 1.0f)) {
    return InvalidArgument("sampler: min_p must be in [0, 1], got {}", config.min_p);
  }
  return Status::Ok();
}

Sampler::Sampler(SamplerConfig config, int32_t n_vocab)
    : config_(config), n_vocab_(n_vocab), rng_(config.seed) {
  const bool greedy = !(config_.temperature > 0.0f) || config_.top_k == 1;
  if (n_vocab_ <= 0 || greedy) return;
  const size_t n = static_cast<size_t>(n_vocab_);
  weights_.resize(n);
  if (config_.top_k > 0 && static_cast<size_t>(config_.top_k) < n) {
    const size_t k = static_cast<size_t>(config_.top_k);
    heap_.resize(k);
    topk_logits_.resize(k);
    topk_ids_.resize(k);
  }
  if (config_.top_p < 1.0f) {
    bucket_mass_.resize(kBuckets);
    boundary_.resize(n);
  }
}

void Sampler::Reset() { rng_.seed(config_.seed); }

double Sampler::NextUniform() {
  // 53 random bits -> a double in [0, 1), identical on every platform for a given seed.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

size_t Sampler::SelectTopK(std::span<const float> logits) {
  // Keeps the k best (larger logit, then lower id) in a heap whose top is the worst kept; most
  // logits lose one comparison against it, so this is about linear for k << n.
  auto better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  const size_t k = heap_.size();
  auto first = heap_.begin();
  size_t size = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float v = logits[i];
    if (std::isnan(v)) continue;
    if (size < k) {
      heap_[size++] = {v, static_cast<int32_t>(i)};
      std::push_heap(first, first + static_cast<std::ptrdiff_t>(size), better);
    } else if (v > heap_[0].first) {  // an equal logit has a higher id: it loses the tie
      std::pop_heap(first, first + static_cast<std::ptrdiff_t>(k), better);
      heap_[k - 1] = {v, static_cast<int32_t>(i)};
      std::push_heap(first, first + static_cast<std::ptrdiff_t>(k), better);
    }
  }
  // Id order, so that "lower index" below means "lower id" when ties are broken.
  std::sort(first, first + static_cast<std::ptrdiff_t>(size),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  for (size_t j = 0; j < size; ++j) {
    topk_logits_[j] = heap_[j].first;
    topk_ids_[j] = heap_[j].second;
  }
  return size;
}

void Sampler::KeepNucleus(size_t n, double target) {
  // Mass per bucket, then walk the buckets from the top until the mass reaches the target: every
  // weight in a higher bucket is kept, every weight in a lower one dropped, and only the bucket
  // where the cut falls needs sorting.
  float* w = weights_.data();
  std::fill(bucket_mass_.begin(), bucket_mass_.end(), 0.0);
  for (size_t i = 0; i < n; ++i) bucket_mass_[Bucket(w[i])] += w[i];
  double above = 0.0;
  size_t cut_bucket = kBuckets;
  for (size_t b = kBuckets; b-- > 0;) {
    if (above + bucket_mass_[b] >= target) {
      cut_bucket = b;
      break;
    }
    above += bucket_mass_[b];
  }
  if (cut_bucket == kBuckets) return;  // rounding kept the total under the target: keep all

  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    if (Bucket(w[i]) == cut_bucket) boundary_[m++] = static_cast<uint32_t>(i);
  }
  std::sort(boundary_.begin(), boundary_.begin() + static_cast<std::ptrdiff_t>(m),
            [w](uint32_t a, uint32_t b) { return w[a] > w[b] || (w[a] == w[b] && a < b); });
  size_t keep = m;  // if rounding never reaches the target, the whole bucket stays
  double cumulative = above;
  for (size_t j = 0; j < m; ++j) {
    cumulative += w[boundary_[j]];
    if (cumulative >= target) {
      keep = j + 1;
      break;
    }
  }
  for (size_t j = keep; j < m; ++j) w[boundary_[j]] = 0.0f;
  const uint32_t cut = static_cast<uint32_t>(cut_bucket);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t below = 0u - static_cast<uint32_t>(Bucket(w[i]) < cut);
    w[i] = std::bit_cast<float>(std::bit_cast<uint32_t>(w[i]) & ~below);
  }
}

size_t Sampler::Draw(size_t n) {
  const float* w = weights_.data();
  double total = 0.0;
  for (size_t b = 0; b < n; b += kDrawBlock) total += SumBlock(w + b, std::min(kDrawBlock, n - b));
  const double u = NextUniform() * total;
  double cumulative = 0.0;
  for (size_t b = 0; b < n; b += kDrawBlock) {
    const size_t len = std::min(kDrawBlock, n - b);
    const double block = SumBlock(w + b, len);
    if (u < cumulative + block) {
      size_t last_positive = b;
      for (size_t i = b; i < b + len; ++i) {
        if (w[i] <= 0.0f) continue;
        cumulative += w[i];
        last_positive = i;
        if (u < cumulative) return i;
      }
      return last_positive;  // the in-block running sum rounded just under u
    }
    cumulative += block;
  }
  for (size_t i = n; i-- > 0;) {  // u rounded past the end: the last token with weight
    if (w[i] > 0.0f) return i;
  }
  return 0;
}

int32_t Sampler::Sample(std::span<const float> logits) {
  if (n_vocab_ <= 0 || logits.size() != static_cast<size_t>(n_vocab_)) return -1;
  const bool greedy = !(config_.temperature > 0.0f) || config_.top_k == 1;
  const Max max = ArgmaxIgnoringNaN(logits.data(), logits.size());
  if (max.index == logits.size()) {  // every logit is -inf or NaN: nothing has mass
    for (size_t i = 0; i < logits.size(); ++i) {
      if (!std::isnan(logits[i])) return static_cast<int32_t>(i);
    }
    return 0;
  }
  if (greedy || max.value == kInf) return static_cast<int32_t>(max.index);  // +inf is certain
  const float max_logit = max.value;

  // 1. top-k: continue on the k kept logits, in id order.
  std::span<const float> kept = logits;
  const int32_t* ids = nullptr;
  if (!heap_.empty()) {
    kept = std::span<const float>(topk_logits_.data(), SelectTopK(logits));
    ids = topk_ids_.data();
  }
  const size_t n = kept.size();

  // 2. softmax weights exp((logit - max) / T), left unnormalized: the largest is exactly 1 and
  // the filters below only compare ratios. NaN logits get weight 0.
  const float inv_temperature = 1.0f / config_.temperature;
  float* w = weights_.data();
  SoftmaxWeights(kept.data(), n, max_logit, inv_temperature, w);

  // 3. top-p over the weights; the mass to reach is top_p of the total.
  if (!bucket_mass_.empty() && n > 1) {
    double total = 0.0;
    for (size_t b = 0; b < n; b += kDrawBlock) total += SumBlock(w + b, std::min(kDrawBlock, n - b));
    KeepNucleus(n, static_cast<double>(config_.top_p) * total);
  }

  // 4. min-p: p < min_p * p_max with p_max = 1 (the top token's weight); the top token stays.
  if (config_.min_p > 0.0f) {
    const float threshold = std::min(config_.min_p, 1.0f);
    for (size_t i = 0; i < n; ++i) {
      if (w[i] < threshold) w[i] = 0.0f;
    }
  }

  // 5. draw in proportion to what is left (renormalizing is implicit).
  const size_t index = Draw(n);
  return ids != nullptr ? ids[index] : static_cast<int32_t>(index);
}

}  // namespace tlm

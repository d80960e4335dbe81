// Token sampler: greedy, or top-k -> temperature softmax -> top-p -> min-p, seeded and allocation-free.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "engine/common/status.h"

namespace tlm {

struct SamplerConfig {
  float temperature = 0.0f;  // 0 (or less) => greedy argmax; the other fields are then ignored
  int top_k = 0;             // keep the k largest logits; 0 = off
  float top_p = 1.0f;        // nucleus: smallest set with cumulative probability >= top_p; 1 = off
  float min_p = 0.0f;        // drop tokens with p < min_p * p_max; 0 = off
  uint64_t seed = 0;         // seeds std::mt19937_64; same seed => same token sequence
};

// Checks ranges: temperature finite and >= 0, top_k >= 0, top_p in (0, 1], min_p in [0, 1].
Status ValidateSamplerConfig(const SamplerConfig& config);

// Picks one token id from a row of logits. Every buffer is sized to n_vocab at construction, so
// Sample() never allocates: decode timings do not pay for the sampler's bookkeeping.
//
// Stochastic pipeline, in order:
//   1. top-k: keep the k largest logits (ties broken by lower id);
//   2. softmax of logit / temperature over what is left;
//   3. top-p: walk tokens by falling probability, keep the smallest prefix whose cumulative
//      probability reaches top_p (always at least one token);
//   4. min-p: drop tokens whose probability is below min_p times the largest probability;
//   5. renormalize and draw with the seeded generator.
// Each stage is a few linear passes, no full sort: top-k keeps a heap of k, top-p finds its cut
// with a histogram of the weights and sorts only the bucket the cut falls in, and the softmax
// uses a vectorizable exp. A 256k vocabulary costs about a millisecond.
// The draw uses the generator's raw 64-bit output (not std::uniform_real_distribution, whose
// algorithm differs between standard libraries), so a seed gives the same tokens everywhere.
class Sampler {
 public:
  explicit Sampler(SamplerConfig config, int32_t n_vocab);

  // Returns a token id in [0, n_vocab), or -1 when logits.size() != n_vocab or n_vocab <= 0.
  // Greedy picks the lowest id among equal maxima. NaN logits are never picked; if every logit is
  // -inf or NaN, the result is the lowest id that is not NaN (or 0).
  int32_t Sample(std::span<const float> logits);

  // Restarts the random sequence from the configured seed.
  void Reset();

  const SamplerConfig& config() const { return config_; }
  int32_t n_vocab() const { return n_vocab_; }

 private:
  // Fills topk_logits_/topk_ids_ with the top_k largest logits in id order; returns how many.
  size_t SelectTopK(std::span<const float> logits);
  // Zeroes weights_[0, n) outside the nucleus whose mass reaches `target`.
  void KeepNucleus(size_t n, double target);
  // Draws an index of weights_[0, n) with probability proportional to its weight.
  size_t Draw(size_t n);
  double NextUniform();  // in [0, 1)

  SamplerConfig config_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  // Buffers sized at construction for what the config uses; Sample() only indexes them.
  std::vector<float> weights_;                    // exp((logit - max) / T); 0 = filtered out
  std::vector<std::pair<float, int32_t>> heap_;   // top-k selection (worst kept on top)
  std::vector<float> topk_logits_;                // the k kept logits, in id order
  std::vector<int32_t> topk_ids_;                 // and their ids
  std::vector<double> bucket_mass_;               // top-p: weight mass per float-exponent bucket
  std::vector<uint32_t> boundary_;                // top-p: indices in the bucket the cut falls in
};

namespace sampler_detail {
// exp(x) for x <= 0 with relative error below 1e-7; 0 below -87, for -inf and for NaN. Branch-free
// so the softmax loop vectorizes (std::exp does not). Exposed for tests.
float ExpNonPositive(float x);
}  // namespace sampler_detail

}  // namespace tlm

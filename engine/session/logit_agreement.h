// How closely one backend's logits follow a reference's over the same tokens: mean KL divergence,
// top-1 agreement and perplexity of both. Shared by the accuracy workload (devices/worker) and the
// conformance suite (harness/conform).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tlm {

// Log-softmax of one row, in double.
void LogSoftmax(std::span<const float> logits, std::vector<double>* out);
// Index of the largest logit (the first one on ties).
size_t Argmax(std::span<const float> row);

// Perplexity of `tokens` under teacher-forced logits: row i (n_vocab floats) predicts tokens[i + 1].
double Perplexity(std::span<const float> logits, int64_t n_vocab, std::span<const int32_t> tokens);

struct LogitAgreement {
  int64_t positions = 0;
  double kld_mean = 0;    // mean over positions of KL(reference || test), nats
  double kld_max = 0;
  double top1_agree = 0;  // fraction of positions whose argmax is the same
};

// Row by row comparison of `test` against `reference` (both positions x n_vocab floats).
LogitAgreement CompareLogits(std::span<const float> reference, std::span<const float> test, int64_t n_vocab);

}  // namespace tlm

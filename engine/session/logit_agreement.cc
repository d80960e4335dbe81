// KL divergence, top-1 agreement and perplexity over teacher-forced logits.
#include "engine/session/logit_agreement.h"

#include <algorithm>
#include <cmath>

namespace tlm {

void LogSoftmax(std::span<const float> logits, std::vector<double>* out) {
  out->resize(logits.size());
  double max = -INFINITY;
  for (float v : logits) max = std::max(max, static_cast<double>(v));
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max);
  const double log_sum = max + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) (*out)[i] = logits[i] - log_sum;
}

size_t Argmax(std::span<const float> row) {
  return static_cast<size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

double Perplexity(std::span<const float> logits, int64_t n_vocab, std::span<const int32_t> tokens) {
  std::vector<double> logq;
  double nll = 0;
  const size_t n = tokens.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    LogSoftmax(logits.subspan(i * n_vocab, n_vocab), &logq);
    nll -= logq[tokens[i + 1]];
  }
  return n < 2 ? NAN : std::exp(nll / static_cast<double>(n - 1));
}

LogitAgreement CompareLogits(std::span<const float> reference, std::span<const float> test, int64_t n_vocab) {
  LogitAgreement out;
  if (n_vocab <= 0) return out;
  const size_t n = std::min(reference.size(), test.size()) / n_vocab;
  std::vector<double> logp, logq;
  double kld_sum = 0;
  int64_t agree = 0;
  for (size_t i = 0; i < n; ++i) {
    auto p_row = reference.subspan(i * n_vocab, n_vocab);
    auto q_row = test.subspan(i * n_vocab, n_vocab);
    LogSoftmax(p_row, &logp);
    LogSoftmax(q_row, &logq);
    double kld = 0;
    for (int64_t v = 0; v < n_vocab; ++v) kld += std::exp(logp[v]) * (logp[v] - logq[v]);
    kld = std::isnan(kld) ? INFINITY : std::max(0.0, kld);  // NaN logits diverge infinitely
    kld_sum += kld;
    out.kld_max = std::max(out.kld_max, kld);
    agree += Argmax(p_row) == Argmax(q_row);
  }
  out.positions = static_cast<int64_t>(n);
  if (n > 0) {
    out.kld_mean = kld_sum / static_cast<double>(n);
    out.top1_agree = static_cast<double>(agree) / static_cast<double>(n);
  }
  return out;
}

}  // namespace tlm

// A session: one conversation's state over a loaded model (KV cache, position) on one backend.
// prefill() and decode() return logits; the executables for both phases are compiled when the
// session opens, so no compilation happens while tokens are measured.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/common/status.h"
#include "engine/model/model.h"

namespace tlm {

struct SessionOptions {
  std::string backend = "cpu";  // "cpu", later "opencl:0", ...
  int threads = 0;              // 0: all cores
  int64_t n_ctx = 0;            // 0: min(training context, 4096)
  int64_t prefill_chunk = 256;  // tokens per prefill step
  Activations activations = Activations::kF32;
  bool pin_threads = false;
  bool profile_ops = false;  // BackendOptions::profile_ops
  NpuBackendOptions npu;     // --backend npu: plugin, SoC, artifact
};

struct SessionLoadMetrics {
  double backend_init_ms = 0;
  double compile_ms = 0;
};

class Session {
 public:
  static StatusOr<std::unique_ptr<Session>> Create(const Model& model, const SessionOptions& options);

  // Appends `tokens` at the current position. `logits` receives the last token's logits
  // (n_vocab floats), or every token's (tokens.size() * n_vocab) when all_logits is true.
  Status Prefill(std::span<const int32_t> tokens, std::vector<float>* logits, bool all_logits = false);
  // Appends one token and returns its logits.
  Status Decode(int32_t token, std::vector<float>* logits);
  void Reset();

  int64_t position() const { return position_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_vocab() const { return model_.config().n_vocab; }
  uint64_t kv_bytes() const { return kv_->bytes(); }
  const Backend& backend() const { return *backend_; }
  // Starts the backend's op profile afresh (SessionOptions::profile_ops), e.g. after a warm-up.
  void ClearOpProfile() { backend_->ClearOpProfile(); }
  const Model& model() const { return model_; }
  const SessionLoadMetrics& load_metrics() const { return load_metrics_; }

 private:
  Session(const Model& model) : model_(model) {}
  Status CheckRoom(int64_t n) const;

  const Model& model_;
  SessionOptions options_;
  int64_t n_ctx_ = 0;
  int64_t position_ = 0;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Executable> decode_, prefill_last_;
  std::unique_ptr<Executable> prefill_all_;  // compiled on first all-logits request
  std::unique_ptr<KvCache> kv_;
  SessionLoadMetrics load_metrics_;
};

}  // namespace tlm

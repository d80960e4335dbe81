// Session: compiles the decode and prefill graphs on the chosen backend and steps through them.
#include "engine/session/session.h"

#include <algorithm>
#include <chrono>

namespace tlm {
namespace {
double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

StatusOr<std::unique_ptr<Session>> Session::Create(const Model& model, const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session(model));
  s->options_ = options;
  const ModelConfig& c = model.config();
  if (options.n_ctx < 0) return InvalidArgument("context size {} is negative", options.n_ctx);
  if (options.n_ctx > c.n_ctx_train)
    return InvalidArgument("context size {} exceeds the model's training context {}", options.n_ctx, c.n_ctx_train);
  s->n_ctx_ = options.n_ctx > 0 ? options.n_ctx : std::min<int64_t>(c.n_ctx_train, 4096);
  if (options.prefill_chunk < 1) return InvalidArgument("prefill chunk {} must be positive", options.prefill_chunk);
  s->options_.prefill_chunk = std::min(options.prefill_chunk, s->n_ctx_);

  auto t0 = std::chrono::steady_clock::now();
  BackendOptions bo;
  bo.threads = options.threads;
  bo.activations = options.activations;
  bo.pin_threads = options.pin_threads;
  bo.profile_ops = options.profile_ops;
  bo.npu = options.npu;
  TLM_ASSIGN_OR_RETURN(s->backend_, CreateBackend(options.backend, bo));
  s->load_metrics_.backend_init_ms = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  const Graph decode = model.arch().build_graph(c, {.max_tokens = 1, .last_row_only = true});
  const Graph prefill = model.arch().build_graph(c, {.max_tokens = s->options_.prefill_chunk, .last_row_only = true});
  TLM_ASSIGN_OR_RETURN(s->decode_, s->backend_->Compile(decode, model));
  TLM_ASSIGN_OR_RETURN(s->prefill_last_, s->backend_->Compile(prefill, model));
  TLM_ASSIGN_OR_RETURN(s->kv_, s->backend_->CreateKvCache(KvSpecFor(decode, s->n_ctx_)));
  s->load_metrics_.compile_ms = MsSince(t0);
  return s;
}

Status Session::CheckRoom(int64_t n) const {
  if (position_ + n > n_ctx_)
    return ResourceExhausted("context full: {} tokens at position {} exceed the context of {} (raise --ctx)", n,
                             position_, n_ctx_);
  return Status::Ok();
}

Status Session::Prefill(std::span<const int32_t> tokens, std::vector<float>* logits, bool all_logits) {
  if (tokens.empty()) return InvalidArgument("prefill of zero tokens");
  TLM_RETURN_IF_ERROR(CheckRoom(static_cast<int64_t>(tokens.size())));
  const int64_t V = n_vocab();
  const int64_t chunk = options_.prefill_chunk;
  if (all_logits && !prefill_all_) {
    // All-logits steps carry chunk x vocab outputs; keep that chunk modest.
    const Graph g = model_.arch().build_graph(model_.config(),
                                              {.max_tokens = std::min<int64_t>(chunk, 64), .last_row_only = false});
    TLM_ASSIGN_OR_RETURN(prefill_all_, backend_->Compile(g, model_));
  }
  const int64_t step = all_logits ? std::min<int64_t>(chunk, 64) : chunk;
  logits->resize(static_cast<size_t>((all_logits ? tokens.size() : 1) * V));
  for (size_t begin = 0; begin < tokens.size(); begin += step) {
    const size_t n = std::min<size_t>(step, tokens.size() - begin);
    StepInput in{tokens.subspan(begin, n), position_};
    std::span<float> out = all_logits ? std::span<float>(logits->data() + begin * V, n * V)
                                      : std::span<float>(logits->data(), V);
    Executable& exe = all_logits ? *prefill_all_ : (n == 1 ? *decode_ : *prefill_last_);
    TLM_RETURN_IF_ERROR(exe.Run(in, *kv_, out));
    position_ += static_cast<int64_t>(n);
  }
  return Status::Ok();
}

Status Session::Decode(int32_t token, std::vector<float>* logits) {
  TLM_RETURN_IF_ERROR(CheckRoom(1));
  logits->resize(static_cast<size_t>(n_vocab()));
  const int32_t one[1] = {token};
  TLM_RETURN_IF_ERROR(decode_->Run({std::span<const int32_t>(one, 1), position_}, *kv_, *logits));
  ++position_;
  return Status::Ok();
}

void Session::Reset() {
  position_ = 0;
  kv_->Clear();
}

}  // namespace tlm

// The worker's workloads: generate, accuracy and null (see workload.h).
#include "devices/worker/workload.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "devices/probe/memory.h"
#include "devices/worker/instruction_counter.h"
#include "engine/common/metric_names.h"
#include "engine/common/sha256.h"
#include "engine/common/stats.h"
#include "engine/model/model.h"
#include "engine/session/logit_agreement.h"
#include "engine/session/random_prompt.h"
#include "engine/session/sampler.h"
#include "engine/session/session.h"

namespace tlm {
namespace {

namespace v1 = tlmbench::v1;
using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

class Emitter {
 public:
  Emitter(const v1::RunSpec& spec, const EventSink& sink, v1::RunResult* result)
      : spec_(spec), sink_(sink), result_(result) {}

  void Progress(std::string message, double fraction = -1) {
    v1::RunEvent e;
    e.set_run_id(spec_.run_id());
    e.mutable_progress()->set_message(std::move(message));
    e.mutable_progress()->set_fraction(fraction);
    sink_(e);
  }
  // Adds the sample to the result and streams it.
  void Sample(int repetition, std::string_view metric, double value, std::string_view unit) {
    v1::Sample* s = result_->add_samples();
    s->set_repetition(repetition);
    s->set_metric(std::string(metric));
    s->set_value(value);
    s->set_unit(std::string(unit));
    v1::RunEvent e;
    e.set_run_id(spec_.run_id());
    *e.mutable_sample() = *s;
    sink_(e);
  }

 private:
  const v1::RunSpec& spec_;
  const EventSink& sink_;
  v1::RunResult* result_;
};

// The LoadGen rule: go on until both the minimum count and the minimum duration are met, and stop
// at max_reps whatever the duration.
bool MoreRepetitions(const v1::Measurement& m, int done, Clock::time_point start) {
  const int min_reps = std::max(1, m.min_reps());
  if (m.max_reps() > 0 && done >= m.max_reps()) return false;
  if (done < min_reps) return true;
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  return elapsed_s < m.min_duration_s();
}

int ResolveThreads(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  double load_ms = 0;
};

StatusOr<std::unique_ptr<Session>> OpenSession(const v1::RunSpec& spec, const Model& model, int n_ctx,
                                               int prefill_chunk) {
  SessionOptions so;
  so.backend = spec.backend().empty() ? "cpu" : spec.backend();
  so.threads = ResolveThreads(spec.threads());
  so.n_ctx = n_ctx;
  so.prefill_chunk = std::max(1, prefill_chunk);
  if (!spec.activations().empty() && !ParseActivations(spec.activations(), &so.activations))
    return InvalidArgument("activations must be f32, q8 or q8x2, got '{}'", spec.activations());
  return Session::Create(model, so);
}

StatusOr<LoadedModel> LoadForRun(const v1::RunSpec& spec, const std::string& path, int n_ctx, int prefill_chunk,
                                 Emitter& emit) {
  emit.Progress(fmt::format("loading {}", spec.model()));
  LoadedModel out;
  const auto t0 = Clock::now();
  TLM_ASSIGN_OR_RETURN(out.model, Model::Load(path));
  TLM_ASSIGN_OR_RETURN(out.session, OpenSession(spec, *out.model, n_ctx, prefill_chunk));
  out.load_ms = MsBetween(t0, Clock::now());
  return out;
}

void DescribeRun(const LoadedModel& m, const v1::RunSpec& spec, v1::RunResult* result) {
  result->set_model_description(m.model->description());
  result->set_backend_device(m.session->backend().device_description());
  result->set_threads(ResolveThreads(spec.threads()));
}

Status MemorySamples(const Model& m, const Session& s, PeakMemoryTracker& tracker, const MemorySnapshot& faults0,
                     Emitter& emit) {
  if (Status st = tracker.Stop(); !st.ok()) emit.Progress(fmt::format("warning: memory sampling: {}", st.message()));
  const MemoryPeaks peaks = tracker.Peaks();
  emit.Sample(0, metric::kRssPeakAnonBytes, static_cast<double>(peaks.rss_peak_anon_bytes), unit::kBytes);
  emit.Sample(0, metric::kRssPeakFileBytes, static_cast<double>(peaks.rss_peak_file_bytes), unit::kBytes);
  uint64_t weights = 0, resident = 0;
  for (const GgufTensor& t : m.file().tensors()) {
    weights += t.bytes;
    TLM_ASSIGN_OR_RETURN(uint64_t r, ResidentBytes(t.data, t.bytes));
    resident += r;
  }
  emit.Sample(0, metric::kWeightsBytes, static_cast<double>(weights), unit::kBytes);
  emit.Sample(0, metric::kWeightsResidentBytes, static_cast<double>(resident), unit::kBytes);
  if (const GgufTensor* embd = m.file().FindTensor("token_embd.weight")) {
    TLM_ASSIGN_OR_RETURN(uint64_t r, ResidentBytes(embd->data, embd->bytes));
    emit.Sample(0, metric::kEmbdBytes, static_cast<double>(embd->bytes), unit::kBytes);
    emit.Sample(0, metric::kEmbdResidentBytes, static_cast<double>(r), unit::kBytes);
    emit.Sample(0, metric::kEmbdResidentFrac, embd->bytes ? static_cast<double>(r) / embd->bytes : 0, unit::kFraction);
  }
  if (auto faults1 = ReadMemorySnapshot(); faults1.ok()) {
    emit.Sample(0, metric::kFaultsMajor, static_cast<double>(faults1->faults_major - faults0.faults_major),
                unit::kCount);
    emit.Sample(0, metric::kFaultsMinor, static_cast<double>(faults1->faults_minor - faults0.faults_minor),
                unit::kCount);
  }
  emit.Sample(0, metric::kKvBytes, static_cast<double>(s.kv_bytes()), unit::kBytes);
  emit.Sample(0, metric::kContextTokens, static_cast<double>(s.n_ctx()), unit::kTokens);
  for (const BackendMetric& b : s.backend().metrics()) emit.Sample(0, b.name, b.value, b.unit);
  return Status::Ok();
}

void LoadSamples(const LoadedModel& m, Emitter& emit) {
  emit.Sample(0, metric::kLoadMs, m.load_ms, unit::kMs);
  emit.Sample(0, metric::kModelNParams, static_cast<double>(m.model->n_params()), unit::kCount);
  emit.Sample(0, metric::kBackendInitMs, m.session->load_metrics().backend_init_ms, unit::kMs);
  emit.Sample(0, metric::kCompileMs, m.session->load_metrics().compile_ms, unit::kMs);
  const BackendLoadInfo info = m.session->backend().load_info();
  if (info.has_cache) emit.Sample(0, metric::kProgramCacheWarm, info.cache_warm ? 1.0 : 0.0, unit::kCount);
  if (info.repack_bytes > 0) {
    emit.Sample(0, metric::kRepackMs, info.repack_ms, unit::kMs);
    emit.Sample(0, metric::kRepackBytes, static_cast<double>(info.repack_bytes), unit::kBytes);
  }
}

StatusOr<v1::RunResult> RunGenerate(const v1::RunSpec& spec, const std::string& path, const EventSink& sink) {
  if (spec.n_prompt() < 1) return InvalidArgument("n_prompt must be at least 1, got {}", spec.n_prompt());
  if (spec.n_gen() < 0) return InvalidArgument("n_gen must be 0 or more, got {}", spec.n_gen());
  v1::RunResult result;
  Emitter emit(spec, sink, &result);
  PeakMemoryTracker tracker;
  TLM_ASSIGN_OR_RETURN(MemorySnapshot faults0, ReadMemorySnapshot());
  TLM_RETURN_IF_ERROR(tracker.Start());

  const int n_ctx = spec.n_ctx() > 0 ? spec.n_ctx() : spec.n_prompt() + spec.n_gen();
  if (spec.n_prompt() + spec.n_gen() > n_ctx)
    return InvalidArgument("n_prompt {} plus n_gen {} exceed n_ctx {}", spec.n_prompt(), spec.n_gen(), n_ctx);
  TLM_ASSIGN_OR_RETURN(LoadedModel m, LoadForRun(spec, path, n_ctx, std::min(spec.n_prompt(), 512), emit));
  DescribeRun(m, spec, &result);
  LoadSamples(m, emit);
  Session& s = *m.session;

  const v1::Measurement& mp = spec.measurement();
  const std::vector<int32_t> prompt = MakeRandomPrompt(m.model->tokenizer(), spec.n_prompt(), mp.seed());
  Sampler sampler(SamplerConfig{}, static_cast<int32_t>(s.n_vocab()));
  std::vector<float> logits;
  std::unique_ptr<InstructionCounter> counter;
  if (spec.counter() == "instructions") {
    TLM_ASSIGN_OR_RETURN(counter, InstructionCounter::Create());
    emit.Progress(fmt::format("counting instructions with {}", counter->source()));
  } else if (!spec.counter().empty()) {
    return InvalidArgument("unknown counter '{}' (known: instructions)", spec.counter());
  }
  auto one_rep = [&](int rep) -> Status {
    s.Reset();
    sampler.Reset();
    if (counter && rep > 0) TLM_RETURN_IF_ERROR(counter->Start());
    const auto t0 = Clock::now();
    TLM_RETURN_IF_ERROR(s.Prefill(prompt, &logits));
    int32_t token = sampler.Sample(logits);
    const auto t_first = Clock::now();
    std::vector<double> itl;
    itl.reserve(spec.n_gen());
    auto t_prev = t_first;
    for (int i = 0; i < spec.n_gen(); ++i) {
      TLM_RETURN_IF_ERROR(s.Decode(token, &logits));
      token = sampler.Sample(logits);
      const auto t = Clock::now();
      itl.push_back(MsBetween(t_prev, t));
      t_prev = t;
    }
    if (rep <= 0) return Status::Ok();  // warm-up
    if (counter) {
      TLM_ASSIGN_OR_RETURN(uint64_t instructions, counter->Stop());
      emit.Sample(rep, metric::kInstructions, static_cast<double>(instructions), unit::kCount);
    }
    const double ttft_ms = MsBetween(t0, t_first);
    emit.Sample(rep, metric::kTtftMs, ttft_ms, unit::kMs);
    emit.Sample(rep, metric::kPrefillTps, spec.n_prompt() / (ttft_ms / 1000.0), unit::kTokensPerS);
    if (spec.n_gen() > 0) {
      emit.Sample(rep, metric::kDecodeTps, spec.n_gen() / (MsBetween(t_first, t_prev) / 1000.0), unit::kTokensPerS);
      const Summary sum = Summarize(itl);
      emit.Sample(rep, metric::kItlMsP50, sum.median, unit::kMs);
      emit.Sample(rep, metric::kItlMsP90, sum.p90, unit::kMs);
      emit.Sample(rep, metric::kItlMsP99, sum.p99, unit::kMs);
    }
    return Status::Ok();
  };
  for (int w = 0; w < mp.warmup(); ++w) {
    emit.Progress(fmt::format("warm-up {}/{}", w + 1, mp.warmup()));
    TLM_RETURN_IF_ERROR(one_rep(0));
  }
  const auto start = Clock::now();
  int reps = 0;
  while (MoreRepetitions(mp, reps, start)) {
    ++reps;
    emit.Progress(fmt::format("repetition {}", reps),
                  std::min(1.0, static_cast<double>(reps) / std::max(1, mp.min_reps())));
    TLM_RETURN_IF_ERROR(one_rep(reps));
  }
  result.set_reps(reps);
  TLM_RETURN_IF_ERROR(MemorySamples(*m.model, s, tracker, faults0, emit));
  // After the residency readings: hashing reads every page of the file.
  result.set_model_sha256(Sha256Hex(m.model->file().base(), m.model->file().size()));
  return result;
}

StatusOr<v1::RunResult> RunAccuracy(const v1::RunSpec& spec, const std::string& path, const EventSink& sink) {
  v1::RunResult result;
  Emitter emit(spec, sink, &result);
  bool want_ppl = false, want_kld = false;
  for (const std::string& task : spec.accuracy_tasks()) {
    if (task == "ppl")
      want_ppl = true;
    else if (task == "kld")
      want_kld = true;
    else
      return InvalidArgument("unknown accuracy task '{}' (known: ppl, kld)", task);
  }
  if (!want_ppl && !want_kld) return InvalidArgument("the accuracy workload needs tasks: ppl and/or kld");

  // The model is loaded once: the text's tokens size the session, and the reference shares it.
  emit.Progress(fmt::format("loading {}", spec.model()));
  LoadedModel m;
  const auto t0 = Clock::now();
  TLM_ASSIGN_OR_RETURN(m.model, Model::Load(path));
  std::vector<int32_t> tokens = m.model->tokenizer().Encode(AccuracyText(), /*add_bos=*/true, false);
  const int limit = spec.n_prompt() > 0 ? spec.n_prompt() : 512;  // evaluation tokens
  if (static_cast<int>(tokens.size()) > limit) tokens.resize(limit);
  if (tokens.size() < 2) return InvalidArgument("the accuracy text gives fewer than 2 tokens");
  const int n = static_cast<int>(tokens.size());
  TLM_ASSIGN_OR_RETURN(m.session, OpenSession(spec, *m.model, n, n));
  m.load_ms = MsBetween(t0, Clock::now());
  DescribeRun(m, spec, &result);
  LoadSamples(m, emit);
  const int64_t n_vocab = m.session->n_vocab();
  std::vector<float> logits;
  emit.Progress(fmt::format("scoring {} tokens on {}", n, spec.backend()));
  TLM_RETURN_IF_ERROR(m.session->Prefill(tokens, &logits, /*all_logits=*/true));
  if (logits.size() != static_cast<size_t>(n) * n_vocab)
    return Internal("expected {} x {} logits, got {}", n, n_vocab, logits.size());

  if (want_ppl) emit.Sample(1, metric::kPpl, Perplexity(logits, n_vocab, tokens), unit::kRatio);
  if (want_kld) {
    // The reference: the same model on the CPU backend with exact f32 activations.
    v1::RunSpec ref_spec = spec;
    ref_spec.set_backend("cpu");
    ref_spec.set_activations("f32");
    emit.Progress("scoring the CPU f32 reference");
    TLM_ASSIGN_OR_RETURN(std::unique_ptr<Session> ref, OpenSession(ref_spec, *m.model, n, n));
    std::vector<float> ref_logits;
    TLM_RETURN_IF_ERROR(ref->Prefill(tokens, &ref_logits, /*all_logits=*/true));
    const LogitAgreement agreement = CompareLogits(ref_logits, logits, n_vocab);
    emit.Sample(1, metric::kKldMean, agreement.kld_mean, unit::kNats);
    emit.Sample(1, metric::kTop1Agree, agreement.top1_agree, unit::kFraction);
  }
  emit.Sample(0, metric::kContextTokens, n, unit::kTokens);
  for (const BackendMetric& b : m.session->backend().metrics()) emit.Sample(0, b.name, b.value, b.unit);
  result.set_reps(1);
  result.set_model_sha256(Sha256Hex(m.model->file().base(), m.model->file().size()));
  return result;
}

StatusOr<v1::RunResult> RunNull(const v1::RunSpec& spec, const EventSink& sink) {
  v1::RunResult result;
  Emitter emit(spec, sink, &result);
  const v1::NullWorkload& nw = spec.null_workload();
  if (nw.hang_s() > 0) {
    emit.Progress(fmt::format("null workload: hanging for {} s", nw.hang_s()));
    std::this_thread::sleep_for(std::chrono::duration<double>(nw.hang_s()));
  }
  if (nw.crash()) {
    emit.Progress("null workload: crashing on purpose");
    std::abort();
  }
  if (nw.alloc_bytes() > 0) {
    void* p = ::mmap(nullptr, nw.alloc_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return ResourceExhausted("cannot map {} bytes", nw.alloc_bytes());
    const long page = ::sysconf(_SC_PAGESIZE);
    for (uint64_t off = 0; off < nw.alloc_bytes(); off += page) static_cast<char*>(p)[off] = 1;
    ::munmap(p, nw.alloc_bytes());
  }
  const v1::Measurement& mp = spec.measurement();
  for (int w = 0; w < mp.warmup(); ++w)
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(nw.sleep_ms()));
  const auto start = Clock::now();
  int reps = 0;
  while (MoreRepetitions(mp, reps, start)) {
    ++reps;
    const auto t0 = Clock::now();
    if (nw.sleep_ms() > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(nw.sleep_ms()));
    emit.Sample(reps, metric::kNullRepMs, MsBetween(t0, Clock::now()), unit::kMs);
  }
  result.set_reps(reps);
  result.set_threads(1);
  result.set_backend_device("none (null workload)");
  return result;
}

std::map<std::string, WorkloadHandler>& ExtraWorkloads() {
  static std::map<std::string, WorkloadHandler> handlers;
  return handlers;
}

}  // namespace

void RegisterWorkload(const std::string& name, WorkloadHandler handler) {
  ExtraWorkloads()[name] = std::move(handler);
}

StatusOr<v1::RunResult> RunWorkload(const v1::RunSpec& spec, const std::string& model_path, const EventSink& sink) {
  const std::string& w = spec.workload();
  StatusOr<v1::RunResult> result = Status(StatusCode::kInvalidArgument, "");
  if (w == "generate" || w.empty()) {
    result = RunGenerate(spec, model_path, sink);
  } else if (w == "accuracy") {
    result = RunAccuracy(spec, model_path, sink);
  } else if (w == "null") {
    result = RunNull(spec, sink);
  } else if (auto it = ExtraWorkloads().find(w); it != ExtraWorkloads().end()) {
    result = it->second(spec, model_path, sink);
  } else {
    return InvalidArgument("unknown workload '{}' (known: generate, accuracy, null, qualify)", w);
  }
  if (result.ok()) {
    result->set_run_id(spec.run_id());
    result->set_status(v1::OK);
  }
  return result;
}

std::string_view AccuracyText() {
  // Public-domain prose (the opening of "The Wonderful Wizard of Oz", L. Frank Baum, 1900): fixed,
  // so that perplexity and divergence are comparable across runs, devices and commits.
  return "Dorothy lived in the midst of the great Kansas prairies, with Uncle Henry, who was a farmer, and "
         "Aunt Em, who was the farmer's wife. Their house was small, for the lumber to build it had to be "
         "carried by wagon many miles. There were four walls, a floor and a roof, which made one room; and "
         "this room contained a rusty looking cookstove, a cupboard for the dishes, a table, three or four "
         "chairs, and the beds. Uncle Henry and Aunt Em had a big bed in one corner, and Dorothy a little "
         "bed in another corner. There was no garret at all, and no cellar—except a small hole dug in the "
         "ground, called a cyclone cellar, where the family could go in case one of those great whirlwinds "
         "arose, mighty enough to crush any building in its path. It was reached by a trap door in the "
         "middle of the floor, from which a ladder led down into the small, dark hole.\n\n"
         "When Dorothy stood in the doorway and looked around, she could see nothing but the great gray "
         "prairie on every side. Not a tree nor a house broke the broad sweep of flat country that reached "
         "to the edge of the sky in all directions. The sun had baked the plowed land into a gray mass, "
         "with little cracks running through it. Even the grass was not green, for the sun had burned the "
         "tops of the long blades until they were the same gray color to be seen everywhere. Once the house "
         "had been painted, but the sun blistered the paint and the rains washed it away, and now the house "
         "was as dull and gray as everything else.";
}

}  // namespace tlm

// The CPU backend: compiles a Graph into a list of steps over preallocated, liveness-reused
// activation buffers, and runs them with the kernels of the dispatch table (kernels/cpu/dispatch.h:
// AVX2/FMA where the CPU has it, else the scalar reference) spread over a worker pool by output
// rows. Run allocates only on its first step against a KV cache of a larger context.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.h"
#include "kernels/cpu/backend/cpu_backend.h"
#include "kernels/cpu/backend/gemm_matmul.h"
#include "kernels/cpu/backend/thread_pool.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/huge_pages.h"
#include "kernels/cpu/ref/attention.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm::cpu {
namespace {

using ref::BlockQ8;

class CpuKvCache final : public KvCache {
 public:
  explicit CpuKvCache(const KvSpec& spec) : spec_(spec) {
    for (const KvLayerSpec& l : spec.layers) {
      const size_t n = static_cast<size_t>(l.capacity * l.n_kv_head * l.head_dim);
      k_.emplace_back(n, 0.f);
      v_.emplace_back(n, 0.f);
      bytes_ += 2 * n * sizeof(float);
    }
  }
  uint64_t bytes() const override { return bytes_; }
  void Clear() override {
    for (auto& k : k_) std::fill(k.begin(), k.end(), 0.f);
    for (auto& v : v_) std::fill(v.begin(), v.end(), 0.f);
  }
  const KvSpec& spec() const { return spec_; }
  float* k(int layer) { return k_[layer].data(); }
  float* v(int layer) { return v_[layer].data(); }

 private:
  KvSpec spec_;
  std::vector<std::vector<float>> k_, v_;
  uint64_t bytes_ = 0;
};

// Huge-page memory (AnonymousMemory) handed out back to back, 64-byte aligned, from regions of
// at least 64 MiB, so that small matrices share huge pages; only the pages written become
// resident.
class HugePageArena {
 public:
  uint8_t* Allocate(size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    if (regions_.empty() || used_ + bytes > regions_.back()->size()) {
      regions_.push_back(std::make_unique<AnonymousMemory>(std::max(kRegionBytes, bytes), /*huge_pages=*/true));
      used_ = 0;
    }
    uint8_t* out = regions_.back()->data() + used_;
    used_ += bytes;
    return out;
  }

 private:
  static constexpr size_t kRegionBytes = size_t{64} << 20;
  std::vector<std::unique_ptr<AnonymousMemory>> regions_;
  size_t used_ = 0;  // of the last region
};

// Weights copied at load into the kernels' own memory: repacked into a layout of the table
// (CpuKernels::packed_gemv) or copied as they are, in huge pages; once per weight however many
// executables use it (a session compiles its decode and prefill graphs over the same weights).
// The copies live as long as the backend; the time and bytes are the backend's load figures
// (BackendLoadInfo).
class PackedWeights {
 public:
  // The packed copy of w's rows (rows of k elements, row_bytes apart in both layouts). The rows
  // it packed leave this process's memory as it goes (WeightSource::ReleaseResidency: a mapped
  // model's pages), so the copies replace the mapped weights rather than add to them.
  const uint8_t* Get(ThreadPool& pool, const PackedGemv& packed, const WeightSource& source, const WeightView& w,
                     uint64_t row_bytes, int64_t rows, int64_t k) {
    auto it = packed_.find(w.data);
    if (it != packed_.end()) return it->second;
    const auto t0 = std::chrono::steady_clock::now();
    const auto bytes = static_cast<size_t>(row_bytes * static_cast<uint64_t>(rows));
    uint8_t* dst = arena_.Allocate(bytes);
    const auto* src = static_cast<const uint8_t*>(w.data);
    pool.ParallelFor(rows, packed.row_panel, [&](int64_t begin, int64_t end, int) {
      packed.pack(src + begin * row_bytes, row_bytes, end - begin, k, dst + begin * row_bytes);
      source.ReleaseResidency(src + begin * row_bytes, (end - begin) * row_bytes);
    });
    ms_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    bytes_ += bytes;
    packed_.emplace(w.data, dst);
    if (layouts_.find(packed.layout) == std::string::npos) {
      if (!layouts_.empty()) layouts_ += ',';
      layouts_ += packed.layout;
    }
    return dst;
  }
  double ms() const { return ms_; }
  uint64_t bytes() const { return bytes_; }
  const std::string& layouts() const { return layouts_; }

 private:
  HugePageArena arena_;
  std::unordered_map<const void*, const uint8_t*> packed_;
  double ms_ = 0;
  uint64_t bytes_ = 0;
  std::string layouts_;
};

// Step times by op and phase (BackendOptions::profile_ops), shared by a backend's executables;
// entries are added at compile, so Run only adds to them.
class OpProfiler {
 public:
  // The entry of (op, one_token), added on first use.
  size_t Key(const std::string& op, bool one_token) {
    for (size_t k = 0; k < entries_.size(); ++k)
      if (entries_[k].op == op && entries_[k].one_token == one_token) return k;
    entries_.push_back({.op = op, .one_token = one_token});
    return entries_.size() - 1;
  }
  void Add(size_t key, double ms) {
    ++entries_[key].calls;
    entries_[key].ms += ms;
  }
  std::vector<OpTime> Entries() const {
    std::vector<OpTime> out;
    for (const OpTime& e : entries_)
      if (e.calls > 0) out.push_back(e);
    return out;
  }
  void Clear() {
    for (OpTime& e : entries_) e.calls = 0, e.ms = 0;
  }

 private:
  std::vector<OpTime> entries_;
};

// Times one step of Run into its profiler entry; nothing without a profiler.
class StepTimer {
 public:
  StepTimer(OpProfiler* profiler, size_t key) : profiler_(profiler), key_(key) {
    if (profiler_ != nullptr) t0_ = std::chrono::steady_clock::now();
  }
  ~StepTimer() {
    if (profiler_ != nullptr)
      profiler_->Add(key_, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count());
  }
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

 private:
  OpProfiler* profiler_;
  size_t key_;
  std::chrono::steady_clock::time_point t0_;
};

struct Step {
  const Node* node = nullptr;
  int node_index = -1;
  int out = -1;  // buffer index (-1: writes the caller's logits)
  int in[3] = {-1, -1, -1};
  const WeightView* weight = nullptr;
  uint64_t weight_row_bytes = 0;
  bool quantized = false;  // weight uses the Q8-activation dot
  MatMulFn external;       // a matmul provided through CpuBackendHooks (cpu-xnnpack)
  // q8 activations: the weight rows the kernels read (the copy made at load, repacked where the
  // table has a layout for the type, or the model's own rows), the decode GEMV and the prefill
  // GEMM over them.
  const uint8_t* q8_weights = nullptr;
  VecDotQ8RowsFn q8_rows = nullptr;
  VecDotQ8x2RowsFn q8_rows_x2 = nullptr;  // q8x2 in one pass (rows_x2 / vec_dot_q8x2_rows), or null: two
  GemmQ8Fn q8_gemm = nullptr;
  int64_t q8_panel = 1;  // rows a call of q8_rows / q8_gemm takes a multiple of (PackedGemv::row_panel)
  // A q8-activation matmul on the CPU kernels (MatMulGroup). Those of one input run as one:
  // this step and the next group - 1 (group 0: a member run by the step before it).
  bool q8 = false;
  int group = 1;
  size_t profile_key[2] = {0, 0};  // OpProfiler entries of steps of several tokens [0] and of one [1]
};

void CopyRows(const void* w, size_t row_stride, int64_t n_rows, int64_t, void* dst) {
  std::memcpy(dst, w, row_stride * static_cast<size_t>(n_rows));
}

// Most matmuls that share an input (a layer's q, k and v; gate and up) run as one step.
constexpr int kMaxMatMulGroup = 4;

bool IsFloatType(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

class CpuExecutable final : public Executable {
 public:
  CpuExecutable(const Graph& graph, ThreadPool* pool, Activations activations, const CpuKernels& kernels,
                const MatMulProvider* provider, PackedWeights* packed, bool copy_weights, OpProfiler* profiler)
      : copy_weights_(copy_weights),
        profiler_(profiler),
        graph_(graph),
        pool_(pool),
        activations_(activations),
        kernels_(kernels),
        provider_(provider),
        packed_(packed) {}

  Status Compile(const WeightSource& weights) {
    const auto& nodes = graph_.nodes;
    if (graph_.output < 0 || graph_.output != static_cast<int>(nodes.size()) - 1)
      return Internal("graph output must be its last node");
    for (size_t i = 0; i < nodes.size(); ++i)
      for (int in : nodes[i].inputs)
        if (in >= static_cast<int>(i)) return Internal("node {} reads a later node", nodes[i].label);
    // Step order: the graph's, except that a matmul pulls the later matmuls of the same input
    // (a matmul reads nothing else) up behind it, so that they can run as one (Step::group).
    std::vector<int> order;
    std::vector<bool> placed(nodes.size(), false);
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (placed[i]) continue;
      order.push_back(static_cast<int>(i));
      if (nodes[i].op != OpKind::kMatMul) continue;
      for (size_t j = i + 1; j < nodes.size(); ++j)
        if (!placed[j] && static_cast<int>(j) != graph_.output && nodes[j].op == OpKind::kMatMul &&
            nodes[j].inputs[0] == nodes[i].inputs[0]) {
          order.push_back(static_cast<int>(j));
          placed[j] = true;
        }
    }
    // Liveness: the last step (position in `order`) that reads each node.
    std::vector<int> last_use(nodes.size(), -1);
    for (size_t pos = 0; pos < order.size(); ++pos)
      for (int in : nodes[order[pos]].inputs)
        if (in >= 0) last_use[in] = static_cast<int>(pos);
    std::vector<int> node_buffer(nodes.size(), -1);
    std::vector<bool> buffer_free;
    int64_t max_q8_blocks = 0, max_k = 0;
    for (size_t pos = 0; pos < order.size(); ++pos) {
      const size_t i = static_cast<size_t>(order[pos]);
      const Node& n = nodes[i];
      Step s;
      s.node = &n;
      s.node_index = static_cast<int>(i);
      for (int j = 0; j < 3; ++j) s.in[j] = n.inputs[j] >= 0 ? node_buffer[n.inputs[j]] : -1;
      TLM_RETURN_IF_ERROR(Validate(n, weights, &s));
      if (n.op == OpKind::kMatMul && provider_ != nullptr && *provider_) {
        auto fn = (*provider_)(n, InputWidth(n), *s.weight);
        if (!fn.ok()) return fn.status();
        if (*fn) {  // an empty function leaves this matmul to the CPU kernels (the npu backend's fallback)
          s.external = std::move(fn).value();
          s.quantized = false;
        }
      }
      if (s.quantized && activations_ != Activations::kF32) {
        s.q8_weights = static_cast<const uint8_t*>(s.weight->data);
        s.q8_rows = kernels_.VecDotQ8RowsFor(s.weight->type);
        s.q8_rows_x2 = kernels_.VecDotQ8x2RowsFor(s.weight->type);
        s.q8_gemm = kernels_.GemmQ8For(s.weight->type);
        // A type without a packed layout is copied as it is, into huge pages.
        const PackedGemv copy{.layout = "copy",
                              .max_n = std::numeric_limits<int64_t>::max(),
                              .pack = &CopyRows,
                              .rows = s.q8_rows,
                              .rows_x2 = s.q8_rows_x2,
                              .gemm = s.q8_gemm};
        const PackedGemv& own = kernels_.PackedGemvFor(s.weight->type);
        const bool own_fits = own.layout != nullptr && InputWidth(n) <= own.max_n && n.width % own.row_panel == 0;
        const PackedGemv& p = own_fits ? own : copy;
        if (own_fits || copy_weights_) {
          // The mapped rows leave memory once copied; an embedding lookup of a tied output
          // maps back the few rows it reads.
          s.q8_weights = packed_->Get(*pool_, p, weights, *s.weight, s.weight_row_bytes, n.width, InputWidth(n));
          s.q8_rows = p.rows;
          s.q8_rows_x2 = p.rows_x2;
          s.q8_gemm = p.gemm;
          s.q8_panel = p.row_panel;
        }
      }
      if (s.quantized) max_q8_blocks = std::max(max_q8_blocks, graph_.max_tokens * (InputWidth(n) / 32));
      if (n.op == OpKind::kMatMul) max_k = std::max(max_k, InputWidth(n));
      if (static_cast<int>(i) != graph_.output) {
        const size_t need = static_cast<size_t>(graph_.max_tokens * std::max<int64_t>(n.width, 1));
        int best = -1;
        for (size_t b = 0; b < buffers_.size(); ++b)
          if (buffer_free[b] && (best < 0 || buffers_[b].size() < buffers_[best].size()) && buffers_[b].size() >= need)
            best = static_cast<int>(b);
        if (best < 0) {
          for (size_t b = 0; b < buffers_.size(); ++b)  // grow a free one rather than add another
            if (buffer_free[b]) {
              best = static_cast<int>(b);
              buffers_[b].resize(need);
              break;
            }
        }
        if (best < 0) {
          buffers_.emplace_back(need);
          buffer_free.push_back(false);
          best = static_cast<int>(buffers_.size()) - 1;
        }
        buffer_free[best] = false;
        node_buffer[i] = best;
        s.out = best;
      }
      steps_.push_back(s);
      for (int in : n.inputs)
        if (in >= 0 && last_use[in] == static_cast<int>(pos) && node_buffer[in] >= 0)
          buffer_free[node_buffer[in]] = true;
    }
    // Groups: q8 matmuls on the CPU kernels, one after another, reading one input.
    for (Step& s : steps_)
      s.q8 = s.node->op == OpKind::kMatMul && s.quantized && !s.external && activations_ != Activations::kF32;
    // A member with panels starts on one in the group's rows (the decode split is by the
    // largest panel among the members).
    for (size_t first = 0; first < steps_.size();) {
      size_t end = first + 1;
      int64_t offset = steps_[first].node->width;
      if (steps_[first].q8)
        while (end < steps_.size() && end - first < kMaxMatMulGroup && steps_[end].q8 &&
               steps_[end].node_index != graph_.output &&
               steps_[end].node->inputs[0] == steps_[first].node->inputs[0] && offset % steps_[end].q8_panel == 0)
          offset += steps_[end++].node->width;
      steps_[first].group = static_cast<int>(end - first);
      for (size_t m = first + 1; m < end; ++m) steps_[m].group = 0;
      first = end;
    }
    if (profiler_ != nullptr) {
      for (size_t si = 0; si < steps_.size(); ++si) {
        if (steps_[si].group == 0) continue;
        const std::string op = StepName(si);
        for (int one_token = 0; one_token < 2; ++one_token)
          steps_[si].profile_key[one_token] = profiler_->Key(op, one_token == 1);
      }
    }
    if (activations_ == Activations::kQ8) q8_.resize(static_cast<size_t>(max_q8_blocks));
    if (activations_ == Activations::kQ8x2) {
      q8_.resize(static_cast<size_t>(2 * max_q8_blocks));
      residue_.resize(static_cast<size_t>(max_q8_blocks * 32));
      residue_out_.assign(static_cast<size_t>(pool_->size()),
                          std::vector<float>(static_cast<size_t>(2 * graph_.max_tokens * kResiduePiece)));
      for (const Step& s : steps_)
        if (s.q8 && kResiduePiece % s.q8_panel != 0)
          return Internal("q8x2: a {}-row panel does not divide the {}-row residue piece", s.q8_panel, kResiduePiece);
    }
    weight_rows_.assign(static_cast<size_t>(pool_->size()), std::vector<float>(static_cast<size_t>(max_k)));
    rows_.resize(nodes.size());
    CompileRopeTables();
    attention_layers_ = graph_.AttentionNodes().size();
    scores_.resize(static_cast<size_t>(pool_->size()));
    return Status::Ok();
  }

  Status Run(const StepInput& input, KvCache& kv_base, std::span<float> logits) override {
    auto* kv_ptr = dynamic_cast<CpuKvCache*>(&kv_base);
    if (kv_ptr == nullptr) return InvalidArgument("KV cache was not created by the cpu backend");
    CpuKvCache& kv = *kv_ptr;
    const int64_t T = static_cast<int64_t>(input.tokens.size());
    if (T < 1 || T > graph_.max_tokens)
      return InvalidArgument("step of {} tokens; this executable takes 1..{}", T, graph_.max_tokens);
    if (kv.spec().layers.size() < attention_layers_)
      return InvalidArgument("KV cache has {} layers; the graph needs {}", kv.spec().layers.size(), attention_layers_);
    for (const KvLayerSpec& l : kv.spec().layers)
      if ((l.window == 0 || l.capacity < l.window) && input.pos0 + T > l.capacity)
        return ResourceExhausted("context full: positions {}..{} do not fit a context of {}", input.pos0,
                                 input.pos0 + T - 1, l.capacity);
    // Attention scores: at most n_ctx keys per query. Sized once per context length, so decode
    // steps allocate nothing.
    if (scores_.front().size() < static_cast<size_t>(kv.spec().n_ctx))
      for (auto& sc : scores_) sc.resize(static_cast<size_t>(kv.spec().n_ctx));
    for (size_t si = 0; si < steps_.size(); ++si) {
      const Step& s = steps_[si];
      const Node& n = *s.node;
      const auto i = static_cast<size_t>(s.node_index);
      int64_t rows = n.op == OpKind::kTokens ? T : n.op == OpKind::kTakeLastRow ? 1 : rows_[n.inputs[0]];
      rows_[i] = rows;
      if (s.group == 0) continue;  // ran with its group's first matmul
      const StepTimer timer(profiler_, s.profile_key[T == 1 ? 1 : 0]);
      float* out = s.out >= 0 ? buffers_[s.out].data() : nullptr;
      if (out == nullptr) {
        if (logits.size() < static_cast<size_t>(rows * n.width))
          return InvalidArgument("logits buffer holds {} floats; {} rows of {} need {}", logits.size(), rows, n.width,
                                 rows * n.width);
        out = logits.data();
      }
      const float* a = s.in[0] >= 0 ? buffers_[s.in[0]].data() : nullptr;
      const float* b = s.in[1] >= 0 ? buffers_[s.in[1]].data() : nullptr;
      const float* c = s.in[2] >= 0 ? buffers_[s.in[2]].data() : nullptr;
      switch (n.op) {
        case OpKind::kTokens:
          for (int64_t t = 0; t < T; ++t) out[t] = static_cast<float>(input.tokens[t]);
          break;
        case OpKind::kEmbedding:
          TLM_RETURN_IF_ERROR(Embedding(s, input.tokens, out));
          break;
        case OpKind::kMatMul:
          if (s.external)
            s.external(a, rows, out);
          else if (s.q8)
            MatMulGroup(si, a, rows, out);
          else
            MatMul(s, a, rows, out);
          break;
        case OpKind::kRmsNorm:
          RmsNorm(s, a, rows, out);
          break;
        case OpKind::kRope:
          Rope(i, n, a, rows, input.pos0, out);
          break;
        case OpKind::kAttention:
          Attention(n, a, b, c, rows, input.pos0, kv, out);
          break;
        case OpKind::kAdd:
          Elementwise(kernels_.add_f32, a, b, rows * n.width, kParallelAddFloats, out);
          break;
        case OpKind::kGeluTanhGate:
          Elementwise(kernels_.gelu_tanh_gate_f32, a, b, rows * n.width, kParallelGateFloats, out);
          break;
        case OpKind::kSiluGate:
          Elementwise(kernels_.silu_gate_f32, a, b, rows * n.width, kParallelGateFloats, out);
          break;
        case OpKind::kTakeLastRow:
          std::memmove(out, a + (rows_[n.inputs[0]] - 1) * n.width, n.width * sizeof(float));
          break;
      }
    }
    return Status::Ok();
  }

 private:
  int64_t InputWidth(const Node& n) const { return graph_.nodes[n.inputs[0]].width; }

  Status Validate(const Node& n, const WeightSource& weights, Step* s) {
    for (int in : n.inputs)
      if (in >= 0 && graph_.nodes[in].op == OpKind::kTokens && n.op != OpKind::kEmbedding)
        return Internal("{}: only an embedding may read token ids", n.label);
    if (n.weight.empty()) {
      if (n.op == OpKind::kMatMul || n.op == OpKind::kEmbedding)
        return Internal("{}: {} without a weight", n.label, OpKindName(n.op));
      return Status::Ok();
    }
    const WeightView* w = weights.Find(n.weight);
    if (w == nullptr) return NotFound("{}: weight '{}' not in the model", n.label, n.weight);
    s->weight = w;
    switch (n.op) {
      case OpKind::kMatMul:
      case OpKind::kEmbedding: {
        const int64_t k = n.op == OpKind::kMatMul ? InputWidth(n) : n.width;
        const int64_t rows = n.op == OpKind::kMatMul ? n.width : graph_.n_vocab;
        if (w->dims.size() != 2 || w->dims[0] != k || w->dims[1] != rows)
          return InvalidArgument("{}: weight '{}' is not [{}, {}]", n.label, n.weight, k, rows);
        if (!ElemsToBytes(w->type, static_cast<uint64_t>(k), &s->weight_row_bytes))
          return InvalidArgument("{}: rows of {} do not fit type {}", n.label, k, DTypeName(w->type));
        s->quantized = n.op == OpKind::kMatMul && !IsFloatType(w->type);
        if (s->quantized && k % 32 != 0) return InvalidArgument("{}: row of {} is not a multiple of 32", n.label, k);
        break;
      }
      case OpKind::kRmsNorm:
        if (w->type != DType::kF32 || w->dims.size() != 1 || w->dims[0] != n.norm.group)
          return InvalidArgument("{}: norm weight '{}' must be f32 [{}]", n.label, n.weight, n.norm.group);
        break;
      default:
        return Internal("{}: {} takes no weight", n.label, OpKindName(n.op));
    }
    return Status::Ok();
  }

  Status Embedding(const Step& s, std::span<const int32_t> tokens, float* out) {
    const Node& n = *s.node;
    const auto* base = static_cast<const uint8_t*>(s.weight->data);
    for (size_t t = 0; t < tokens.size(); ++t)
      if (tokens[t] < 0 || tokens[t] >= graph_.n_vocab)
        return InvalidArgument("token id {} at step position {} is outside the vocabulary [0, {})", tokens[t], t,
                               graph_.n_vocab);
    const DequantizeRowFn dequantize = kernels_.DequantizeRowFor(s.weight->type);
    ForRows(static_cast<int64_t>(tokens.size()), n.width, kParallelCopyFloats, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        float* row = out + t * n.width;
        dequantize(base + tokens[t] * s.weight_row_bytes, row, n.width);
        if (n.scale != 1.f)
          for (int64_t e = 0; e < n.width; ++e) row[e] *= n.scale;
      }
    });
    return Status::Ok();
  }

  // The profile's name of step si: its op's, and a matmul's weight types (each member of its
  // group), "(output)" for the graph's output.
  std::string StepName(size_t si) const {
    const Step& s = steps_[si];
    std::string name = OpKindName(s.node->op);
    if (s.node->op != OpKind::kMatMul) return name;
    for (int m = 0; m < s.group; ++m)
      name += std::string(m == 0 ? " " : " + ") + std::string(DTypeName(steps_[si + m].weight->type));
    if (s.node_index == graph_.output) name += " (output)";
    return name;
  }

  // The matmuls steps_[first .. first + group) of one input x, q8 activations: x quantized once;
  // a decode row's weight rows of every member through one ParallelFor (one pool round trip,
  // not one per matmul), a prefill's one GEMM per member; both over the packed copies where
  // there are some. out: the first member's output (the caller's logits when it is the graph's).
  void MatMulGroup(size_t first, const float* x, int64_t rows, float* out) {
    const Step& lead = steps_[first];
    const int64_t k = InputWidth(*lead.node), blocks = k / 32;
    const bool residue = activations_ == Activations::kQ8x2;
    BlockQ8* q8r = q8_.data() + (residue ? rows * blocks : 0);  // the residue's blocks, after the rows'
    // A prefill's rows through the pool (the other workers would wait on this thread otherwise).
    // (q8x2 quantizes each row twice: twice the floats towards the threshold.)
    ForRows(rows, residue ? 2 * k : k, kParallelQuantizeFloats, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        BlockQ8* q = q8_.data() + r * blocks;
        kernels_.quantize_row_q8(x + r * k, q, k);
        if (!residue) continue;
        // What the rounding left, quantized the same way (its own scale per block).
        float* left = residue_.data() + r * k;
        for (int64_t b = 0; b < blocks; ++b)
          for (int64_t j = 0; j < 32; ++j) left[b * 32 + j] = x[r * k + b * 32 + j] - q[b].d * q[b].qs[j];
        kernels_.quantize_row_q8(left, q8r + r * blocks, k);
      }
    });
    const BlockQ8* q8 = q8_.data();
    struct Part {
      const uint8_t* w;
      uint64_t row_bytes;
      VecDotQ8RowsFn rows;
      VecDotQ8x2RowsFn rows_x2;
      float* out;
      int64_t begin, end;  // this member's weight rows within the group's
    };
    Part parts[kMaxMatMulGroup];
    int64_t total = 0, panel = 1;
    for (int m = 0; m < lead.group; ++m) {
      const Step& s = steps_[first + m];
      float* y = m == 0 ? out : buffers_[s.out].data();
      if (rows > 1) {  // prefill
        if (residue)
          GemmMatMulQ8x2(*pool_, s.q8_gemm, s.q8_weights, s.weight_row_bytes, s.node->width, q8, rows, k, y, s.q8_panel,
                         residue_out_);
        else
          GemmMatMulQ8(*pool_, s.q8_gemm, s.q8_weights, s.weight_row_bytes, s.node->width, q8, rows, k, y, s.q8_panel);
        continue;
      }
      parts[m] = {s.q8_weights, s.weight_row_bytes, s.q8_rows, s.q8_rows_x2, y, total, total + s.node->width};
      total += s.node->width;
      panel = std::max(panel, s.q8_panel);
    }
    if (rows != 1) return;
    // Decode: one activation row, several weight rows per kernel call, whole panels each.
    pool_->ParallelFor(total, panel, [&](int64_t begin, int64_t end, int) {
      for (int m = 0; m < lead.group; ++m) {
        const Part& p = parts[m];
        const int64_t b = std::max(begin, p.begin), e = std::min(end, p.end);
        if (b >= e) continue;
        if (!residue) {
          p.rows(p.w + (b - p.begin) * p.row_bytes, p.row_bytes, e - b, q8, k, p.out + (b - p.begin));
          continue;
        }
        if (p.rows_x2 != nullptr) {  // q8x2 in one pass over the weights
          p.rows_x2(p.w + (b - p.begin) * p.row_bytes, p.row_bytes, e - b, q8, q8r, k, p.out + (b - p.begin));
          continue;
        }
        // q8x2 otherwise: each piece of weight rows a second time, from cache, against the residue.
        for (int64_t c = b; c < e; c += kResiduePiece) {
          const int64_t n = std::min(kResiduePiece, e - c);
          const uint8_t* w = p.w + (c - p.begin) * p.row_bytes;
          float* y = p.out + (c - p.begin);
          float extra[kResiduePiece];
          p.rows(w, p.row_bytes, n, q8, k, y);
          p.rows(w, p.row_bytes, n, q8r, k, extra);
          for (int64_t j = 0; j < n; ++j) y[j] += extra[j];
        }
      }
    });
  }

  // Matmuls with f32 activations, or float weights.
  void MatMul(const Step& s, const float* x, int64_t rows, float* out) {
    const Node& n = *s.node;
    const int64_t k = InputWidth(n), nout = n.width;
    const auto* w = static_cast<const uint8_t*>(s.weight->data);
    const DType type = s.weight->type;
    const uint64_t row_bytes = s.weight_row_bytes;
    if (s.quantized && activations_ == Activations::kF32) {
      if (rows > 1) return GemmMatMulF32(*pool_, kernels_, type, w, row_bytes, nout, x, rows, k, out);  // prefill
      pool_->ParallelFor(nout, [&](int64_t begin, int64_t end, int worker) {
        float* wrow = weight_rows_[worker].data();
        const DequantizeRowFn dequantize = kernels_.DequantizeRowFor(type);
        for (int64_t o = begin; o < end; ++o) {
          dequantize(w + o * row_bytes, wrow, k);
          for (int64_t r = 0; r < rows; ++r) out[r * nout + o] = kernels_.dot_f32(wrow, x + r * k, k);
        }
      });
    } else {
      pool_->ParallelFor(nout, [&](int64_t begin, int64_t end, int) {
        for (int64_t o = begin; o < end; ++o)
          for (int64_t r = 0; r < rows; ++r) out[r * nout + o] = ref::VecDotF32(type, w + o * row_bytes, x + r * k, k);
      });
    }
  }

  void RmsNorm(const Step& s, const float* x, int64_t rows, float* out) {
    const Node& n = *s.node;
    const int64_t group = n.norm.group, groups = rows * n.width / group;
    const float* w = s.weight ? static_cast<const float*>(s.weight->data) : nullptr;
    const RmsNormF32Fn norm = kernels_.rms_norm_f32;
    ForRows(groups, group, kParallelNormFloats, [&](int64_t begin, int64_t end) {
      for (int64_t g = begin; g < end; ++g) norm(x + g * group, w, out + g * group, group, n.norm.eps);
    });
  }

  // One table per distinct rotation (n_rot, base, scale) of the graph: Gemma 3 has two.
  void CompileRopeTables() {
    rope_table_.assign(graph_.nodes.size(), -1);
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& n = graph_.nodes[i];
      if (n.op != OpKind::kRope) continue;
      const RopeParams& p = n.rope;
      auto same = [&](const RopeTable& t) {
        return t.n_rot == p.n_rot && t.freq_base == p.freq_base && t.freq_scale == p.freq_scale;
      };
      auto it = std::find_if(rope_tables_.begin(), rope_tables_.end(), same);
      if (it == rope_tables_.end()) {
        RopeTable t;
        t.n_rot = p.n_rot;
        t.freq_base = p.freq_base;
        t.freq_scale = p.freq_scale;
        for (int64_t j = 0; j < p.n_rot / 2; ++j)
          t.inv_freq.push_back(std::pow(static_cast<double>(p.freq_base), -2.0 * j / p.n_rot));
        t.cos.resize(static_cast<size_t>(graph_.max_tokens * (p.n_rot / 2)));
        t.sin.resize(t.cos.size());
        rope_tables_.push_back(std::move(t));
        it = rope_tables_.end() - 1;
      }
      rope_table_[i] = static_cast<int>(it - rope_tables_.begin());
    }
  }

  // The angles are those of the direct formula (pos * scale * base^(-2i / n_rot) in double), so
  // the results are bit for bit the same; cos and sin are computed once per step and rotation,
  // not per layer.
  void Rope(size_t step, const Node& n, const float* x, int64_t rows, int64_t pos0, float* out) {
    const RopeParams& p = n.rope;
    const int64_t heads = n.width / p.head_dim, half = p.n_rot / 2;
    RopeTable& table = rope_tables_[static_cast<size_t>(rope_table_[step])];
    if (table.pos0 != pos0 || table.rows < rows) {
      ForRows(rows, half * 8, kParallelCopyFloats, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          const double pos = static_cast<double>(pos0 + t) * p.freq_scale;
          for (int64_t i = 0; i < half; ++i) {
            const double theta = pos * table.inv_freq[static_cast<size_t>(i)];
            table.cos[static_cast<size_t>(t * half + i)] = static_cast<float>(std::cos(theta));
            table.sin[static_cast<size_t>(t * half + i)] = static_cast<float>(std::sin(theta));
          }
        }
      });
      table.pos0 = pos0;
      table.rows = rows;
    }
    const bool neox = p.mode == RopeMode::kNeox;
    ForRows(rows, n.width, kParallelCopyFloats, [&](int64_t begin, int64_t end) {
      if (out != x) std::memcpy(out + begin * n.width, x + begin * n.width, (end - begin) * n.width * sizeof(float));
      for (int64_t t = begin; t < end; ++t) {
        const float* cs = table.cos.data() + t * half;
        const float* sn = table.sin.data() + t * half;
        for (int64_t h = 0; h < heads; ++h) {
          float* v = out + t * n.width + h * p.head_dim;
          if (neox) {
            for (int64_t i = 0; i < half; ++i) {
              const float x0 = v[i], x1 = v[i + half];
              v[i] = x0 * cs[i] - x1 * sn[i];
              v[i + half] = x0 * sn[i] + x1 * cs[i];
            }
          } else {
            for (int64_t i = 0; i < half; ++i) {
              const float x0 = v[2 * i], x1 = v[2 * i + 1];
              v[2 * i] = x0 * cs[i] - x1 * sn[i];
              v[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
            }
          }
        }
      }
    });
  }

  // Non-matmul work through the pool only when it is large enough to pay for waking it (a
  // prefill's rows); a decode step's vectors stay on the calling thread. Thresholds in floats per
  // op, from the AVX2 kernels' cost on one core (GELU gate ~1.1 ns per float, SiLU gate ~0.5,
  // RMS norm ~0.16, add ~0.1): 4 to 10 us of work, several times a pool round trip.
  static constexpr int64_t kParallelGateFloats = 1 << 13;
  static constexpr int64_t kParallelNormFloats = 1 << 16;
  static constexpr int64_t kParallelAddFloats = 1 << 16;
  static constexpr int64_t kParallelCopyFloats = 1 << 16;
  // QuantizeRowQ8Avx2: ~0.3 ns per float.
  static constexpr int64_t kParallelQuantizeFloats = 1 << 14;
  // Elementwise chunks: whole cache lines, enough floats to amortize claiming one.
  static constexpr int64_t kElementGrain = 1024;

  void Elementwise(BinaryF32Fn fn, const float* a, const float* b, int64_t n, int64_t parallel_floats, float* out) {
    if (n < parallel_floats) return fn(a, b, out, n);
    pool_->ParallelFor(n, kElementGrain,
                       [&](int64_t begin, int64_t end, int) { fn(a + begin, b + begin, out + begin, end - begin); });
  }

  // fn(begin, end) over rows of `width` floats: on this thread when rows * width < parallel_floats.
  template <typename Fn>
  void ForRows(int64_t rows, int64_t width, int64_t parallel_floats, Fn&& fn) {
    if (rows < 2 || rows * width < parallel_floats) return fn(0, rows);
    pool_->ParallelFor(rows, [&](int64_t begin, int64_t end, int) { fn(begin, end); });
  }

  // Attention work: pieces per worker for a prefill, and keys per split-K chunk below which a
  // decode row stays in one piece. 16: Gemma 3 270M tg128 from an empty context spent 145 ms in
  // attention at 32 keys per chunk, 127 ms at 16, 122 ms at 8 (2 threads).
  static constexpr int64_t kPiecesPerWorker = 4;
  static constexpr int64_t kMinKeysPerChunk = 16;

  // Causal attention through the dispatch table's kernel, in pieces of about equal cost (visible
  // keys, not query rows: a causal prefill's last rows see the most keys), so the workers finish
  // together however the pool hands the pieces out: a prefill's rows cut per KV head where the
  // running count of keys crosses a multiple of total / pieces; a decode row's keys cut into one
  // chunk per worker (split-K), whose partial results are combined here.
  void Attention(const Node& n, const float* q, const float* k_new, const float* v_new, int64_t rows, int64_t pos0,
                 CpuKvCache& kv, float* out) {
    const AttentionParams& a = n.attention;
    const KvLayerSpec& layer = kv.spec().layers[a.layer];
    const int64_t hd = a.head_dim, kv_width = a.n_kv_head * hd, cap = layer.capacity;
    float* k_cache = kv.k(a.layer);
    float* v_cache = kv.v(a.layer);
    const ref::AttentionArgs args{.q = q,
                                  .k_cache = k_cache,
                                  .v_cache = v_cache,
                                  .capacity = cap,
                                  .k_new = k_new,
                                  .v_new = v_new,
                                  .pos0 = pos0,
                                  .rows = rows,
                                  .n_head = a.n_head,
                                  .n_kv_head = a.n_kv_head,
                                  .head_dim = hd,
                                  .window = a.window,
                                  .scale = a.scale,
                                  .out = out};
    const int64_t threads = pool_->size();
    const int64_t per_head = threads == 1 ? 1 : (threads * kPiecesPerWorker + a.n_kv_head - 1) / a.n_kv_head;
    // Per-worker scratch, the split-K partials and the prefill pieces: sized on the first step
    // against a context, whichever path it takes (grown only for a larger context or layer), so
    // later steps allocate nothing.
    const auto scratch_floats =
        static_cast<size_t>(ref::AttentionScratchFloats(a.n_head, a.n_kv_head, hd, kv.spec().n_ctx));
    if (scores_.front().size() < scratch_floats)
      for (auto& sc : scores_) sc.resize(scratch_floats);
    const int64_t part_floats = a.n_head * (hd + 2);
    if (partials_.size() < static_cast<size_t>(threads * part_floats))
      partials_.resize(static_cast<size_t>(threads * part_floats));
    if (parts_.size() < static_cast<size_t>(threads)) parts_.resize(static_cast<size_t>(threads));
    if (pieces_.capacity() < static_cast<size_t>(a.n_kv_head * per_head))
      pieces_.reserve(static_cast<size_t>(a.n_kv_head * per_head));
    const ref::AttentionFn attend = kernels_.attention_f32;
    auto visible_keys = [&](int64_t t) {
      const int64_t pos = pos0 + t;
      return a.window > 0 ? std::min<int64_t>(pos + 1, a.window) : pos + 1;
    };
    if (rows == 1) {
      const int64_t keys = visible_keys(0), first = pos0 + 1 - keys;
      const int64_t chunks = std::min<int64_t>(threads, keys / kMinKeysPerChunk);
      if (chunks <= 1) {
        attend(args, {0, 1, 0, a.n_kv_head}, nullptr, scores_.front().data());
      } else {
        const int64_t n_vec = a.n_head;
        for (int64_t c = 0; c < chunks; ++c) {
          float* base = partials_.data() + c * part_floats;
          parts_[c] = {base, base + n_vec, base + 2 * n_vec};
        }
        pool_->ParallelFor(chunks, [&](int64_t begin, int64_t end, int worker) {
          for (int64_t c = begin; c < end; ++c) {
            const ref::AttentionWork w{.row_begin = 0,
                                       .row_end = 1,
                                       .kv_head_begin = 0,
                                       .kv_head_end = a.n_kv_head,
                                       .key_begin = first + keys * c / chunks,
                                       .key_end = first + keys * (c + 1) / chunks};
            attend(args, w, &parts_[c], scores_[worker].data());
          }
        });
        ref::AttentionCombine(parts_.data(), chunks, n_vec, hd, out);
      }
    } else {
      int64_t total = 0;
      for (int64_t t = 0; t < rows; ++t) total += visible_keys(t);
      pieces_.clear();
      for (int64_t kvh = 0; kvh < a.n_kv_head; ++kvh) {
        int64_t begin = 0, done = 0, cut = 1;
        for (int64_t t = 0; t < rows; ++t) {
          done += visible_keys(t);
          if (done * per_head < total * cut && t + 1 < rows) continue;
          pieces_.push_back({.row_begin = begin, .row_end = t + 1, .kv_head_begin = kvh, .kv_head_end = kvh + 1});
          begin = t + 1;
          while (done * per_head >= total * cut) ++cut;
        }
      }
      pool_->ParallelFor(static_cast<int64_t>(pieces_.size()), [&](int64_t begin, int64_t end, int worker) {
        for (int64_t i = begin; i < end; ++i) attend(args, pieces_[i], nullptr, scores_[worker].data());
      });
    }
    // Append this step's keys and values (ring buffer for sliding-window layers).
    for (int64_t t = 0; t < rows; ++t) {
      const int64_t slot = (pos0 + t) % cap;
      std::memcpy(k_cache + slot * kv_width, k_new + t * kv_width, kv_width * sizeof(float));
      std::memcpy(v_cache + slot * kv_width, v_new + t * kv_width, kv_width * sizeof(float));
    }
  }

  bool copy_weights_;     // q8 matmul weights without a packed layout copied into huge pages too
  OpProfiler* profiler_;  // null: steps are not timed
  Graph graph_;
  ThreadPool* pool_;
  Activations activations_;
  const CpuKernels& kernels_;
  const MatMulProvider* provider_;
  PackedWeights* packed_;
  std::vector<std::vector<float>> weight_rows_;  // per worker: one dequantized weight row
  // RoPE: cos and sin per position of the current step (max_tokens x n_rot / 2), per rotation.
  struct RopeTable {
    int64_t n_rot = 0;
    float freq_base = 0, freq_scale = 0;
    std::vector<double> inv_freq;  // base^(-2i / n_rot), i < n_rot / 2
    std::vector<float> cos, sin;
    int64_t pos0 = -1, rows = 0;  // the positions cos and sin hold: pos0 .. pos0 + rows - 1
  };
  std::vector<RopeTable> rope_tables_;
  std::vector<int> rope_table_;  // per node: its RopeTable (-1: not a RoPE)
  std::vector<Step> steps_;
  std::vector<std::vector<float>> buffers_;
  std::vector<BlockQ8> q8_;     // the activation rows' blocks; q8x2: then as many rows of the residue's
  std::vector<float> residue_;  // q8x2: x - d * q per activation row
  std::vector<std::vector<float>> residue_out_;  // q8x2, per worker: a prefill piece's GEMM over both passes' rows
  std::vector<int64_t> rows_;
  size_t attention_layers_ = 0;
  std::vector<std::vector<float>> scores_;    // per worker: attention scratch (ref::AttentionScratchFloats)
  std::vector<float> partials_;               // split-K decode: per key chunk, n_head x (head_dim + 2)
  std::vector<ref::AttentionPartial> parts_;  // per key chunk, into partials_
  std::vector<ref::AttentionWork> pieces_;    // prefill: row pieces of about equal cost
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(int threads, Activations activations, bool pin, bool profile_ops, CpuBackendHooks hooks)
      : pool_(threads, pin),
        activations_(activations),
        kernels_(SelectCpuKernels()),
        hooks_(std::move(hooks)),
        profiler_(profile_ops ? std::make_unique<OpProfiler>() : nullptr) {}
  std::string name() const override { return hooks_.name; }
  std::string device_description() const override {
    if (hooks_.describe) return hooks_.describe();
    return fmt::format("cpu ({} kernels, {} activations, {} threads{})", kernels_.isa, ActivationsName(activations_),
                       pool_.size(), pool_.pinned() ? ", pinned" : "");
  }
  BackendLoadInfo load_info() const override {
    BackendLoadInfo info = hooks_.load_info ? hooks_.load_info() : BackendLoadInfo{};
    info.repack_ms += packed_.ms();
    info.repack_bytes += packed_.bytes();
    if (!packed_.layouts().empty())
      info.repack_layouts += (info.repack_layouts.empty() ? "" : ",") + packed_.layouts();
    return info;
  }
  std::vector<OpTime> op_profile() const override { return profiler_ ? profiler_->Entries() : std::vector<OpTime>{}; }
  void ClearOpProfile() override {
    if (profiler_) profiler_->Clear();
  }
  StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph, const WeightSource& weights) override {
    auto exe = std::make_unique<CpuExecutable>(graph, &pool_, activations_, kernels_, &hooks_.matmul, &packed_,
                                               copy_weights_, profiler_.get());
    TLM_RETURN_IF_ERROR(exe->Compile(weights));
    return std::unique_ptr<Executable>(std::move(exe));
  }
  StatusOr<std::unique_ptr<KvCache>> CreateKvCache(const KvSpec& spec) override {
    return std::unique_ptr<KvCache>(std::make_unique<CpuKvCache>(spec));
  }

 private:
  ThreadPool pool_;
  Activations activations_;
  const CpuKernels& kernels_;
  CpuBackendHooks hooks_;
  PackedWeights packed_;
  std::unique_ptr<OpProfiler> profiler_;  // BackendOptions::profile_ops
  // TLM_CPU_WEIGHTS=mapped: the q8 matmuls read the mapped model where no kernel packs its type.
  bool copy_weights_ = [] {
    const char* env = std::getenv("TLM_CPU_WEIGHTS");
    return env == nullptr || std::string_view(env) != "mapped";
  }();
};

const bool kRegistered = RegisterBackend({
    .name = "cpu",
    .description = "CPU (dispatch table: AVX2/FMA or scalar reference)",
    .probe = [] { return Status::Ok(); },
    .create = [](const BackendOptions& options) { return CreateCpuBackend(options, {}); },
});

}  // namespace

StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const BackendOptions& options, CpuBackendHooks hooks) {
  if (!options.device.empty())
    return InvalidArgument("backend '{}' takes no device, got '{}:{}'", hooks.name, hooks.name, options.device);
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (options.threads < 0 || threads > 1024) return InvalidArgument("--threads {} is out of range", options.threads);
  return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(
      std::max(1, threads), options.activations, options.pin_threads, options.profile_ops, std::move(hooks)));
}
}  // namespace tlm::cpu

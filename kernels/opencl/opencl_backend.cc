// The opencl backend: every Graph op as an OpenCL C kernel (kernels/opencl/*.cl, embedded at build
// time and compiled by the driver at backend creation, through the program-binary cache). Weights
// are uploaded once per backend as their GGUF blocks and dequantized inside the kernels; the KV
// cache lives on the device (a k and a v buffer per layer). An executable is a list of kernel
// launches over liveness-reused device buffers, mirroring the CPU backend (the semantic reference),
// enqueued in order on one queue; Run blocks only on reading the output rows back.
#include <CL/cl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "engine/backend/backend.h"
#include "kernels/opencl/opencl_programs.h"
#include "kernels/opencl/opencl_runtime.h"

namespace tlm::opencl {

namespace {

#define TLM_CL_RETURN_IF_ERROR(call, what)                                                    \
  do {                                                                                        \
    const cl_int tlm_cl_err_ = (call);                                                        \
    if (tlm_cl_err_ != CL_SUCCESS) return Internal("{}: {}", what, ClErrorName(tlm_cl_err_)); \
  } while (0)

// A cl_mem with ownership.
class ClBuffer {
 public:
  ClBuffer() = default;
  explicit ClBuffer(cl_mem m) : m_(m) {}
  ClBuffer(ClBuffer&& o) noexcept : m_(o.m_), bytes_(o.bytes_) { o.m_ = nullptr; }
  ClBuffer& operator=(ClBuffer&& o) noexcept {
    std::swap(m_, o.m_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ClBuffer(const ClBuffer&) = delete;
  ~ClBuffer() {
    if (m_ != nullptr) clReleaseMemObject(m_);
  }
  cl_mem get() const { return m_; }
  size_t bytes() const { return bytes_; }
  void set(cl_mem m, size_t bytes) {
    if (m_ != nullptr) clReleaseMemObject(m_);
    m_ = m;
    bytes_ = bytes;
  }

 private:
  cl_mem m_ = nullptr;
  size_t bytes_ = 0;
};

struct KernelLimits {
  size_t max_wg = 1;     // CL_KERNEL_WORK_GROUP_SIZE
  size_t preferred = 1;  // CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE
};

size_t FloorPow2(size_t v) {
  size_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}
size_t CeilPow2(size_t v) {
  size_t p = 1;
  while (p < v) p *= 2;
  return p;
}

// Kernel-name suffix of a weight type, or nullptr when no kernel reads it.
const char* TypeSuffix(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kQ4_0:
      return "q4_0";
    case DType::kQ4_1:
      return "q4_1";
    case DType::kQ5_0:
      return "q5_0";
    case DType::kQ5_1:
      return "q5_1";
    case DType::kQ8_0:
      return "q8_0";
    case DType::kQ2_K:
      return "q2_k";
    case DType::kQ3_K:
      return "q3_k";
    case DType::kQ4_K:
      return "q4_k";
    case DType::kQ5_K:
      return "q5_k";
    case DType::kQ6_K:
      return "q6_k";
    default:
      return nullptr;
  }
}
bool IsFloatType(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

// The device, its context and queue, the built program and the uploaded weights: shared by the
// backend, its executables and its KV caches.
struct ClState {
  ClDeviceInfo device;
  cl_context context = nullptr;
  cl_command_queue queue = nullptr;
  cl_program program = nullptr;
  BuiltProgram built;
  std::string options;
  int tile = 16;
  std::string subgroups;  // "" or the extension used
  std::string subgroups_note;
  double build_ms = 0;
  bool profile = false;
  // Work-items per GEMV group: 256 on GPUs; 1024 on CPU devices (PoCL), where each group is a loop
  // over its work-items and fewer, larger groups cost less to schedule (about 15% faster decode).
  size_t gemv_group_budget = 256;
  std::mutex kernels_mu;  // guards limits (executables may compile from several threads)
  std::map<std::string, KernelLimits> limits;
  std::mutex weights_mu;
  std::map<const void*, std::shared_ptr<ClBuffer>> weights;

  ~ClState() {
    weights.clear();
    if (queue != nullptr) clFinish(queue);
    if (program != nullptr) clReleaseProgram(program);
    if (queue != nullptr) clReleaseCommandQueue(queue);
    if (context != nullptr) clReleaseContext(context);
  }

  StatusOr<cl_kernel> Kernel(const std::string& name) {
    std::lock_guard<std::mutex> lock(kernels_mu);
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(program, name.c_str(), &err);
    if (err != CL_SUCCESS) return Internal("clCreateKernel({}): {}", name, ClErrorName(err));
    if (!limits.count(name)) {
      KernelLimits l;
      clGetKernelWorkGroupInfo(k, device.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof(size_t), &l.max_wg, nullptr);
      clGetKernelWorkGroupInfo(k, device.device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof(size_t),
                               &l.preferred, nullptr);
      l.max_wg = std::max<size_t>(1, l.max_wg);
      l.preferred = std::max<size_t>(1, l.preferred);
      limits[name] = l;
    }
    return k;
  }

  // A 1-D reduction work-group: a power of two, at most the kernel's limit and 256, at least the
  // preferred multiple, and no larger than the work needs (`items` parallel items).
  KernelLimits Limits(const std::string& kernel) {
    std::lock_guard<std::mutex> lock(kernels_mu);
    return limits.at(kernel);
  }
  size_t ReductionGroup(const std::string& kernel, size_t items) {
    const KernelLimits l = Limits(kernel);
    size_t wg = std::min<size_t>(CeilPow2(std::max<size_t>(items, 1)), 256);
    wg = std::max(wg, FloorPow2(l.preferred));
    return std::min(wg, FloorPow2(l.max_wg));
  }

  StatusOr<std::shared_ptr<ClBuffer>> UploadWeight(const WeightView& w, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(weights_mu);
    if (auto it = weights.find(w.data); it != weights.end() && it->second->bytes() >= bytes) return it->second;
    if (bytes > device.max_alloc_bytes)
      return ResourceExhausted("weight '{}' ({} bytes) exceeds the device's largest buffer ({} bytes)", w.name, bytes,
                               device.max_alloc_bytes);
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, const_cast<void*>(w.data), &err);
    if (err != CL_SUCCESS)
      return ResourceExhausted("uploading weight '{}' ({} bytes): {}", w.name, bytes, ClErrorName(err));
    auto buffer = std::make_shared<ClBuffer>();
    buffer->set(m, bytes);
    weights[w.data] = buffer;
    return buffer;
  }

  StatusOr<cl_mem> Allocate(size_t bytes, const std::string& what) {
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(context, CL_MEM_READ_WRITE, std::max<size_t>(bytes, 4), nullptr, &err);
    if (err != CL_SUCCESS) return ResourceExhausted("allocating {} ({} bytes): {}", what, bytes, ClErrorName(err));
    return m;
  }
};

std::string ProgramSource() {
  std::string s;
  for (const char* part : kProgramSources) s += part;
  return s;
}

StatusOr<std::shared_ptr<ClState>> CreateState(const std::string& selector) {
  auto device = SelectDevice(selector);
  if (!device.ok()) return device.status();
  auto state = std::make_shared<ClState>();
  state->device = *device;
  cl_int err = CL_SUCCESS;
  const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(device->platform),
                                         0};
  state->context = clCreateContext(props, 1, &device->device, nullptr, nullptr, &err);
  if (err != CL_SUCCESS) return Unavailable("clCreateContext on {}: {}", device->name, ClErrorName(err));
  // TLMBENCH_OPENCL_PROFILE=1: time every kernel with queue events; each executable prints its
  // per-kernel totals to stderr when it is destroyed.
  const char* profile = std::getenv("TLMBENCH_OPENCL_PROFILE");
  state->profile = profile != nullptr && *profile != '\0' && std::string(profile) != "0";
  state->queue =
      clCreateCommandQueue(state->context, device->device, state->profile ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
  if (err != CL_SUCCESS) return Unavailable("clCreateCommandQueue on {}: {}", device->name, ClErrorName(err));
  // GEMM tiles of 16x16 work-items where the device allows 256 per group, else 8x8.
  state->tile = device->max_work_group_size >= 256 ? 16 : 8;
  if (device->type & CL_DEVICE_TYPE_CPU) state->gemv_group_budget = 1024;
  const char* sg_env = std::getenv("TLMBENCH_OPENCL_SUBGROUPS");
  const bool sg_allowed = !(sg_env && std::string(sg_env) == "0");
  std::string options = fmt::format("-DTLM_TILE={}", state->tile);
  const std::string c_version = [&] {
    size_t n = 0;
    clGetDeviceInfo(device->device, CL_DEVICE_OPENCL_C_VERSION, 0, nullptr, &n);
    std::string v(n, '\0');
    clGetDeviceInfo(device->device, CL_DEVICE_OPENCL_C_VERSION, n, v.data(), nullptr);
    return v;
  }();
  if (sg_allowed && device->HasExtension("cl_intel_subgroups")) {
    state->subgroups = "cl_intel_subgroups";
    options += " -DTLM_SUBGROUPS -DTLM_INTEL_SUBGROUPS";
  } else if (sg_allowed && device->HasExtension("cl_khr_subgroups") &&
             (c_version.find("C 2.") != std::string::npos || c_version.find("C 3.") != std::string::npos)) {
    state->subgroups = "cl_khr_subgroups";
    options += c_version.find("C 3.") != std::string::npos ? " -cl-std=CL3.0" : " -cl-std=CL2.0";
    options += " -DTLM_SUBGROUPS";
  }
  state->options = options;
  const auto start = std::chrono::steady_clock::now();
  auto built = BuildProgram(state->context, *device, ProgramSource(), options);
  if (!built.ok() && !state->subgroups.empty()) {
    // A driver that advertises subgroups but does not compile our use of them still gets the
    // local-memory reductions.
    state->subgroups_note = fmt::format("{} build failed, built without subgroups", state->subgroups);
    state->subgroups.clear();
    state->options = options = fmt::format("-DTLM_TILE={}", state->tile);
    built = BuildProgram(state->context, *device, ProgramSource(), options);
  }
  if (!built.ok()) return built.status();
  state->build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  state->built = *built;
  state->program = built->program;
  return state;
}

class ClKvCache final : public KvCache {
 public:
  ClKvCache(std::shared_ptr<ClState> state, const KvSpec& spec) : state_(std::move(state)), spec_(spec) {}
  Status Init() {
    for (const KvLayerSpec& l : spec_.layers) {
      const size_t bytes = static_cast<size_t>(l.capacity * l.n_kv_head * l.head_dim) * sizeof(float);
      auto k = state_->Allocate(bytes, "KV cache keys");
      if (!k.ok()) return k.status();
      k_.emplace_back(*k);
      auto v = state_->Allocate(bytes, "KV cache values");
      if (!v.ok()) return v.status();
      v_.emplace_back(*v);
      bytes_ += 2 * bytes;
    }
    return Zero();
  }
  uint64_t bytes() const override { return bytes_; }
  void Clear() override { (void)Zero(); }
  const KvSpec& spec() const { return spec_; }
  const ClState* state() const { return state_.get(); }
  cl_mem k(int layer) const { return k_[layer].get(); }
  cl_mem v(int layer) const { return v_[layer].get(); }

 private:
  Status Zero() {
    const float zero = 0.f;
    for (size_t i = 0; i < k_.size(); ++i) {
      const size_t bytes =
          static_cast<size_t>(spec_.layers[i].capacity * spec_.layers[i].n_kv_head * spec_.layers[i].head_dim) *
          sizeof(float);
      if (bytes == 0) continue;
      TLM_CL_RETURN_IF_ERROR(
          clEnqueueFillBuffer(state_->queue, k_[i].get(), &zero, sizeof(zero), 0, bytes, 0, nullptr, nullptr),
          "clearing the KV cache");
      TLM_CL_RETURN_IF_ERROR(
          clEnqueueFillBuffer(state_->queue, v_[i].get(), &zero, sizeof(zero), 0, bytes, 0, nullptr, nullptr),
          "clearing the KV cache");
    }
    TLM_CL_RETURN_IF_ERROR(clFinish(state_->queue), "clearing the KV cache");
    return Status::Ok();
  }

  std::shared_ptr<ClState> state_;
  KvSpec spec_;
  std::vector<ClBuffer> k_, v_;
  uint64_t bytes_ = 0;
};

// One graph node's launches.
struct Step {
  const Node* node = nullptr;
  int out = -1;  // activation buffer (-1: the output buffer)
  int in[3] = {-1, -1, -1};
  const WeightView* weight = nullptr;
  std::shared_ptr<ClBuffer> weight_buffer;
  uint64_t weight_row_bytes = 0;
  cl_kernel kernel = nullptr;   // main kernel (gemv for a matmul)
  cl_kernel kernel2 = nullptr;  // gemm for a matmul, kv_append for attention
  size_t local = 0;             // work-items per reduction (dimension 0 of the group)
  size_t rows_per_group = 1;    // GEMV output rows per work-group (dimension 1)
  int rope_table = -1;
};

class ClExecutable final : public Executable {
 public:
  ClExecutable(const Graph& graph, std::shared_ptr<ClState> state) : graph_(graph), state_(std::move(state)) {}
  ~ClExecutable() override {
    if (!profile_.empty()) {
      double total = 0;
      std::vector<std::pair<double, std::string>> rows;
      for (const auto& [name, t] : profile_) {
        total += t.first;
        rows.push_back({t.first, name});
      }
      std::sort(rows.rbegin(), rows.rend());
      std::fprintf(stderr, "[opencl profile] graph of %lld tokens: %.1f ms of kernels\n",
                   static_cast<long long>(graph_.max_tokens), total);
      for (const auto& [ms, name] : rows)
        std::fprintf(stderr, "[opencl profile]   %-16s %10.2f ms %5.1f%% %8lld launches\n", name.c_str(), ms,
                     100 * ms / std::max(total, 1e-9), static_cast<long long>(profile_.at(name).second));
    }
    for (Step& s : steps_) {
      if (s.kernel != nullptr) clReleaseKernel(s.kernel);
      if (s.kernel2 != nullptr) clReleaseKernel(s.kernel2);
    }
  }

  Status Compile(const WeightSource& weights) {
    const auto& nodes = graph_.nodes;
    if (nodes.empty() || graph_.output < 0 || graph_.output != static_cast<int>(nodes.size()) - 1)
      return InvalidArgument("graph output must be its last node");
    if (graph_.max_tokens < 1) return InvalidArgument("graph max_tokens must be at least 1, got {}", graph_.max_tokens);
    std::vector<int> last_use(nodes.size(), -1);
    for (size_t i = 0; i < nodes.size(); ++i)
      for (int in : nodes[i].inputs)
        if (in >= 0) {
          if (in >= static_cast<int>(i)) return InvalidArgument("node {} reads a later node", nodes[i].label);
          last_use[in] = static_cast<int>(i);
        }
    std::vector<int> node_buffer(nodes.size(), -1);
    std::vector<bool> buffer_free;
    std::vector<size_t> buffer_bytes;
    std::vector<int64_t> max_rows(nodes.size(), 0);
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      Step s;
      s.node = &n;
      for (int j = 0; j < 3; ++j) s.in[j] = n.inputs[j] >= 0 ? node_buffer[n.inputs[j]] : -1;
      TLM_RETURN_IF_ERROR(Validate(n, weights, &s));
      TLM_RETURN_IF_ERROR(CreateKernels(&s));
      // Rows a node can hold: max_tokens, or 1 from a TakeLastRow on (the prefill logits).
      max_rows[i] = n.op == OpKind::kTokens        ? graph_.max_tokens
                    : n.op == OpKind::kTakeLastRow ? 1
                                                   : max_rows[n.inputs[0]];
      const size_t need = static_cast<size_t>(max_rows[i] * std::max<int64_t>(n.width, 1)) * sizeof(float);
      if (static_cast<int>(i) != graph_.output && n.op != OpKind::kTokens) {
        int best = -1;
        for (size_t b = 0; b < buffer_bytes.size(); ++b)
          if (buffer_free[b] && buffer_bytes[b] >= need && (best < 0 || buffer_bytes[b] < buffer_bytes[best]))
            best = static_cast<int>(b);
        if (best < 0)
          for (size_t b = 0; b < buffer_bytes.size(); ++b)
            if (buffer_free[b]) {
              best = static_cast<int>(b);
              buffer_bytes[b] = need;
              break;
            }
        if (best < 0) {
          buffer_bytes.push_back(need);
          buffer_free.push_back(false);
          best = static_cast<int>(buffer_bytes.size()) - 1;
        }
        buffer_free[best] = false;
        node_buffer[i] = best;
        s.out = best;
      } else if (static_cast<int>(i) == graph_.output) {
        output_bytes_ = need;
        output_single_row_ = HasTakeLastRow(i);
      }
      steps_.push_back(s);
      for (int in : n.inputs)
        if (in >= 0 && last_use[in] == static_cast<int>(i) && node_buffer[in] >= 0) buffer_free[node_buffer[in]] = true;
    }
    for (size_t b = 0; b < buffer_bytes.size(); ++b) {
      auto m = state_->Allocate(buffer_bytes[b], "an activation buffer");
      if (!m.ok()) return m.status();
      buffers_.emplace_back(*m);
    }
    auto out = state_->Allocate(output_bytes_, "the output rows");
    if (!out.ok()) return out.status();
    output_.set(*out, output_bytes_);
    auto tok = state_->Allocate(static_cast<size_t>(graph_.max_tokens) * sizeof(int32_t), "the token ids");
    if (!tok.ok()) return tok.status();
    tokens_.set(*tok, static_cast<size_t>(graph_.max_tokens) * sizeof(int32_t));
    for (size_t t = 0; t < rope_params_.size(); ++t) {
      const size_t bytes =
          static_cast<size_t>(graph_.max_tokens * std::max<int64_t>(rope_params_[t].n_rot / 2, 1)) * 2 * sizeof(float);
      auto m = state_->Allocate(bytes, "a RoPE table");
      if (!m.ok()) return m.status();
      rope_buffers_.emplace_back(*m);
      rope_host_.emplace_back(bytes / sizeof(float));
    }
    rows_.resize(nodes.size());
    attention_layers_ = graph_.AttentionNodes().size();
    return Status::Ok();
  }

  Status Run(const StepInput& input, KvCache& kv_base, std::span<float> logits) override {
    auto* kv = dynamic_cast<ClKvCache*>(&kv_base);
    if (kv == nullptr || kv->state() != state_.get())
      return InvalidArgument("KV cache was not created by this opencl backend");
    const int64_t T = static_cast<int64_t>(input.tokens.size());
    if (T < 1 || T > graph_.max_tokens)
      return InvalidArgument("step of {} tokens; this executable takes 1..{}", T, graph_.max_tokens);
    if (input.pos0 < 0) return InvalidArgument("negative position {}", input.pos0);
    if (kv->spec().layers.size() < attention_layers_)
      return InvalidArgument("KV cache has {} layers; the graph needs {}", kv->spec().layers.size(), attention_layers_);
    for (const KvLayerSpec& l : kv->spec().layers)
      if ((l.window == 0 || l.capacity < l.window) && input.pos0 + T > l.capacity)
        return ResourceExhausted("context full: positions {}..{} do not fit a context of {}", input.pos0,
                                 input.pos0 + T - 1, l.capacity);
    if (input.pos0 + T > INT32_MAX)
      return InvalidArgument("position {} is beyond the kernels' int range", input.pos0 + T);
    if (has_embedding_)
      for (int64_t t = 0; t < T; ++t)
        if (input.tokens[t] < 0 || input.tokens[t] >= graph_.n_vocab)
          return InvalidArgument("token id {} at step position {} is outside the vocabulary [0, {})", input.tokens[t],
                                 t, graph_.n_vocab);
    cl_command_queue q = state_->queue;
    tokens_host_.assign(input.tokens.begin(), input.tokens.end());
    // Checked before anything runs, so a short buffer leaves the KV cache as it was.
    const Node& out = graph_.nodes[graph_.output];
    const int64_t out_rows = output_single_row_ ? 1 : T;
    const size_t out_floats = static_cast<size_t>(out_rows * out.width);
    if (logits.size() < out_floats)
      return InvalidArgument("logits buffer holds {} floats; {} rows of {} need {}", logits.size(), out_rows, out.width,
                             out_floats);
    // Host data of non-blocking writes lives in the executable; on an error, the queue drains
    // before Run returns.
    Status st = Enqueue(input, *kv, T);
    if (!st.ok()) {
      clFinish(q);
      return st;
    }
    TLM_CL_RETURN_IF_ERROR(clEnqueueReadBuffer(q, output_.get(), CL_TRUE, 0, out_floats * sizeof(float), logits.data(),
                                               0, nullptr, nullptr),
                           "reading the output rows");
    return Status::Ok();
  }

 private:
  // Every write and launch of one step, in order.
  Status Enqueue(const StepInput& input, const ClKvCache& kv_ref, int64_t T) {
    const ClKvCache* kv = &kv_ref;
    cl_command_queue q = state_->queue;
    TLM_CL_RETURN_IF_ERROR(clEnqueueWriteBuffer(q, tokens_.get(), CL_FALSE, 0, T * sizeof(int32_t), tokens_host_.data(),
                                                0, nullptr, nullptr),
                           "uploading token ids");
    for (size_t r = 0; r < rope_params_.size(); ++r) {
      const RopeParams& p = rope_params_[r];
      const int64_t half = p.n_rot / 2;
      std::vector<float>& table = rope_host_[r];
      for (int64_t t = 0; t < T; ++t) {
        const double pos = static_cast<double>(input.pos0 + t) * p.freq_scale;
        for (int64_t i = 0; i < half; ++i) {
          const double theta = pos * std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
          table[2 * (t * half + i)] = static_cast<float>(std::cos(theta));
          table[2 * (t * half + i) + 1] = static_cast<float>(std::sin(theta));
        }
      }
      if (half > 0)
        TLM_CL_RETURN_IF_ERROR(clEnqueueWriteBuffer(q, rope_buffers_[r].get(), CL_FALSE, 0,
                                                    T * half * 2 * sizeof(float), table.data(), 0, nullptr, nullptr),
                               "uploading a RoPE table");
    }
    // Attention scores: one row of n_ctx per (token, head); sized once per context length.
    const size_t scores_stride = static_cast<size_t>(std::max<int64_t>(kv->spec().n_ctx, 1));
    if (max_heads_ > 0) {
      size_t longest = scores_stride;
      for (const KvLayerSpec& l : kv->spec().layers) longest = std::max<size_t>(longest, l.capacity);
      const size_t need =
          static_cast<size_t>(graph_.max_tokens * max_heads_) * (longest + graph_.max_tokens) * sizeof(float);
      if (scores_.bytes() < need) {
        auto m = state_->Allocate(need, "attention scores");
        if (!m.ok()) return m.status();
        scores_.set(*m, need);
      }
      scores_stride_ = longest + graph_.max_tokens;
    }
    for (size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      const Node& n = *s.node;
      const int64_t rows = n.op == OpKind::kTokens ? T : n.op == OpKind::kTakeLastRow ? 1 : rows_[n.inputs[0]];
      rows_[i] = rows;
      TLM_RETURN_IF_ERROR(
          EnqueueStep(s, rows, input.pos0, *kv).WithContext(fmt::format("{} ({})", n.label, OpKindName(n.op))));
    }
    return Status::Ok();
  }

  int64_t InputWidth(const Node& n) const { return graph_.nodes[n.inputs[0]].width; }
  // Whether node i's rows pass through a take_last_row (then it has one row whatever the step).
  bool HasTakeLastRow(size_t i) const {
    for (int at = static_cast<int>(i); at >= 0; at = graph_.nodes[at].inputs[0]) {
      if (graph_.nodes[at].op == OpKind::kTakeLastRow) return true;
      if (graph_.nodes[at].op == OpKind::kTokens) return false;
    }
    return false;
  }

  Status Validate(const Node& n, const WeightSource& weights, Step* s) {
    const int n_inputs = n.op == OpKind::kTokens                                                              ? 0
                         : n.op == OpKind::kAttention                                                         ? 3
                         : n.op == OpKind::kAdd || n.op == OpKind::kGeluTanhGate || n.op == OpKind::kSiluGate ? 2
                                                                                                              : 1;
    for (int j = 0; j < 3; ++j) {
      if (j < n_inputs && n.inputs[j] < 0)
        return InvalidArgument("{}: {} needs input {}", n.label, OpKindName(n.op), j);
      if (n.inputs[j] >= 0 && graph_.nodes[n.inputs[j]].op == OpKind::kTokens && n.op != OpKind::kEmbedding)
        return InvalidArgument("{}: only an embedding may read token ids", n.label);
    }
    if (n.op == OpKind::kEmbedding && graph_.nodes[n.inputs[0]].op != OpKind::kTokens)
      return InvalidArgument("{}: an embedding reads the token ids", n.label);
    if (n.width < 1 && n.op != OpKind::kTokens) return InvalidArgument("{}: width {}", n.label, n.width);
    if (n.width > INT32_MAX / std::max<int64_t>(graph_.max_tokens, 1))
      return InvalidArgument("{}: width {} is beyond the kernels' int range", n.label, n.width);
    switch (n.op) {
      case OpKind::kAdd:
      case OpKind::kGeluTanhGate:
      case OpKind::kSiluGate:
        if (graph_.nodes[n.inputs[0]].width != n.width || graph_.nodes[n.inputs[1]].width != n.width)
          return InvalidArgument("{}: inputs of widths {} and {} for an output of {}", n.label,
                                 graph_.nodes[n.inputs[0]].width, graph_.nodes[n.inputs[1]].width, n.width);
        break;
      case OpKind::kRmsNorm:
        if (n.norm.group < 1 || n.width % n.norm.group != 0 || InputWidth(n) != n.width)
          return InvalidArgument("{}: norm group {} does not divide width {}", n.label, n.norm.group, n.width);
        break;
      case OpKind::kRope:
        if (n.rope.head_dim < 1 || n.width % n.rope.head_dim != 0 || n.rope.n_rot > n.rope.head_dim ||
            n.rope.n_rot < 0 || InputWidth(n) != n.width)
          return InvalidArgument("{}: rope head_dim {} / n_rot {} do not fit width {}", n.label, n.rope.head_dim,
                                 n.rope.n_rot, n.width);
        break;
      case OpKind::kAttention: {
        const AttentionParams& a = n.attention;
        if (a.n_head < 1 || a.n_kv_head < 1 || a.head_dim < 1 || a.n_head % a.n_kv_head != 0 ||
            n.width != a.n_head * a.head_dim || InputWidth(n) != n.width ||
            graph_.nodes[n.inputs[1]].width != a.n_kv_head * a.head_dim ||
            graph_.nodes[n.inputs[2]].width != a.n_kv_head * a.head_dim || a.window < 0 || a.layer < 0)
          return InvalidArgument("{}: attention shapes do not fit (heads {}/{}, head_dim {}, width {})", n.label,
                                 a.n_head, a.n_kv_head, a.head_dim, n.width);
        max_heads_ = std::max(max_heads_, a.n_head);
        break;
      }
      case OpKind::kTakeLastRow:
        if (InputWidth(n) != n.width)
          return InvalidArgument("{}: width {} of a {}-wide input", n.label, n.width, InputWidth(n));
        break;
      default:
        break;
    }
    if (n.weight.empty()) {
      if (n.op == OpKind::kMatMul || n.op == OpKind::kEmbedding)
        return InvalidArgument("{}: {} without a weight", n.label, OpKindName(n.op));
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
        if (TypeSuffix(w->type) == nullptr)
          return Unimplemented("{}: weight '{}' has type {}, which the opencl backend does not support", n.label,
                               n.weight, DTypeName(w->type));
        if (!ElemsToBytes(w->type, static_cast<uint64_t>(k), &s->weight_row_bytes))
          return InvalidArgument("{}: rows of {} do not fit type {}", n.label, k, DTypeName(w->type));
        if (!IsFloatType(w->type) && k % 32 != 0)
          return InvalidArgument("{}: row of {} is not a multiple of 32", n.label, k);
        const uint64_t bytes = s->weight_row_bytes * static_cast<uint64_t>(rows);
        if (w->bytes < bytes)
          return InvalidArgument("{}: weight '{}' holds {} bytes, not {}", n.label, n.weight, w->bytes, bytes);
        auto buffer = state_->UploadWeight(*w, bytes);
        if (!buffer.ok()) return buffer.status();
        s->weight_buffer = *buffer;
        break;
      }
      case OpKind::kRmsNorm: {
        if (w->type != DType::kF32 || w->dims.size() != 1 || w->dims[0] != n.norm.group)
          return InvalidArgument("{}: norm weight '{}' must be f32 [{}]", n.label, n.weight, n.norm.group);
        auto buffer = state_->UploadWeight(*w, static_cast<uint64_t>(n.norm.group) * sizeof(float));
        if (!buffer.ok()) return buffer.status();
        s->weight_buffer = *buffer;
        break;
      }
      default:
        return InvalidArgument("{}: {} takes no weight", n.label, OpKindName(n.op));
    }
    return Status::Ok();
  }

  Status CreateKernels(Step* s) {
    const Node& n = *s->node;
    auto make = [&](const std::string& name, cl_kernel* out) -> Status {
      auto k = state_->Kernel(name);
      if (!k.ok()) return k.status();
      *out = *k;
      return Status::Ok();
    };
    switch (n.op) {
      case OpKind::kTokens:
      case OpKind::kTakeLastRow:
        return Status::Ok();
      case OpKind::kEmbedding:
        has_embedding_ = true;
        return make(std::string("embed_") + TypeSuffix(s->weight->type), &s->kernel);
      case OpKind::kMatMul: {
        const std::string suffix = TypeSuffix(s->weight->type);
        TLM_RETURN_IF_ERROR(make("gemv_" + suffix, &s->kernel));
        TLM_RETURN_IF_ERROR(make("gemm_" + suffix, &s->kernel2));
        const size_t tile = static_cast<size_t>(state_->tile);
        if (state_->Limits("gemm_" + suffix).max_wg < tile * tile)
          return Unavailable("{}: gemm_{} allows {} work-items per group on {}, below a {}x{} tile", n.label, suffix,
                             state_->Limits("gemm_" + suffix).max_wg, state_->device.name, tile, tile);
        // GEMV: lanes over the row's 32-element chunks (a power of two up to 64), and as many rows
        // per group as fit the group budget; one row per group where subgroups do the reduction.
        const std::string gemv = "gemv_" + suffix;
        s->local = std::min<size_t>(state_->ReductionGroup(gemv, static_cast<size_t>((InputWidth(n) + 31) / 32)), 64);
        s->rows_per_group =
            state_->subgroups.empty()
                ? std::max<size_t>(
                      1, FloorPow2(std::min<size_t>(state_->gemv_group_budget, state_->Limits(gemv).max_wg) / s->local))
                : 1;
        return Status::Ok();
      }
      case OpKind::kRmsNorm:
        TLM_RETURN_IF_ERROR(make("rms_norm", &s->kernel));
        s->local = state_->ReductionGroup("rms_norm", static_cast<size_t>(n.norm.group));
        return Status::Ok();
      case OpKind::kRope: {
        TLM_RETURN_IF_ERROR(make("rope", &s->kernel));
        for (size_t i = 0; i < rope_params_.size(); ++i) {
          const RopeParams& p = rope_params_[i];
          if (p.n_rot == n.rope.n_rot && p.freq_base == n.rope.freq_base && p.freq_scale == n.rope.freq_scale) {
            s->rope_table = static_cast<int>(i);
            return Status::Ok();
          }
        }
        rope_params_.push_back(n.rope);
        s->rope_table = static_cast<int>(rope_params_.size()) - 1;
        return Status::Ok();
      }
      case OpKind::kAttention:
        TLM_RETURN_IF_ERROR(make("attention", &s->kernel));
        TLM_RETURN_IF_ERROR(make("kv_append", &s->kernel2));
        s->local = state_->ReductionGroup("attention", 64);
        return Status::Ok();
      case OpKind::kAdd:
        return make("add", &s->kernel);
      case OpKind::kGeluTanhGate:
        return make("gelu_tanh_gate", &s->kernel);
      case OpKind::kSiluGate:
        return make("silu_gate", &s->kernel);
    }
    return Internal("{}: unknown op", n.label);
  }

  cl_mem Buffer(int index) const { return index >= 0 ? buffers_[index].get() : output_.get(); }

  template <typename T>
  static cl_int Arg(cl_kernel k, cl_uint i, const T& v) {
    return clSetKernelArg(k, i, sizeof(T), &v);
  }

  Status Launch(cl_kernel k, cl_uint dims, const size_t* global, const size_t* local) {
    cl_event event = nullptr;
    TLM_CL_RETURN_IF_ERROR(clEnqueueNDRangeKernel(state_->queue, k, dims, nullptr, global, local, 0, nullptr,
                                                  state_->profile ? &event : nullptr),
                           "clEnqueueNDRangeKernel");
    if (event != nullptr) {
      clWaitForEvents(1, &event);
      cl_ulong start = 0, end = 0;
      clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof(start), &start, nullptr);
      clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof(end), &end, nullptr);
      clReleaseEvent(event);
      char name[64] = {};
      clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof(name) - 1, name, nullptr);
      auto& entry = profile_[name];
      entry.first += static_cast<double>(end - start) * 1e-6;
      entry.second += 1;
    }
    return Status::Ok();
  }

  Status EnqueueStep(const Step& s, int64_t rows, int64_t pos0, const ClKvCache& kv) {
    const Node& n = *s.node;
    const cl_mem out = Buffer(s.out);
    const cl_mem a = s.in[0] >= 0 ? Buffer(s.in[0]) : nullptr;
    const cl_mem b = s.in[1] >= 0 ? Buffer(s.in[1]) : nullptr;
    const cl_mem c = s.in[2] >= 0 ? Buffer(s.in[2]) : nullptr;
    const cl_int width = static_cast<cl_int>(n.width);
    cl_int err = CL_SUCCESS;
    switch (n.op) {
      case OpKind::kTokens:
        if (s.out < 0) {  // the graph's output is its token ids (as floats, like the cpu backend)
          token_floats_.assign(tokens_host_.begin(), tokens_host_.begin() + rows);
          TLM_CL_RETURN_IF_ERROR(clEnqueueWriteBuffer(state_->queue, out, CL_FALSE, 0, rows * sizeof(float),
                                                      token_floats_.data(), 0, nullptr, nullptr),
                                 "writing the token ids");
        }
        return Status::Ok();
      case OpKind::kEmbedding: {
        cl_kernel k = s.kernel;
        const cl_mem w = s.weight_buffer->get(), tok = tokens_.get();
        const cl_ulong row_bytes = s.weight_row_bytes;
        err |= Arg(k, 0, w) | Arg(k, 1, row_bytes) | Arg(k, 2, tok) | Arg(k, 3, out) | Arg(k, 4, width) |
               Arg(k, 5, n.scale);
        TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
        const size_t global[2] = {static_cast<size_t>((n.width + 31) / 32), static_cast<size_t>(rows)};
        return Launch(k, 2, global, nullptr);
      }
      case OpKind::kMatMul: {
        const cl_mem w = s.weight_buffer->get();
        const cl_ulong row_bytes = s.weight_row_bytes;
        const cl_int k_in = static_cast<cl_int>(InputWidth(n)), r = static_cast<cl_int>(rows);
        if (rows == 1) {
          cl_kernel k = s.kernel;
          err |=
              Arg(k, 0, w) | Arg(k, 1, row_bytes) | Arg(k, 2, a) | Arg(k, 3, out) | Arg(k, 4, k_in) | Arg(k, 5, width);
          err |= clSetKernelArg(k, 6, s.local * s.rows_per_group * sizeof(float), nullptr);
          TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
          const size_t groups = (static_cast<size_t>(n.width) + s.rows_per_group - 1) / s.rows_per_group;
          const size_t global[2] = {s.local, groups * s.rows_per_group};
          const size_t local[2] = {s.local, s.rows_per_group};
          return Launch(k, 2, global, local);
        }
        cl_kernel k = s.kernel2;
        err |= Arg(k, 0, w) | Arg(k, 1, row_bytes) | Arg(k, 2, a) | Arg(k, 3, out) | Arg(k, 4, k_in) |
               Arg(k, 5, width) | Arg(k, 6, r);
        TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
        const size_t tile = static_cast<size_t>(state_->tile);
        const size_t global[2] = {(static_cast<size_t>(n.width) + tile - 1) / tile * tile,
                                  (static_cast<size_t>(rows) + tile - 1) / tile * tile};
        const size_t local[2] = {tile, tile};
        return Launch(k, 2, global, local);
      }
      case OpKind::kRmsNorm: {
        cl_kernel k = s.kernel;
        const cl_int group = static_cast<cl_int>(n.norm.group), has_weight = s.weight_buffer ? 1 : 0;
        const cl_mem w = s.weight_buffer ? s.weight_buffer->get() : a;  // any valid buffer when unused
        err |= Arg(k, 0, a) | Arg(k, 1, w) | Arg(k, 2, out) | Arg(k, 3, group) | Arg(k, 4, n.norm.eps) |
               Arg(k, 5, has_weight);
        err |= clSetKernelArg(k, 6, s.local * sizeof(float), nullptr);
        TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
        const size_t global = static_cast<size_t>(rows * n.width / n.norm.group) * s.local;
        return Launch(k, 1, &global, &s.local);
      }
      case OpKind::kRope: {
        cl_kernel k = s.kernel;
        const cl_mem table = rope_buffers_[s.rope_table].get();
        const cl_int head_dim = static_cast<cl_int>(n.rope.head_dim), n_rot = static_cast<cl_int>(n.rope.n_rot),
                     neox = n.rope.mode == RopeMode::kNeox ? 1 : 0;
        err |= Arg(k, 0, a) | Arg(k, 1, out) | Arg(k, 2, table) | Arg(k, 3, width) | Arg(k, 4, head_dim) |
               Arg(k, 5, n_rot) | Arg(k, 6, neox);
        TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
        const size_t global[3] = {static_cast<size_t>(n.rope.head_dim), static_cast<size_t>(n.width / n.rope.head_dim),
                                  static_cast<size_t>(rows)};
        return Launch(k, 3, global, nullptr);
      }
      case OpKind::kAttention: {
        const AttentionParams& p = n.attention;
        if (static_cast<size_t>(p.layer) >= kv.spec().layers.size())
          return InvalidArgument("KV cache has no layer {}", p.layer);
        const KvLayerSpec& layer = kv.spec().layers[p.layer];
        if (layer.n_kv_head != p.n_kv_head || layer.head_dim != p.head_dim || layer.capacity < 1)
          return InvalidArgument("KV cache layer {} is {}x{} (capacity {}); the graph needs {}x{}", p.layer,
                                 layer.n_kv_head, layer.head_dim, layer.capacity, p.n_kv_head, p.head_dim);
        cl_kernel k = s.kernel;
        const cl_mem kc = kv.k(p.layer), vc = kv.v(p.layer), scores = scores_.get();
        const cl_ulong stride = scores_stride_;
        const cl_int pos = static_cast<cl_int>(pos0), cap = static_cast<cl_int>(layer.capacity),
                     window = static_cast<cl_int>(p.window), n_head = static_cast<cl_int>(p.n_head),
                     n_kv_head = static_cast<cl_int>(p.n_kv_head), head_dim = static_cast<cl_int>(p.head_dim);
        err |= Arg(k, 0, a) | Arg(k, 1, b) | Arg(k, 2, c) | Arg(k, 3, kc) | Arg(k, 4, vc) | Arg(k, 5, out) |
               Arg(k, 6, scores) | Arg(k, 7, stride) | Arg(k, 8, pos) | Arg(k, 9, cap) | Arg(k, 10, window) |
               Arg(k, 11, n_head) | Arg(k, 12, n_kv_head) | Arg(k, 13, head_dim) | Arg(k, 14, p.scale);
        err |= clSetKernelArg(k, 15, s.local * sizeof(float), nullptr);
        err |= clSetKernelArg(k, 16, static_cast<size_t>(p.head_dim) * sizeof(float), nullptr);
        TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
        const size_t global[2] = {static_cast<size_t>(p.n_head) * s.local, static_cast<size_t>(rows)};
        const size_t local[2] = {s.local, 1};
        TLM_RETURN_IF_ERROR(Launch(k, 2, global, local));
        cl_kernel append = s.kernel2;
        const cl_int kv_width = static_cast<cl_int>(p.n_kv_head * p.head_dim), r = static_cast<cl_int>(rows);
        err |= Arg(append, 0, b) | Arg(append, 1, c) | Arg(append, 2, kc) | Arg(append, 3, vc) |
               Arg(append, 4, kv_width) | Arg(append, 5, r) | Arg(append, 6, pos) | Arg(append, 7, cap);
        TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
        const size_t append_global[2] = {static_cast<size_t>(kv_width), static_cast<size_t>(rows)};
        return Launch(append, 2, append_global, nullptr);
      }
      case OpKind::kAdd:
      case OpKind::kGeluTanhGate:
      case OpKind::kSiluGate: {
        cl_kernel k = s.kernel;
        const cl_int count = static_cast<cl_int>(rows * n.width);
        err |= Arg(k, 0, a) | Arg(k, 1, b) | Arg(k, 2, out) | Arg(k, 3, count);
        TLM_CL_RETURN_IF_ERROR(err, "clSetKernelArg");
        const size_t global = static_cast<size_t>(count);
        return Launch(k, 1, &global, nullptr);
      }
      case OpKind::kTakeLastRow: {
        const size_t bytes = static_cast<size_t>(n.width) * sizeof(float);
        const int64_t in_rows = rows_[n.inputs[0]];
        TLM_CL_RETURN_IF_ERROR(clEnqueueCopyBuffer(state_->queue, a, out, static_cast<size_t>(in_rows - 1) * bytes, 0,
                                                   bytes, 0, nullptr, nullptr),
                               "clEnqueueCopyBuffer");
        return Status::Ok();
      }
    }
    return Internal("unknown op");
  }

  Graph graph_;
  std::shared_ptr<ClState> state_;
  std::vector<Step> steps_;
  std::vector<ClBuffer> buffers_;
  ClBuffer output_, tokens_, scores_;
  size_t output_bytes_ = 0, scores_stride_ = 0;
  std::vector<RopeParams> rope_params_;
  std::vector<ClBuffer> rope_buffers_;
  std::vector<std::vector<float>> rope_host_;
  std::vector<int64_t> rows_;
  size_t attention_layers_ = 0;
  int64_t max_heads_ = 0;
  bool has_embedding_ = false;
  bool output_single_row_ = false;
  std::map<std::string, std::pair<double, int64_t>> profile_;  // kernel: (ms, launches)
  std::vector<int32_t> tokens_host_;
  std::vector<float> token_floats_;
};

class ClBackend final : public Backend {
 public:
  ClBackend(std::shared_ptr<ClState> state, Activations activations)
      : state_(std::move(state)), activations_(activations) {}
  std::string name() const override { return "opencl"; }
  std::string device_description() const override {
    const ClDeviceInfo& d = state_->device;
    return fmt::format(
        "opencl:{} {} on {} (driver {}, {}, {} compute units, {} KiB local memory, max work-group {}, gemm tile {}x{}, "
        "subgroups {}, {} activations)",
        d.index, d.name, d.platform_name, d.driver_version, d.device_version, d.compute_units, d.local_mem_bytes / 1024,
        d.max_work_group_size, state_->tile, state_->tile,
        state_->subgroups.empty() ? (state_->subgroups_note.empty() ? "none" : state_->subgroups_note)
                                  : state_->subgroups,
        activations_ == Activations::kF32
            ? "f32"
            : fmt::format("f32 ({} requested; computed as f32)", ActivationsName(activations_)));
  }
  BackendLoadInfo load_info() const override {
    BackendLoadInfo info;
    info.has_cache = true;
    info.cache_warm = state_->built.from_cache;
    info.cache_path = state_->built.cache_file;
    return info;
  }
  StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph, const WeightSource& weights) override {
    auto exe = std::make_unique<ClExecutable>(graph, state_);
    TLM_RETURN_IF_ERROR(exe->Compile(weights));
    return std::unique_ptr<Executable>(std::move(exe));
  }
  StatusOr<std::unique_ptr<KvCache>> CreateKvCache(const KvSpec& spec) override {
    for (const KvLayerSpec& l : spec.layers)
      if (l.capacity < 0 || l.n_kv_head < 0 || l.head_dim < 0) return InvalidArgument("negative KV cache dimension");
    auto kv = std::make_unique<ClKvCache>(state_, spec);
    TLM_RETURN_IF_ERROR(kv->Init());
    return std::unique_ptr<KvCache>(std::move(kv));
  }

 private:
  std::shared_ptr<ClState> state_;
  Activations activations_;
};

const bool kRegistered = RegisterBackend({
    .name = "opencl",
    .description = "OpenCL GPU/accelerator (JIT kernels, program-binary cache); opencl:N or opencl:<name>",
    .probe =
        [] {
          auto devices = ListDevices();
          return devices.ok() ? Status::Ok() : devices.status();
        },
    .create = [](const BackendOptions& options) -> StatusOr<std::unique_ptr<Backend>> {
      auto state = CreateState(options.device);
      if (!state.ok()) return state.status();
      return std::unique_ptr<Backend>(std::make_unique<ClBackend>(std::move(state).value(), options.activations));
    },
});

}  // namespace
}  // namespace tlm::opencl

// The `npu` backend: loads a vendor plugin (kernels/npu/loader), takes its compiled matmuls from an AOT
// artifact (kernels/npu/artifact) or compiles them in-process, and runs the CPU backend's executable with
// those matmuls routed through the plugin's dispatch API (CpuBackendHooks). Matmuls the plugin left out,
// and every other op, run on the CPU.
//
// Each taken matmul is a blob for one token row [1, k]: a step of T rows invokes it T times. The host
// quantizes each row symmetrically with its own scale (int8, or int16 with int32-safe headroom), the
// plugin returns acc * channel_scale as float32, and the host multiplies by the row's scale.
//
// A plugin's output lands in a staging row followed by a canary, never in the engine's activations:
// a plugin that writes past the size it was given, or whose call fails, fails the step with an error
// that names the plugin, the matmul and what it did, instead of corrupting the engine's memory.
#include "kernels/npu/backend/npu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/common/sha256.h"
#include "engine/model/model.h"
#include "kernels/cpu/backend/cpu_backend.h"
#include "kernels/npu/artifact/npu_artifact.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {
namespace {

// One taken matmul, loaded into its own plugin context.
struct NpuMatMul {
  std::shared_ptr<NpuPlugin> plugin;  // keeps the library loaded while the context lives
  TlmNpuContext* context = nullptr;
  NpuArtifactOp op;
  NpuActivations activations = NpuActivations::kInt16;
  int32_t qmax = 127;
  std::mutex mu;
  std::vector<int8_t> x8;
  std::vector<int16_t> x16;
  std::vector<float> y;  // staging row: n floats, then the canary
  uint64_t last_modelled_ns = 0, last_modelled_cycles = 0;
  ~NpuMatMul() {
    if (context != nullptr) plugin->api().destroy_context(context);
  }
};

struct NpuState {
  std::shared_ptr<NpuPlugin> plugin;
  std::string soc;
  NpuActivations activations = NpuActivations::kInt16;
  std::optional<NpuArtifact> artifact;
  bool model_checked = false;
  std::string cpu_description;
  std::mutex mu;  // guards everything below and `stats`
  std::map<std::string, std::shared_ptr<NpuMatMul>> loaded;
  NpuBackendStats stats;
  std::string fault;  // the first plugin fault since the step began; fails that step
};

// 64 bytes after each staging row, as a float bit pattern no plugin computes by accident.
constexpr size_t kCanaryFloats = 16;
constexpr uint32_t kCanaryBits = 0x7fc0dead;  // a quiet NaN with a payload

float CanaryValue() {
  float f;
  std::memcpy(&f, &kCanaryBits, sizeof(f));
  return f;
}

bool CanaryIntact(const std::vector<float>& y, int64_t n) {
  for (size_t i = static_cast<size_t>(n); i < y.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &y[i], sizeof(bits));
    if (bits != kCanaryBits) return false;
  }
  return true;
}

Status LoadMatMul(NpuState& state, const NpuArtifactOp& op, std::shared_ptr<NpuMatMul>* out) {
  auto m = std::make_shared<NpuMatMul>();
  m->plugin = state.plugin;
  m->op = op;
  m->activations = state.activations;
  m->qmax = NpuActivationMax(state.activations, op.k);
  const TlmNpuPluginApi& api = state.plugin->api();
  TLM_RETURN_IF_ERROR(state.plugin->Check(api.create_context(state.soc.c_str(), &m->context), "create_context"));
  const NpuArtifact& art = *state.artifact;
  if (art.bytes.size() < op.blob_offset + op.blob_size)
    return Internal("{}: the artifact's bytes were released before this matmul was loaded", op.label);
  TLM_RETURN_IF_ERROR(
      state.plugin->Check(api.load_blob(m->context, art.blob(op), op.blob_size), "load_blob").WithContext(op.label));
  if (state.activations == NpuActivations::kInt8)
    m->x8.resize(static_cast<size_t>(op.k));
  else
    m->x16.resize(static_cast<size_t>(op.k));
  m->y.assign(static_cast<size_t>(op.n) + kCanaryFloats, CanaryValue());
  *out = std::move(m);
  return Status::Ok();
}

// y[rows, n] = x[rows, k] * W through the plugin, one invoke per row. The MatMulFn contract has no
// error path: a failing call or an overrun fills the rows with NaN and records the fault in `state`,
// which NpuExecutable::Run turns into the step's error.
void RunMatMul(NpuState& state, NpuMatMul& m, const float* x, int64_t rows, float* y) {
  std::lock_guard<std::mutex> lock(m.mu);
  const TlmNpuPluginApi& api = m.plugin->api();
  const int64_t k = m.op.k, n = m.op.n;
  const size_t out_bytes = static_cast<size_t>(n) * sizeof(float);
  uint64_t wall = 0, modelled = 0, cycles = 0;
  std::string fault;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * k;
    float* yr = y + r * n;
    float amax = 0;
    for (int64_t e = 0; e < k; ++e) amax = std::max(amax, std::fabs(xr[e]));
    const float scale = amax > 0 && std::isfinite(amax) ? amax / static_cast<float>(m.qmax) : 1.f;
    const float inv = 1.f / scale;
    const void* xq = nullptr;
    size_t xq_bytes = 0;
    if (m.activations == NpuActivations::kInt8) {
      for (int64_t e = 0; e < k; ++e) m.x8[e] = static_cast<int8_t>(std::lrintf(xr[e] * inv));
      xq = m.x8.data();
      xq_bytes = m.x8.size();
    } else {
      for (int64_t e = 0; e < k; ++e) m.x16[e] = static_cast<int16_t>(std::lrintf(xr[e] * inv));
      xq = m.x16.data();
      xq_bytes = m.x16.size() * 2;
    }
    TlmNpuMetrics metrics{};
    metrics.struct_size = sizeof(metrics);
    const char* call = nullptr;
    int code = TLM_NPU_OK;
    auto check = [&](const char* name, int c) {
      if (call == nullptr && c != TLM_NPU_OK) call = name, code = c;
      return call == nullptr;
    };
    check("bind_input", api.bind_input(m.context, 0, xq, xq_bytes)) &&
        check("bind_output", api.bind_output(m.context, 0, m.y.data(), out_bytes)) &&
        check("invoke", api.invoke(m.context)) && check("synchronize", api.synchronize(m.context)) &&
        check("get_metrics", api.get_metrics(m.context, UINT32_MAX, &metrics));
    if (!CanaryIntact(m.y, n)) {
      if (fault.empty())
        fault = fmt::format("npu plugin '{}' wrote past the end of its {}-byte output buffer in matmul '{}'",
                            m.plugin->api().plugin_name, out_bytes, m.op.label);
      std::fill(m.y.begin() + n, m.y.end(), CanaryValue());
      call = call ? call : "output";
    } else if (call != nullptr && fault.empty()) {
      fault = fmt::format("npu plugin '{}': {} failed with status {} in matmul '{}'", m.plugin->api().plugin_name,
                          call, code, m.op.label);
    }
    if (call != nullptr) {
      std::fill(yr, yr + n, std::numeric_limits<float>::quiet_NaN());
      continue;
    }
    for (int64_t o = 0; o < n; ++o) yr[o] = m.y[static_cast<size_t>(o)] * scale;
    wall += metrics.wall_ns;
    modelled += metrics.modelled_ns;
    cycles += metrics.modelled_cycles;
    m.last_modelled_ns = metrics.modelled_ns;
    m.last_modelled_cycles = metrics.modelled_cycles;
  }
  std::lock_guard<std::mutex> stats_lock(state.mu);
  NpuBackendStats& s = state.stats;
  if (state.fault.empty()) state.fault = std::move(fault);
  s.npu_invokes += static_cast<uint64_t>(rows);
  s.npu_wall_ns += wall;
  s.npu_modelled_ns += modelled;
  s.npu_modelled_cycles += cycles;
  s.modelled_ns_per_token = 0;
  s.modelled_cycles_per_token = 0;
  for (const auto& [name, op] : state.loaded) {
    s.modelled_ns_per_token += op->last_modelled_ns;
    s.modelled_cycles_per_token += op->last_modelled_cycles;
  }
}

// The CPU executable with the plugin's matmuls routed in; a plugin fault during a step fails it.
class NpuExecutable final : public Executable {
 public:
  NpuExecutable(std::shared_ptr<NpuState> state, std::unique_ptr<Executable> cpu)
      : state_(std::move(state)), cpu_(std::move(cpu)) {}
  Status Run(const StepInput& input, KvCache& kv, std::span<float> logits) override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->fault.clear();
    }
    Status st = cpu_->Run(input, kv, logits);
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->fault.empty()) return Internal("{}", state_->fault);
    return st;
  }

 private:
  std::shared_ptr<NpuState> state_;
  std::unique_ptr<Executable> cpu_;
};

class NpuBackend final : public Backend {
 public:
  NpuBackend(std::shared_ptr<NpuState> state, std::unique_ptr<Backend> cpu)
      : state_(std::move(state)), cpu_(std::move(cpu)) {}

  std::string name() const override { return "npu"; }

  std::string device_description() const override {
    std::lock_guard<std::mutex> lock(state_->mu);
    const NpuBackendStats& s = state_->stats;
    std::string from = s.from_artifact ? fmt::format("artifact {}", s.artifact_sha256.substr(0, 12))
                                       : std::string("compiled in-process, no artifact");
    std::string out =
        fmt::format("npu ({} {} on {}, {}; {} activations; matmuls: {} on the NPU, {} on the CPU", s.plugin,
                    s.plugin_version, s.soc, from, s.activations, s.matmuls_on_npu, s.matmuls_on_cpu);
    if (s.modelled_ns_per_token > 0)
      out += fmt::format("; modelled {:.3f} ms, {} cycles per token", s.modelled_ns_per_token / 1e6,
                         s.modelled_cycles_per_token);
    return out + fmt::format("; other ops: {})", state_->cpu_description);
  }

  std::vector<BackendMetric> metrics() const override {
    std::lock_guard<std::mutex> lock(state_->mu);
    const NpuBackendStats& s = state_->stats;
    std::vector<BackendMetric> out = {
        {"npu_matmuls_on_npu", static_cast<double>(s.matmuls_on_npu), "count"},
        {"npu_matmuls_on_cpu", static_cast<double>(s.matmuls_on_cpu), "count"},
        {"npu_invokes", static_cast<double>(s.npu_invokes), "count"},
    };
    if (s.modelled_ns_per_token > 0) {
      out.push_back({"npu_modelled_ms_per_token", s.modelled_ns_per_token / 1e6, "ms"});
      out.push_back({"npu_modelled_cycles_per_token", static_cast<double>(s.modelled_cycles_per_token), "count"});
    }
    if (s.npu_invokes > 0) out.push_back({"npu_wall_ms", s.npu_wall_ns / 1e6, "ms"});
    return out;
  }

  StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph, const WeightSource& weights) override {
    TLM_RETURN_IF_ERROR(PrepareArtifact(graph, weights));
    auto exe = cpu_->Compile(graph, weights);
    if (!exe.ok()) return exe.status();
    // Once every blob sits in a plugin context, the file's bytes are a second copy: let them go.
    std::lock_guard<std::mutex> lock(state_->mu);
    NpuArtifact& art = *state_->artifact;
    if (static_cast<int>(state_->loaded.size()) == art.header.ops_taken()) std::vector<uint8_t>().swap(art.bytes);
    return std::unique_ptr<Executable>(std::make_unique<NpuExecutable>(state_, std::move(exe).value()));
  }

  StatusOr<std::unique_ptr<KvCache>> CreateKvCache(const KvSpec& spec) override { return cpu_->CreateKvCache(spec); }

  const NpuBackendStats& stats() const { return state_->stats; }

 private:
  // Before the first graph compiles: compile in-process, or check the artifact against the model.
  Status PrepareArtifact(const Graph& graph, const WeightSource& weights) {
    NpuState& st = *state_;
    if (!st.artifact) {
      NpuCompileOptions co;
      co.soc = st.soc;
      co.activations = st.activations;
      TLM_ASSIGN_OR_RETURN(NpuArtifact art, CompileNpuArtifact(graph, weights, *st.plugin, co));
      st.artifact = std::move(art);
      st.model_checked = true;
    } else if (!st.model_checked) {
      const auto* model = dynamic_cast<const Model*>(&weights);
      if (model == nullptr)
        return Unimplemented(
            "the npu backend checks an artifact against its model file; these weights are not a loaded model");
      const std::string sha = Sha256Hex(model->file().base(), model->file().size());
      TLM_RETURN_IF_ERROR(
          CheckNpuArtifactMatches(st.artifact->header, sha, st.plugin->api(), st.soc).WithContext(st.artifact->path));
      st.model_checked = true;
    }
    const NpuArtifactHeader& h = st.artifact->header;
    for (const Node* node : NpuMatMulNodes(graph)) {
      const NpuArtifactOp* op = h.Find(node->weight);
      const int64_t k = graph.nodes[node->inputs[0]].width;
      if (op == nullptr)
        return InvalidArgument("{}: artifact has no entry for matmul '{}' (compiled for another model or graph)",
                               st.artifact->path, node->weight);
      if (op->k != k || op->n != node->width)
        return InvalidArgument("{}: artifact has matmul '{}' as [{}, {}], the graph needs [{}, {}]", st.artifact->path,
                               node->weight, op->k, op->n, k, node->width);
    }
    std::lock_guard<std::mutex> lock(st.mu);
    st.stats.matmuls_on_npu = h.ops_taken();
    st.stats.matmuls_on_cpu = h.ops_left_out();
    st.stats.from_artifact = !st.artifact->path.empty();
    st.stats.artifact_sha256 = st.artifact->sha256;
    return Status::Ok();
  }

  std::shared_ptr<NpuState> state_;
  std::unique_ptr<Backend> cpu_;
};

// "npu:vnpu", "npu:vnpu:vnpu-large" or "npu:plugin=vnpu,soc=vnpu-large,artifact=F,activations=int8": the device part of
// a backend spec, so that scenario matrices (which carry a backend string) can target a plugin and SoC.
Status ApplyDeviceSpec(const std::string& device, NpuBackendOptions* npu) {
  if (device.empty()) return Status::Ok();
  if (device.find('=') == std::string::npos) {  // "vnpu" or "vnpu:vnpu-large"
    const size_t colon = device.find(':');
    npu->plugin = device.substr(0, colon);
    if (colon != std::string::npos) npu->soc = device.substr(colon + 1);
    return Status::Ok();
  }
  size_t begin = 0;
  while (begin <= device.size()) {
    size_t end = device.find(',', begin);
    if (end == std::string::npos) end = device.size();
    const std::string item = device.substr(begin, end - begin);
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      return InvalidArgument(
          "backend npu: '{}' in 'npu:{}' is not key=value (keys: plugin, soc, artifact, plugin_dir, activations)", item,
          device);
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "plugin")
      npu->plugin = value;
    else if (key == "soc")
      npu->soc = value;
    else if (key == "artifact")
      npu->artifact = value;
    else if (key == "plugin_dir")
      npu->plugin_dir = value;
    else if (key == "activations")
      npu->activations = value;
    else
      return InvalidArgument(
          "backend npu: unknown key '{}' in 'npu:{}' (keys: plugin, soc, artifact, plugin_dir, activations)", key,
          device);
    begin = end + 1;
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Backend>> CreateNpuBackend(const BackendOptions& options) {
  NpuBackendOptions npu = options.npu;
  TLM_RETURN_IF_ERROR(ApplyDeviceSpec(options.device, &npu));
  auto state = std::make_shared<NpuState>();
  if (!npu.artifact.empty()) {
    TLM_ASSIGN_OR_RETURN(NpuArtifact art, ReadNpuArtifact(npu.artifact));
    if (npu.plugin.empty()) npu.plugin = art.header.plugin_name;
    if (npu.soc.empty()) npu.soc = art.header.soc;
    if (!npu.activations.empty() && npu.activations != NpuActivationsName(art.header.activations))
      return InvalidArgument("artifact {} was compiled for {} activations, not {}", npu.artifact,
                             NpuActivationsName(art.header.activations), npu.activations);
    state->activations = art.header.activations;
    state->artifact = std::move(art);
  } else {
    if (npu.plugin.empty())
      return InvalidArgument(
          "backend npu needs a plugin (--plugin vnpu) or an artifact from tlmbench compile (--artifact F)");
    if (!npu.activations.empty()) {
      TLM_ASSIGN_OR_RETURN(state->activations, ParseNpuActivations(npu.activations));
    }
  }
  const std::string dir = npu.plugin_dir.empty() ? DefaultNpuPluginDir() : npu.plugin_dir;
  TLM_ASSIGN_OR_RETURN(std::unique_ptr<NpuPlugin> plugin, LoadNpuPlugin(npu.plugin, dir));
  state->plugin = std::move(plugin);
  const TlmNpuPluginApi& api = state->plugin->api();
  if (npu.soc.empty()) npu.soc = api.socs[0];
  if (!state->plugin->SupportsSoc(npu.soc))
    return InvalidArgument("plugin '{}' does not support SoC '{}' (it supports: {})", api.plugin_name, npu.soc,
                           state->plugin->SocList());
  state->soc = npu.soc;
  if (state->artifact)  // plugin, version, ABI and SoC now; the model when the first graph compiles
    TLM_RETURN_IF_ERROR(
        CheckNpuArtifactMatches(state->artifact->header, "", api, state->soc).WithContext(npu.artifact));
  state->stats.plugin = api.plugin_name;
  state->stats.plugin_version = api.plugin_version;
  state->stats.soc = state->soc;
  state->stats.activations = NpuActivationsName(state->activations);

  cpu::CpuBackendHooks hooks;
  hooks.name = "npu";
  std::weak_ptr<NpuState> weak = state;
  hooks.matmul = [weak](const Node& node, int64_t, const WeightView& weight) -> StatusOr<cpu::MatMulFn> {
    std::shared_ptr<NpuState> st = weak.lock();
    if (!st || !st->artifact) return Internal("{}: the npu backend has no artifact", node.label);
    const NpuArtifactOp* op = st->artifact->header.Find(weight.name);
    if (op == nullptr) return Internal("{}: matmul '{}' is not in the artifact", node.label, weight.name);
    if (!op->taken) return cpu::MatMulFn();  // left out: the CPU kernels run it
    std::shared_ptr<NpuMatMul> m;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      if (auto it = st->loaded.find(op->weight); it != st->loaded.end()) m = it->second;
    }
    if (!m) {
      TLM_RETURN_IF_ERROR(LoadMatMul(*st, *op, &m));
      std::lock_guard<std::mutex> lock(st->mu);
      st->loaded.emplace(op->weight, m);
    }
    NpuState* raw = st.get();  // the backend owns the state and outlives its executables
    return cpu::MatMulFn([raw, m](const float* x, int64_t rows, float* y) { RunMatMul(*raw, *m, x, rows, y); });
  };
  BackendOptions cpu_options = options;
  cpu_options.device.clear();
  TLM_ASSIGN_OR_RETURN(std::unique_ptr<Backend> cpu, cpu::CreateCpuBackend(cpu_options, std::move(hooks)));
  state->cpu_description = cpu->device_description();
  return std::unique_ptr<Backend>(std::make_unique<NpuBackend>(std::move(state), std::move(cpu)));
}

const bool kRegistered = RegisterBackend({
    .name = "npu",
    .description = "NPU vendor plugin (--plugin, --soc, --artifact) for the matmuls it takes, CPU for the rest",
    .probe = [] { return Status::Ok(); },
    .create = CreateNpuBackend,
});

}  // namespace

const NpuBackendStats* NpuBackendStatsOf(const Backend& backend) {
  const auto* npu = dynamic_cast<const NpuBackend*>(&backend);
  return npu != nullptr ? &npu->stats() : nullptr;
}

}  // namespace tlm

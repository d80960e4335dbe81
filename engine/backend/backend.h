// The backend interface: a backend compiles a Graph into an Executable (JIT for CPU/GPU, or from
// an AOT artifact for NPUs) and runs it against a KV-cache state it owns. Backends register
// themselves by name; adding one touches no file outside its own folder.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/graph/graph.h"
#include "engine/tensor/dtype.h"

namespace tlm {

// A weight tensor as the model file holds it (typically a view into the mmap).
struct WeightView {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> dims;  // dims[0] innermost
  const void* data = nullptr;
  uint64_t bytes = 0;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual const WeightView* Find(std::string_view name) const = 0;
  // A backend that keeps its own copy of [data, data + bytes) (a weight or part of one) and
  // will not read these bytes again soon: a source that maps them from a file drops the whole
  // pages inside from this process's memory. They stay readable: a later read maps them back
  // from the page cache. The default keeps them.
  virtual void ReleaseResidency(const void* /*data*/, uint64_t /*bytes*/) const {}
};

struct KvLayerSpec {
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;
  int64_t capacity = 0;  // positions kept: n_ctx for global layers, the window for sliding ones
  int64_t window = 0;
};

struct KvSpec {
  std::vector<KvLayerSpec> layers;
  int64_t n_ctx = 0;
};
// The KV layout a graph needs for a context of n_ctx positions.
KvSpec KvSpecFor(const Graph& graph, int64_t n_ctx);

class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual uint64_t bytes() const = 0;
  virtual void Clear() = 0;
};

struct StepInput {
  std::span<const int32_t> tokens;
  int64_t pos0 = 0;  // position of tokens[0]
};

class Executable {
 public:
  virtual ~Executable() = default;
  // Runs the graph for `input.tokens` (1..max_tokens) and writes the output rows (the logits)
  // into `logits`, which must hold rows * n_vocab floats.
  virtual Status Run(const StepInput& input, KvCache& kv, std::span<float> logits) = 0;
};

// How matmuls treat activations against quantized weights: kF32 multiplies f32 activations by
// the dequantized weights (the exact reference); kQ8 quantizes activations to 8-bit blocks first,
// as llama.cpp and the fast kernels do (faster, slightly less accurate); kQ8x2 adds a second
// 8-bit pass over what that rounding left (x - d * q, quantized the same way), through the same
// integer kernels: about 15 bits of activation, twice the integer work.
enum class Activations { kF32, kQ8, kQ8x2 };

// "f32", "q8", "q8x2": the names the CLI, scenarios and the dataset use.
const char* ActivationsName(Activations a);
// Parses one of those names; false for anything else.
bool ParseActivations(std::string_view name, Activations* out);
// All of those names, in the enum's order (for option checks and messages).
const std::vector<std::string>& ActivationsNames();

// The npu backend's vendor plugin, SoC and ahead-of-time artifact (`--plugin`, `--soc`, `--artifact`).
struct NpuBackendOptions {
  std::string plugin;       // a name (vnpu) or file in plugin_dir; empty: the artifact's plugin
  std::string soc;          // empty: the artifact's SoC, else the plugin's first
  std::string artifact;     // a file from `tlmbench compile`; empty: compile in-process at load
  std::string plugin_dir;   // empty: $TLMBENCH_PLUGIN_DIR, else <folder of the binary>/../plugins
  std::string activations;  // in-process compile: int8 or int16 (empty: int16)
};

struct BackendOptions {
  int threads = 0;  // 0: all cores
  std::string device;  // the part after "name:" in a backend spec, e.g. "1" in "opencl:1"
  Activations activations = Activations::kF32;
  bool pin_threads = false;  // bind each worker thread to one CPU
  bool profile_ops = false;  // time every step of Executable::Run by op (Backend::op_profile)
  NpuBackendOptions npu;     // only the npu backend reads these
};

// Wall time of Executable::Run's steps, summed by op and by phase: steps of one token (decode)
// or of several (prefill). A matmul step of several matmuls that read one input is one entry.
struct OpTime {
  std::string op;  // "attention", "rms_norm", "matmul q5_0 + q5_0", "matmul q8_0 (output)", ...
  bool one_token = false;
  int64_t calls = 0;
  double ms = 0;
};

// What a backend says about its own start-up. GPU backends keep compiled programs (OpenCL program
// binaries, a Vulkan pipeline cache) on disk: a cold start compiles, a warm one loads.
struct BackendLoadInfo {
  bool has_cache = false;   // this backend keeps an on-disk program or pipeline cache
  bool cache_warm = false;  // everything compiled so far came from that cache
  std::string cache_path;
  // Weights repacked at compile into a kernel's own layout (the cpu backend's decode GEMVs):
  // the time it took, the bytes of the packed copies (anonymous memory, beside the mapped
  // model) and the layouts ("q5_0x8"); zero and empty when nothing was repacked.
  double repack_ms = 0;
  uint64_t repack_bytes = 0;
  std::string repack_layouts;
};

// A backend's own figure for the dataset, e.g. the npu backend's modelled NPU time per token.
struct BackendMetric {
  std::string name;  // snake_case with its unit, as engine/common/metric_names.h
  double value = 0;
  std::string unit;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual std::string device_description() const = 0;
  // Read after Compile(): cache_warm covers the executables compiled so far.
  virtual BackendLoadInfo load_info() const { return {}; }
  // Read after a run: figures only this backend has (none by default).
  virtual std::vector<BackendMetric> metrics() const { return {}; }
  // With BackendOptions::profile_ops, the step times since creation or the last clear, in the
  // order the ops were first run; empty for a backend that does not time its steps (only the
  // cpu backends do) or without profile_ops.
  virtual std::vector<OpTime> op_profile() const { return {}; }
  virtual void ClearOpProfile() {}
  virtual StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph,
                                                        const WeightSource& weights) = 0;
  virtual StatusOr<std::unique_ptr<KvCache>> CreateKvCache(const KvSpec& spec) = 0;
};

struct BackendRegistration {
  std::string name;         // "cpu", "opencl", ...
  std::string description;
  // Why the backend cannot run here, or OK. Never crashes on a machine without the device.
  std::function<Status()> probe;
  std::function<StatusOr<std::unique_ptr<Backend>>(const BackendOptions&)> create;
};

// Called from a static initializer in each backend's folder.
bool RegisterBackend(BackendRegistration registration);
std::vector<const BackendRegistration*> RegisteredBackends();
// spec: "name" or "name:device". Unknown names list the registered ones.
StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view spec, BackendOptions options);

}  // namespace tlm

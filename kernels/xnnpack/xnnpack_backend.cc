// The cpu-xnnpack backend: the CPU backend's executable (KV cache, attention, norms, RoPE,
// activations) with every matmul run as an XNNPACK f32 fully-connected operator. Weights are
// dequantized to f32 and packed by XNNPACK once, when the first graph that uses them compiles;
// the prefill and decode graphs share the packed operators.
//
// Debian's libxnnpack (0.0~git20220216) offers fully-connected operators for f32, f16 (f16
// activations too) and statically quantized qs8/qu8 (a fixed activation scale per tensor, which a
// language model's activations do not have); it has no dynamically quantized qd8 operator and no
// weights-cache API. So this backend is f32 only and XNNPACK packs at every load; the optional
// on-disk cache (`cpu-xnnpack:cache`, weight_cache.h) keeps the dequantized f32 rows it packs
// from, so a warm load skips the dequantization.
#include <xnnpack.h>
#include <pthreadpool.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "kernels/cpu/backend/cpu_backend.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/quant.h"
#include "kernels/xnnpack/weight_cache.h"

namespace tlm::xnnpack {
namespace {

const char* XnnStatusName(xnn_status s) {
  switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
  }
  return "unknown status";
}

Status InitializeXnnpack() {
  static const xnn_status status = xnn_initialize(nullptr);
  if (status != xnn_status_success) return Unavailable("xnn_initialize failed: {}", XnnStatusName(status));
  return Status::Ok();
}

// The packed weights of one matrix: an XNNPACK f32 fully-connected operator.
struct PackedMatMul {
  xnn_operator_t op = nullptr;
  int64_t k = 0, n = 0;
  ~PackedMatMul() {
    if (op != nullptr) xnn_delete_operator(op);
  }
};

// State shared by the backend and the matmul functions of its executables.
struct XnnState {
  pthreadpool_t pool = nullptr;
  int threads = 1;
  std::mutex mu;  // guards the fields below (compile only)
  std::map<std::tuple<const void*, int64_t, int64_t>, std::shared_ptr<PackedMatMul>> packed;
  uint64_t packed_bytes = 0;  // f32 weights handed to XNNPACK (its packed copy is this size plus padding)
  double pack_ms = 0;
  std::optional<WeightCache> cache;  // `cpu-xnnpack:cache`: quantized weights' f32 rows on disk
  int cache_hits = 0, cache_misses = 0;
  ~XnnState() {
    packed.clear();
    if (pool != nullptr) pthreadpool_destroy(pool);
  }
};

StatusOr<std::shared_ptr<PackedMatMul>> Pack(XnnState& state, const Node& node, int64_t k, const WeightView& w) {
  std::lock_guard<std::mutex> lock(state.mu);
  const int64_t n = node.width;
  const auto key = std::make_tuple(w.data, k, n);
  if (auto it = state.packed.find(key); it != state.packed.end()) return it->second;
  const auto start = std::chrono::steady_clock::now();
  uint64_t row_bytes = 0;
  if (!ElemsToBytes(w.type, static_cast<uint64_t>(k), &row_bytes) || row_bytes * n > w.bytes)
    return InvalidArgument("{}: weight '{}' ({}) is too small for [{}, {}]", node.label, w.name, DTypeName(w.type), k, n);
  const auto* src = static_cast<const uint8_t*>(w.data);
  // f32 weights go to XNNPACK as they are; others are dequantized, or mapped from the cache.
  const float* rows = w.type == DType::kF32 ? static_cast<const float*>(w.data) : nullptr;
  std::unique_ptr<MappedWeights> cached;
  std::optional<WeightKey> cache_key;
  if (rows == nullptr && state.cache) {
    cache_key = WeightKey{
        .type = w.type, .k = k, .n = n, .source_bytes = row_bytes * n, .source_hash = HashBytes(src, row_bytes * n)};
    cached = state.cache->Find(*cache_key);
    if (cached != nullptr) {
      rows = cached->data();
      state.cache_hits++;
    }
  }
  std::vector<float> f32;
  if (rows == nullptr) {
    try {
      f32.resize(static_cast<size_t>(k * n));
    } catch (const std::bad_alloc&) {
      return ResourceExhausted("{}: no memory to dequantize weight '{}' [{}, {}] to f32", node.label, w.name, k, n);
    }
    cpu::DequantizeRowFn dequantize = cpu::SelectCpuKernels().DequantizeRowFor(w.type);
    for (int64_t o = 0; o < n; ++o) {
      if (dequantize != nullptr)
        dequantize(src + o * row_bytes, f32.data() + o * k, k);
      else
        cpu::ref::DequantizeRow(w.type, src + o * row_bytes, f32.data() + o * k, k);
    }
    rows = f32.data();
    if (cache_key) {
      state.cache_misses++;
      if (Status s = state.cache->Store(*cache_key, rows); !s.ok())
        return Status(s.code(), fmt::format("{}: {}", node.label, s.message()));
    }
  }
  auto packed = std::make_shared<PackedMatMul>();
  packed->k = k;
  packed->n = n;
  // GGUF stores the weight {k, n} with k innermost: n rows of k, XNNPACK's [output, input] layout.
  const xnn_status s =
      xnn_create_fully_connected_nc_f32(static_cast<size_t>(k), static_cast<size_t>(n), static_cast<size_t>(k),
                                        static_cast<size_t>(n), rows, nullptr, -INFINITY, INFINITY, 0, &packed->op);
  if (s != xnn_status_success)
    return Internal("{}: xnn_create_fully_connected_nc_f32 for weight '{}' [{}, {}] failed: {}", node.label, w.name, k, n,
                    XnnStatusName(s));
  state.packed_bytes += static_cast<uint64_t>(k * n) * sizeof(float);
  state.pack_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  state.packed.emplace(key, packed);
  return packed;
}

StatusOr<std::unique_ptr<Backend>> CreateXnnpackBackend(const BackendOptions& options) {
  TLM_RETURN_IF_ERROR(InitializeXnnpack());
  auto state = std::make_shared<XnnState>();
  state->threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (options.threads < 0 || state->threads > 1024) return InvalidArgument("--threads {} is out of range", options.threads);
  state->threads = std::max(1, state->threads);
  // `cpu-xnnpack:cache` (the default folder) or `cpu-xnnpack:cache=DIR`.
  if (options.device == "cache") {
    state->cache.emplace(DefaultWeightCacheDir());
  } else if (options.device.rfind("cache=", 0) == 0 && options.device.size() > 6) {
    state->cache.emplace(options.device.substr(6));
  } else if (!options.device.empty()) {
    return InvalidArgument("backend cpu-xnnpack: unknown option '{}' in 'cpu-xnnpack:{}' (options: cache, cache=DIR)",
                           options.device, options.device);
  }
  if (state->cache) TLM_RETURN_IF_ERROR(state->cache->MakeFolder());
  state->pool = pthreadpool_create(static_cast<size_t>(state->threads));
  if (state->pool == nullptr) return Internal("pthreadpool_create({}) failed", state->threads);
  cpu::CpuBackendHooks hooks;
  hooks.name = "cpu-xnnpack";
  hooks.describe = [state, pin = options.pin_threads] {
    std::lock_guard<std::mutex> lock(state->mu);
    std::string cache;
    if (state->cache)
      cache = fmt::format("; weight cache {}: {} of {} from it", state->cache->dir(), state->cache_hits,
                          state->cache_hits + state->cache_misses);
    return fmt::format(
        "cpu-xnnpack (XNNPACK f32 fully-connected, {} threads{}; {} weights, {:.1f} MiB f32 packed in {:.0f} ms{})",
        state->threads, pin ? ", cpu pool pinned" : "", state->packed.size(),
        static_cast<double>(state->packed_bytes) / (1 << 20), state->pack_ms, cache);
  };
  hooks.load_info = [state] {
    std::lock_guard<std::mutex> lock(state->mu);
    BackendLoadInfo info;
    info.repack_ms = state->pack_ms;
    info.repack_bytes = state->packed_bytes;
    if (state->packed_bytes > 0) info.repack_layouts = "xnnpack-f32";
    if (state->cache) {
      info.has_cache = true;
      info.cache_warm = state->cache_misses == 0 && state->cache_hits > 0;
      info.cache_path = state->cache->dir();
    }
    return info;
  };
  hooks.matmul = [state](const Node& node, int64_t k, const WeightView& w) -> StatusOr<cpu::MatMulFn> {
    auto packed = Pack(*state, node, k, w);
    if (!packed.ok()) return packed.status();
    std::shared_ptr<PackedMatMul> p = std::move(packed).value();
    return cpu::MatMulFn([state, p](const float* x, int64_t rows, float* y) {
      // Setup and run do not fail for a created operator and a positive batch; if they ever do,
      // NaN logits make it visible rather than stale numbers.
      if (xnn_setup_fully_connected_nc_f32(p->op, static_cast<size_t>(rows), x, y, state->pool) != xnn_status_success ||
          xnn_run_operator(p->op, state->pool) != xnn_status_success)
        std::fill(y, y + rows * p->n, std::numeric_limits<float>::quiet_NaN());
    });
  };
  // The non-matmul ops run on the calling thread: a second pool of spinning workers beside
  // pthreadpool's fights it for the cores (on 2 cores, 2+2 threads made decode 9x slower than 1).
  BackendOptions cpu_options = options;
  cpu_options.threads = 1;
  cpu_options.device.clear();
  return cpu::CreateCpuBackend(cpu_options, std::move(hooks));
}

const bool kRegistered = RegisterBackend({
    .name = "cpu-xnnpack",
    .description = "CPU with matmuls through XNNPACK (f32 fully-connected, weights packed at load; "
                   "cpu-xnnpack:cache keeps their f32 rows on disk)",
    .probe = [] { return InitializeXnnpack(); },
    .create = CreateXnnpackBackend,
});

}  // namespace
}  // namespace tlm::xnnpack

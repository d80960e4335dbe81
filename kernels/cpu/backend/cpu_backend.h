// The CPU backend as a building block for other CPU backends (cpu-xnnpack): the same executable,
// KV cache and non-matmul ops, with matmuls optionally provided by another library.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/backend/backend.h"

namespace tlm::cpu {

// y[rows, n] = x[rows, k] times the weight's rows; x and y are dense f32 rows.
using MatMulFn = std::function<void(const float* x, int64_t rows, float* y)>;
// Offered every matmul node at compile, with its input width k and its (shape-checked) weight.
// Returns the function that runs it (an empty one: the CPU kernels run it), or an error that fails the compile.
using MatMulProvider = std::function<StatusOr<MatMulFn>(const Node& node, int64_t k, const WeightView& weight)>;

struct CpuBackendHooks {
  std::string name = "cpu";
  MatMulProvider matmul;  // empty: the dispatch-table kernels
  std::function<std::string()> describe;  // empty: the cpu backend's description
  // Weights the matmul provider packed at load: repack_ms, repack_bytes and repack_layouts of
  // BackendLoadInfo (empty: only the cpu backend's own packing).
  std::function<BackendLoadInfo()> load_info;
};

StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const BackendOptions& options, CpuBackendHooks hooks);

}  // namespace tlm::cpu

// The engine's `npu` backend: the CPU backend's executable with the matmuls a vendor plugin took run
// through the plugin's dispatch API from an AOT artifact (or one compiled in-process), and every other
// op (and every matmul the plugin left out) on the CPU.
#pragma once

#include <cstdint>
#include <string>

#include "engine/backend/backend.h"

namespace tlm {

// What ran where, and the plugin's own cost figures. Read through NpuBackendStatsOf().
struct NpuBackendStats {
  int matmuls_on_npu = 0;        // distinct matmuls (weights) the plugin runs
  int matmuls_on_cpu = 0;        // left out by the plugin: the CPU kernels run them
  uint64_t npu_invokes = 0;      // one per matmul per token row
  uint64_t npu_wall_ns = 0;      // time inside the plugin's invoke + synchronize
  uint64_t npu_modelled_ns = 0;  // the plugin's modelled time for those invokes
  uint64_t npu_modelled_cycles = 0;
  // Modelled time of one token through every NPU matmul (each op's last invoke, summed).
  uint64_t modelled_ns_per_token = 0;
  uint64_t modelled_cycles_per_token = 0;
  bool from_artifact = false;  // false: compiled in-process when the model loaded
  std::string artifact_sha256;
  std::string plugin, plugin_version, soc, activations;
};

// The stats of an npu backend; nullptr for any other backend.
const NpuBackendStats* NpuBackendStatsOf(const Backend& backend);

}  // namespace tlm

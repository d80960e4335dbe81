// `tlmbench compile --plugin P --soc S --model M -o ARTIFACT`: ahead-of-time compilation of a model's
// matmuls by an NPU plugin into one content-addressed artifact (kernels/npu/artifact/), and the
// --plugin/--soc/--artifact/--plugin-dir options that `run` and `generate` share for `--backend npu`.
#pragma once

#include <CLI/CLI.hpp>

#include "engine/backend/backend.h"

namespace tlm {

void RegisterCompileCommand(CLI::App& app);

// Adds --plugin, --soc, --artifact, --plugin-dir and --npu-activations to a command that opens a session.
void AddNpuBackendOptions(CLI::App* cmd, NpuBackendOptions* npu);

}  // namespace tlm

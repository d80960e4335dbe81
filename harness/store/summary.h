// The end-of-sweep summary the controller prints: one aligned row per run of a sweep.
#pragma once

#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "harness/store/dataset.h"

namespace tlm {

// A header line for the sweep, then one row per run: device, model (file name without .gguf),
// backend, threads, n_prompt, n_gen, activations, status, verdict, and the medians over the run's
// samples of prefill_tps, decode_tps and ttft_ms (plus ppl, kld_mean, top1_agree when any run has
// them; "-" where a run has none), then a footer line with the count of runs by status.
// NotFound when the dataset does not hold the sweep.
StatusOr<std::string> RenderSweepSummary(Dataset& dataset, std::string_view sweep_id);

}  // namespace tlm

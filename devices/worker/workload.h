// The workloads a worker process runs for one RunSpec: "generate" (speed and memory of prefill and
// decode), "accuracy" (perplexity and divergence from the CPU f32 reference over a fixed text)
// and "null" (no model: harness overhead, and stand-ins for hung or crashing runs in tests).
#pragma once

#include <functional>
#include <string>

#include "engine/common/status.h"
#include "tlmbench/v1/agent.pb.h"

namespace tlm {

// Receives progress and per-repetition samples as they happen.
using EventSink = std::function<void(const tlmbench::v1::RunEvent&)>;

// Runs spec's workload against the model file at model_path (already confined and resolved by the
// agent; ignored by "null"). On success the result has status OK and every sample; hygiene,
// verdict, timestamps and the agent's facts are filled by the agent.
StatusOr<tlmbench::v1::RunResult> RunWorkload(const tlmbench::v1::RunSpec& spec, const std::string& model_path,
                                              const EventSink& sink);

// A workload that lives above devices/ (harness/qualify's "qualify"): the tlmbench binary registers it at
// start-up of `tlmbench worker`, so that devices/ does not depend on harness/.
using WorkloadHandler = std::function<StatusOr<tlmbench::v1::RunResult>(
    const tlmbench::v1::RunSpec& spec, const std::string& model_path, const EventSink& sink)>;
void RegisterWorkload(const std::string& name, WorkloadHandler handler);

// The fixed English text the accuracy workload scores (a few hundred tokens).
std::string_view AccuracyText();

}  // namespace tlm

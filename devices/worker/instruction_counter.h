// Counts the instructions a measured repetition retires, for deterministic per-commit gates on
// noisy shared machines. Two sources: the CPU's PMU through perf_event_open (user-space
// instructions of the calling thread), or, where the kernel or a VM offers no PMU, callgrind: the
// agent then runs the worker under `valgrind --tool=callgrind --collect-atstart=no`, and each
// repetition is collected alone and dumped to a file of its own, whose total is read back here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/common/status.h"

namespace tlm {

class InstructionCounter {
 public:
  virtual ~InstructionCounter() = default;
  // Creates the counter that works in this process: callgrind when running under it (with
  // $TLM_CALLGRIND_OUT naming its --callgrind-out-file), else perf_event_open; Unavailable with
  // the reason when neither does.
  static StatusOr<std::unique_ptr<InstructionCounter>> Create();
  virtual Status Start() = 0;
  // Instructions since Start().
  virtual StatusOr<uint64_t> Stop() = 0;
  virtual std::string_view source() const = 0;  // "perf" or "callgrind"
};

// Whether perf_event_open can count instructions here (the agent asks, to choose callgrind).
Status PerfInstructionsAvailable();

// Reads the "totals:" (or "summary:") line of a callgrind output file.
StatusOr<uint64_t> ReadCallgrindTotal(const std::string& path);

}  // namespace tlm

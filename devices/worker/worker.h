// The worker process: `tlmbench worker` runs one RunSpec in a process of its own, so that a crash,
// hang or OOM of the engine kills the worker and never the agent. It reads the spec (a serialized
// RunSpec) from stdin and writes RunEvent frames (event_pipe.h) to event_fd: progress and samples,
// then one result (exit 0) or one error (exit 1).
#pragma once

#include <string>

namespace tlm {

int RunWorkerProcess(int event_fd, const std::string& model_path);

}  // namespace tlm

// Runs one qualification check in a forked worker process, so that a plugin that crashes or hangs fails
// its check instead of taking the harness down.
#pragma once

#include <functional>
#include <string>

namespace tlm {

struct IsolatedOutcome {
  bool finished = false;   // the worker exited normally with a report
  std::string report;      // what the worker wrote (its check result), when finished
  std::string failure;     // otherwise: "crashed with signal 11 (SIGSEGV)", "hung: killed after 10 s", ...
  double seconds = 0;
};

// Forks; the child runs `body`, which returns the report text, writes it to a pipe and _exits. The parent
// waits at most `timeout_s` seconds, then kills the child with SIGKILL.
IsolatedOutcome RunIsolated(const std::function<std::string()>& body, double timeout_s);

}  // namespace tlm

// `tlmbench history --metric M`: a metric's series in commit order with its change points (harness/compare/).
#pragma once

#include <CLI/CLI.hpp>

namespace tlm {

void RegisterHistoryCommand(CLI::App& app);

}  // namespace tlm

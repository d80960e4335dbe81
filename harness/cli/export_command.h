// `tlmbench export`: writes a dataset, or one sweep of it, as CSV, JSON lines or llama-bench output.
#pragma once

#include <CLI/CLI.hpp>

namespace tlm {

void RegisterExportCommand(CLI::App& app);

}  // namespace tlm

// `tlmbench report DATASET -o DIR [--title T]`: writes the static HTML dashboard of a dataset.
#pragma once

#include <CLI/CLI.hpp>

namespace tlm {

void RegisterReportCommand(CLI::App& app);

}  // namespace tlm

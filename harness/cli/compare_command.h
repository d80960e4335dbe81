// `tlmbench compare BASE CAND`: did the candidate regress against the base? (harness/compare/)
#pragma once

#include <CLI/CLI.hpp>

namespace tlm {

void RegisterCompareCommand(CLI::App& app);

}  // namespace tlm
